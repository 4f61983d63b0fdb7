package main

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/chaos"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o options)
	}{
		{"kill full by default", nil, func(t *testing.T, o options) {
			want := chaos.KillScenario(false)
			if !o.measure || o.sc.Numbers != want.Numbers || o.sc.Fault != chaos.FaultWorker || o.sc.KillFor != 60*time.Second ||
				o.sc.Slack != chaos.DefaultSlack || o.sc.CrashFree != 0 {
				t.Errorf("options = %+v", o)
			}
		}},
		{"redis short", []string{"--scenario", "redis", "--short"}, func(t *testing.T, o options) {
			want := chaos.RedisScenario(true)
			if o.sc.Numbers != want.Numbers || !o.sc.AOF || o.sc.Fault != chaos.FaultRedis || o.sc.KillFor != want.KillFor ||
				o.sc.KillEvery != want.KillEvery || o.sc.Window() != want.Window() {
				t.Errorf("options = %+v", o)
			}
		}},
		{"overrides", []string{"--numbers", "20000", "--crash-free", "115s", "--kill-for", "30s", "--kill-every", "2s",
			"--rate-limit", "15", "--retry-rate", "0", "--aof", "true", "--fault", "redis", "--reconcile-window", "45s",
			"--latency", "0s", "--workers", "3", "--seed", "7", "--downtime", "1500ms"}, func(t *testing.T, o options) {
			sc := o.sc
			if o.measure || sc.CrashFree != 115*time.Second || sc.Downtime != 1500*time.Millisecond || sc.Numbers != 20000 || sc.KillFor != 30*time.Second ||
				sc.KillEvery != 2*time.Second || sc.RateLimit != 15 || sc.RetryRate != 0 || !sc.AOF || sc.Fault != chaos.FaultRedis ||
				sc.ReconcileWindow != 45*time.Second || sc.Latency != 0 || sc.Workers != 3 || sc.Seed != 7 {
				t.Errorf("scenario = %+v", sc)
			}
			if d := sc.Deadline(); d != 115*time.Second+45*time.Second+60*time.Second {
				t.Errorf("deadline %v", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
	for _, bad := range [][]string{{"--scenario", "net"}, {"--crash-free", "soon"}, {"--fault", "disk"}, {"--aof", "maybe"},
		{"--numbers", "0"}, {"--kill-for", "1s"}, {"--downtime", "4s"}, {"extra"}, {"--nope"}} {
		if _, err := parseFlags(bad, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", bad, err)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	if code := run(t.Context(), []string{"--scenario", "net"}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if code := run(t.Context(), []string{"--bin-dir", t.TempDir(), "--dir", t.TempDir(), "--crash-free", "10s"}, io.Discard, io.Discard); code != exitFail {
		t.Errorf("missing binaries: exit %d, want %d", code, exitFail)
	}
}
