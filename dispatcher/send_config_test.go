package dispatcher

import (
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/retry"
)

func TestSendConfigWithDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   SendConfig
		want SendConfig
	}{
		{"zero takes the constants", SendConfig{}, SendConfig{
			ReconcileWindow: DefaultReconcileWindow, HaltProbeInterval: DefaultHaltProbeInterval,
			HaltCacheTTL: DefaultHaltCacheTTL, CommitTimeout: DefaultCommitTimeout,
			Policy: retry.Policy{HaltProbe: DefaultHaltProbeInterval},
		}},
		{"set values kept, HaltProbe from HaltProbeInterval", SendConfig{
			ReconcileWindow: time.Second, HaltProbeInterval: 2 * time.Second, HaltCacheTTL: -1, CommitTimeout: 3 * time.Second,
		}, SendConfig{
			ReconcileWindow: time.Second, HaltProbeInterval: 2 * time.Second, HaltCacheTTL: -1, CommitTimeout: 3 * time.Second,
			Policy: retry.Policy{HaltProbe: 2 * time.Second},
		}},
		{"Policy.HaltProbe kept", SendConfig{Policy: retry.Policy{HaltProbe: 7 * time.Second}}, SendConfig{
			ReconcileWindow: DefaultReconcileWindow, HaltProbeInterval: DefaultHaltProbeInterval,
			HaltCacheTTL: DefaultHaltCacheTTL, CommitTimeout: DefaultCommitTimeout,
			Policy: retry.Policy{HaltProbe: 7 * time.Second},
		}},
	}
	for _, c := range cases {
		got := c.in.withDefaults()
		if got.ReconcileWindow != c.want.ReconcileWindow || got.HaltProbeInterval != c.want.HaltProbeInterval ||
			got.HaltCacheTTL != c.want.HaltCacheTTL || got.CommitTimeout != c.want.CommitTimeout || got.Policy.HaltProbe != c.want.Policy.HaltProbe {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestSendConfigValidate(t *testing.T) {
	t.Parallel()
	ok := SendConfig{Store: &fakeStore{}, Sender: &fakeSender{}, Enqueuer: &fakeEnqueuer{}, Limiter: &fakeLimiter{}}
	if err := ok.validate(); err != nil {
		t.Fatalf("complete config: %v", err)
	}
	cases := []struct {
		name string
		edit func(*SendConfig)
		want string
	}{
		{"no store", func(c *SendConfig) { c.Store = nil }, "dispatcher: SendConfig.Store is nil"},
		{"no sender", func(c *SendConfig) { c.Sender = nil }, "dispatcher: SendConfig.Sender is nil"},
		{"no enqueuer", func(c *SendConfig) { c.Enqueuer = nil }, "dispatcher: SendConfig.Enqueuer is nil"},
		{"no limiter", func(c *SendConfig) { c.Limiter = nil }, "dispatcher: SendConfig.Limiter is nil"},
		{"negative window", func(c *SendConfig) { c.ReconcileWindow = -1 }, "dispatcher: SendConfig durations must not be negative"},
		{"negative probe", func(c *SendConfig) { c.HaltProbeInterval = -1 }, "dispatcher: SendConfig durations must not be negative"},
		{"negative commit", func(c *SendConfig) { c.CommitTimeout = -1 }, "dispatcher: SendConfig durations must not be negative"},
		{"negative cache TTL allowed", func(c *SendConfig) { c.HaltCacheTTL = -1 }, ""},
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		err := cfg.validate()
		if got := errString(err); got != c.want {
			t.Errorf("%s: validate() = %q, want %q", c.name, got, c.want)
		}
		if _, nerr := NewSendHandler(cfg); errString(nerr) != c.want {
			t.Errorf("%s: NewSendHandler error %q, want %q", c.name, errString(nerr), c.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
