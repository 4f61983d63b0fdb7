package main

import (
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/worker"
)

// TestDurationDefaultsMatchWorker pins every duration setting's def string to the worker constant
// it stands for: parsed back, it is the same duration.
func TestDurationDefaultsMatchWorker(t *testing.T) {
	t.Parallel()
	want := map[string]time.Duration{
		"SMS_STATUS_PULL_INTERVAL": worker.DefaultStatusPullInterval,
		"SMS_RECONCILE_WINDOW":     worker.DefaultReconcileWindow,
		"SMS_RECEIPT_WINDOW":       worker.DefaultReceiptWindow,
		"SMS_RECEIPT_LOOKUP_AGE":   worker.DefaultReceiptLookupAge,
		"SMS_RETENTION":            worker.DefaultRetention,
		"SMS_HALT_PROBE_INTERVAL":  worker.DefaultHaltProbeInterval,
		"SHUTDOWN_TIMEOUT":         worker.DefaultShutdownTimeout,
	}
	seen := map[string]bool{}
	for _, s := range settings {
		d, ok := want[s.env]
		if !ok {
			continue
		}
		seen[s.env] = true
		got, err := time.ParseDuration(s.def)
		if err != nil || got != d {
			t.Errorf("%s def %q parses to %s (%v), want %s", s.env, s.def, got, err, d)
		}
	}
	for env := range want {
		if !seen[env] {
			t.Errorf("%s is not in the settings table", env)
		}
	}
}

func TestDurationDef(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{72 * time.Hour, "72h"},
		{time.Hour, "1h"},
		{90 * time.Minute, "90m"},
		{5 * time.Minute, "5m"},
		{60 * time.Second, "1m"},
		{10 * time.Second, "10s"},
		{1500 * time.Millisecond, "1.5s"},
		{10 * time.Millisecond, "10ms"},
		{0, "0s"},
	} {
		if got := durationDef(c.d); got != c.want {
			t.Errorf("durationDef(%s) = %q, want %q", c.d, got, c.want)
		}
		if back, err := time.ParseDuration(durationDef(c.d)); err != nil || back != c.d {
			t.Errorf("durationDef(%s) = %q parses back to %s (%v)", c.d, durationDef(c.d), back, err)
		}
	}
}
