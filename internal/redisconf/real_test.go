package redisconf

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
)

// load reads the settings from env as a binary reads its environment, and validates them.
func load(t *testing.T, env map[string]string) Settings {
	t.Helper()
	s, err := Load(func(v Var) (string, string, bool) { raw, ok := env[v.Env]; return raw, v.Env, ok })
	if err == nil {
		err = s.Validate(nil)
	}
	if err != nil {
		t.Fatalf("settings %v: %v", env, err)
	}
	return s
}

// secret is a fresh password, so that finding it in a message cannot be a coincidence.
func secret(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// roundTrip writes through a store on rdb (a script and plain commands) and reads it back.
func roundTrip(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := store.New(rdb, store.Options{})
	probe := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	if err := st.Halt(ctx, "1400000000", "FailedOperation.InsufficientBalanceInSmsPackage", probe); err != nil {
		t.Fatalf("store round trip: halt: %v", err)
	}
	h, err := st.HaltOf(ctx, "1400000000")
	if err != nil || h == nil || h.Code != "FailedOperation.InsufficientBalanceInSmsPackage" || !h.ProbeAt.Equal(probe) {
		t.Fatalf("store round trip: halt read back as %+v, %v", h, err)
	}
}

// connect opens the client of s and pings it.
func connect(t *testing.T, s Settings) (redis.UniversalClient, error) {
	t.Helper()
	rdb, err := s.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rdb, rdb.Ping(ctx).Err()
}

// TestSentinel opens the failover client of REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER
// against a real redis-sentinel (with its own password) that monitors a private redis-server.
func TestSentinel(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts redis-server and redis-sentinel")
	}
	master := redistest.StartServer(t)
	pw := secret(t)
	sentinel := redistest.StartSentinel(t, master, "smsmaster", "requirepass "+pw)
	s := load(t, map[string]string{EnvSentinelAddrs: sentinel, EnvSentinelMaster: "smsmaster", EnvSentinelPassword: pw,
		EnvURL: "redis://unused.invalid:1/3"})
	rdb, err := connect(t, s)
	if err != nil {
		t.Fatalf("%s: %v", s.Where(), err)
	}
	roundTrip(t, rdb)
	// The writes went to the master the sentinel names, in REDIS_URL's database.
	direct := redis.NewClient(&redis.Options{Addr: master, DB: 3})
	defer direct.Close()
	if n, err := direct.DBSize(context.Background()).Result(); err != nil || n == 0 {
		t.Errorf("master %s db 3 holds %d keys (%v), want the store's", master, n, err)
	}

	// A wrong sentinel password fails without showing it.
	bad := s
	bad.SentinelPassword = "wrong-" + pw
	if _, err := connect(t, bad); err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("wrong sentinel password: %v, want an error that does not show it", err)
	}
}

// TestTLSAndACL connects with a rediss:// URL, REDIS_TLS_CA_FILE naming a private CA, and an ACL
// user, to a real redis-server that speaks only TLS; a wrong password fails without appearing in
// the error or the log.
func TestTLSAndACL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	files := redistest.NewTLSFiles(t)
	addr := redistest.StartTLSServer(t, files)
	pw := secret(t)
	admin, err := connect(t, load(t, map[string]string{EnvURL: "rediss://" + addr + "/0", EnvTLSCAFile: files.CA}))
	if err != nil {
		t.Fatalf("admin over TLS: %v", err)
	}
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "smsapp", "on", ">"+pw, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "default", "off").Err(); err != nil {
		t.Fatal(err)
	}

	url := "rediss://smsapp:" + pw + "@" + addr + "/0"
	s := load(t, map[string]string{EnvURL: url, EnvTLSCAFile: files.CA})
	rdb, err := connect(t, s)
	if err != nil {
		t.Fatalf("%s: %v", s.Where(), err)
	}
	if who, err := rdb.Do(context.Background(), "ACL", "WHOAMI").Text(); err != nil || who != "smsapp" {
		t.Fatalf("ACL WHOAMI = %q, %v", who, err)
	}
	roundTrip(t, rdb)

	core, logs := observer.New(zapcore.DebugLevel)
	logger := zap.New(core)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // in the error
	}{
		{"wrong password", map[string]string{EnvURL: "rediss://smsapp:wrong-" + pw + "@" + addr + "/0", EnvTLSCAFile: files.CA}, "WRONGPASS"},
		{"no CA file: the system's roots do not know the CA", map[string]string{EnvURL: url}, "certificate"},
		{"no TLS", map[string]string{EnvURL: "redis://smsapp:" + pw + "@" + addr + "/0"}, ""},
	} {
		s := load(t, tc.env)
		_, err := connect(t, s)
		if err == nil {
			t.Errorf("%s: connected", tc.name)
			continue
		}
		// As the binaries report a Redis that does not answer: the error, and a log line.
		err = fmt.Errorf("%s: %s does not answer: %w", s.Source(), s.Where(), err)
		logger.Error("redis", zap.String("where", s.Where()), zap.Error(err))
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want %q in it", tc.name, err, tc.want)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: error %q shows the password", tc.name, err)
		}
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		if strings.Contains(line, pw) {
			t.Errorf("log shows the password: %s", line)
		}
	}
	if logs.Len() != 3 {
		t.Errorf("%d log entries, want 3", logs.Len())
	}
}
