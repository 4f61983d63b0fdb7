package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// fakeServerSettings serves CONFIG GET and INFO from settings on a bare RESP server, like a Redis
// with those settings; refuseConfig answers CONFIG as a managed Redis that renamed it does,
// refuseInfo likewise for INFO.
func fakeServerSettings(t *testing.T, settings map[string]string, refuseConfig, refuseInfo bool) *redis.Client {
	t.Helper()
	srv, err := server.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	unknown := func(c *server.Peer, cmd string) {
		c.WriteError(fmt.Sprintf("ERR unknown command '%s', with args beginning with: ", cmd))
	}
	_ = srv.Register("PING", func(c *server.Peer, cmd string, args []string) { c.WriteInline("PONG") })
	_ = srv.Register("CONFIG", func(c *server.Peer, cmd string, args []string) {
		if refuseConfig {
			unknown(c, cmd)
			return
		}
		if len(args) != 2 || !strings.EqualFold(args[0], "GET") {
			c.WriteError("ERR syntax")
			return
		}
		v, ok := settings[args[1]]
		if !ok {
			c.WriteLen(0)
			return
		}
		c.WriteLen(2)
		c.WriteBulk(args[1])
		c.WriteBulk(v)
	})
	_ = srv.Register("INFO", func(c *server.Peer, cmd string, args []string) {
		if refuseInfo {
			unknown(c, cmd)
			return
		}
		var b strings.Builder
		for _, sec := range args {
			switch strings.ToLower(sec) {
			case "memory":
				b.WriteString("# Memory\r\nused_memory:1000\r\nmaxmemory_policy:" + settings["maxmemory-policy"] + "\r\n")
			case "persistence":
				aof := "0"
				if settings["appendonly"] == "yes" {
					aof = "1"
				}
				b.WriteString("# Persistence\r\nloading:0\r\naof_enabled:" + aof + "\r\n")
			}
		}
		c.WriteBulk(b.String())
	})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestCheckServer: the eviction policy refuses, persistence is reported, CONFIG refused falls
// back to INFO, and both refused leave the settings unchecked without an error.
func TestCheckServer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                     string
		settings                 map[string]string
		refuseConfig, refuseInfo bool
		wantErr                  string // "" = no error
		want                     ServerConfig
	}{
		{name: "noeviction, rdb", settings: map[string]string{"maxmemory-policy": "noeviction", "appendonly": "no", "save": "3600 1 300 100"},
			want: ServerConfig{Source: "CONFIG", MaxmemoryPolicy: "noeviction", RDB: true, RDBKnown: true}},
		{name: "noeviction, aof", settings: map[string]string{"maxmemory-policy": "noeviction", "appendonly": "yes", "save": ""},
			want: ServerConfig{Source: "CONFIG", MaxmemoryPolicy: "noeviction", AOF: true, RDBKnown: true}},
		{name: "noeviction, no persistence", settings: map[string]string{"maxmemory-policy": "noeviction", "appendonly": "no", "save": ""},
			want: ServerConfig{Source: "CONFIG", MaxmemoryPolicy: "noeviction", RDBKnown: true}},
		{name: "allkeys-lru", settings: map[string]string{"maxmemory-policy": "allkeys-lru", "appendonly": "yes", "save": ""},
			wantErr: "maxmemory-policy allkeys-lru", want: ServerConfig{Source: "CONFIG", MaxmemoryPolicy: "allkeys-lru", AOF: true, RDBKnown: true}},
		{name: "volatile-lru", settings: map[string]string{"maxmemory-policy": "volatile-lru", "appendonly": "no", "save": "60 1"},
			wantErr: "maxmemory-policy volatile-lru", want: ServerConfig{Source: "CONFIG", MaxmemoryPolicy: "volatile-lru", RDB: true, RDBKnown: true}},
		{name: "config refused, info", settings: map[string]string{"maxmemory-policy": "noeviction", "appendonly": "yes"}, refuseConfig: true,
			want: ServerConfig{Source: "INFO", MaxmemoryPolicy: "noeviction", AOF: true}},
		{name: "config refused, info evicts", settings: map[string]string{"maxmemory-policy": "allkeys-random", "appendonly": "no"}, refuseConfig: true,
			wantErr: "maxmemory-policy allkeys-random", want: ServerConfig{Source: "INFO", MaxmemoryPolicy: "allkeys-random"}},
		{name: "both refused", settings: map[string]string{"maxmemory-policy": "allkeys-lru"}, refuseConfig: true, refuseInfo: true,
			want: ServerConfig{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb := fakeServerSettings(t, tc.settings, tc.refuseConfig, tc.refuseInfo)
			got, err := New(rdb, Options{}).CheckServer(context.Background())
			if tc.wantErr == "" && err != nil {
				t.Fatalf("err %v", err)
			}
			if tc.wantErr != "" {
				if !errors.Is(err, ErrEvictionPolicy) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "noeviction") {
					t.Fatalf("err %v, want ErrEvictionPolicy naming %q and noeviction", err, tc.wantErr)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d configs, want 1", len(got))
			}
			g := got[0]
			if (g.Unchecked != nil) != (tc.refuseConfig) {
				t.Errorf("Unchecked %v, CONFIG refused %v", g.Unchecked, tc.refuseConfig)
			}
			g.Unchecked, g.Addr = nil, ""
			if g != tc.want {
				t.Errorf("got %+v, want %+v", g, tc.want)
			}
		})
	}
}

// TestServerConfigDurable: durable, not durable, or not known.
func TestServerConfigDurable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c              ServerConfig
		durable, known bool
	}{
		{ServerConfig{Source: "CONFIG", AOF: true, RDBKnown: true}, true, true},
		{ServerConfig{Source: "CONFIG", RDB: true, RDBKnown: true}, true, true},
		{ServerConfig{Source: "CONFIG", RDBKnown: true}, false, true},
		{ServerConfig{Source: "INFO", AOF: true}, true, true},
		{ServerConfig{Source: "INFO"}, false, false}, // INFO does not show the RDB save points
		{ServerConfig{}, false, false},
	}
	for _, tc := range cases {
		if d, k := tc.c.Durable(); d != tc.durable || k != tc.known {
			t.Errorf("%+v: Durable() = %v, %v, want %v, %v", tc.c, d, k, tc.durable, tc.known)
		}
	}
}

// TestCheckServerMiniredis: miniredis knows neither CONFIG nor INFO memory: unchecked, no error.
func TestCheckServerMiniredis(t *testing.T) {
	t.Parallel()
	got, err := New(redistest.Mini(t).Client, Options{}).CheckServer(context.Background())
	if err != nil || len(got) != 1 || got[0].Unchecked == nil || got[0].Source != "" {
		t.Fatalf("got %+v, %v; want one unchecked config and no error", got, err)
	}
}

// TestCheckServerDown: a Redis that does not answer is an error, not "unchecked".
func TestCheckServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	if _, err := New(rdb, Options{}).CheckServer(context.Background()); err == nil || errors.Is(err, ErrEvictionPolicy) {
		t.Fatalf("err %v, want a connection error", err)
	}
}

// TestCheckServerRealRedis: a real Redis with allkeys-lru is refused by name; noeviction without
// persistence is reported as not durable; with CONFIG renamed, INFO still finds the policy.
func TestCheckServerRealRedis(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		wantErr string
		source  string
		durable bool
		known   bool
	}{
		{name: "allkeys-lru", args: []string{"--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru"},
			wantErr: "maxmemory-policy allkeys-lru", source: "CONFIG", known: true},
		{name: "noeviction, no persistence", args: []string{"--save", "", "--appendonly", "no"}, source: "CONFIG", known: true},
		{name: "noeviction, aof", args: []string{"--save", "", "--appendonly", "yes"}, source: "CONFIG", durable: true, known: true},
		{name: "config renamed", args: []string{"--save", "", "--appendonly", "no", "--maxmemory-policy", "volatile-ttl", "--rename-command", "CONFIG", ""},
			wantErr: "maxmemory-policy volatile-ttl", source: "INFO"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := redistest.StartServer(t, tc.args...)
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			defer rdb.Close()
			got, err := New(rdb, Options{}).CheckServer(context.Background())
			if tc.wantErr == "" && err != nil {
				t.Fatalf("err %v", err)
			}
			if tc.wantErr != "" && (!errors.Is(err, ErrEvictionPolicy) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), addr)) {
				t.Fatalf("err %v, want ErrEvictionPolicy naming %q and %s", err, tc.wantErr, addr)
			}
			if len(got) != 1 || got[0].Source != tc.source || got[0].Addr != addr {
				t.Fatalf("got %+v, want source %s at %s", got, tc.source, addr)
			}
			if d, k := got[0].Durable(); d != tc.durable || k != tc.known {
				t.Errorf("Durable() = %v, %v, want %v, %v", d, k, tc.durable, tc.known)
			}
		})
	}
}
