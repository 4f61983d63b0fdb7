package worker

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

func validConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		Redis:   redistest.Mini(t).Client,
		Tencent: tencentsms.Config{SecretID: "AKIDx", SecretKey: "k", Endpoint: "http://127.0.0.1:1"},
		AppID:   "1400000000",
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	for _, d := range []struct {
		name      string
		got, want any
	}{
		{"RateLimit", c.RateLimit, 3000},
		{"StatusPullInterval", c.StatusPullInterval, 10 * time.Second},
		{"Concurrency", c.Concurrency, 32},
		{"OTPConcurrency", c.OTPConcurrency, 8},
		{"ReconcileWindow", c.ReconcileWindow, 60 * time.Second},
		{"ReceiptWindow", c.ReceiptWindow, time.Hour},
		{"Retention", c.Retention, 72 * time.Hour},
		{"HaltProbeInterval", c.HaltProbeInterval, 5 * time.Minute},
		{"OTPTaskCheckInterval", c.OTPTaskCheckInterval, 10 * time.Millisecond},
		{"ReceiptLookupAge", c.ReceiptLookupAge, 5 * time.Minute},
		{"RetryPolicy.HaltProbe", c.RetryPolicy.HaltProbe, 5 * time.Minute},
		{"UnsubscribeKeywords", strings.Join(c.UnsubscribeKeywords, ","), "TD,T,N,STOP,UNSUBSCRIBE,QUIT"},
	} {
		if d.got != d.want {
			t.Errorf("%s = %v, want %v", d.name, d.got, d.want)
		}
	}
	if c.Now == nil {
		t.Error("Now is nil")
	}
	// Set fields are kept.
	c = Config{RateLimit: 20, HaltProbeInterval: time.Minute}.WithDefaults()
	if c.RateLimit != 20 || c.RetryPolicy.HaltProbe != time.Minute {
		t.Errorf("set fields changed: %d %s", c.RateLimit, c.RetryPolicy.HaltProbe)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		field  string
		mutate func(c *Config)
	}{
		{"", func(c *Config) {}},
		{"Redis", func(c *Config) { c.Redis = nil }},
		{"Tencent.SecretID", func(c *Config) { c.Tencent.SecretID = "" }},
		{"Tencent.SecretKey", func(c *Config) { c.Tencent.SecretKey = "" }},
		{"AppID", func(c *Config) { c.AppID = "" }},
		{"RateLimit", func(c *Config) { c.RateLimit = -1 }},
		{"Concurrency", func(c *Config) { c.Concurrency = -3 }},
		{"OTPConcurrency", func(c *Config) { c.OTPConcurrency = -1 }},
		{"StatusPullInterval", func(c *Config) { c.StatusPullInterval = -time.Second }},
		{"ReconcileWindow", func(c *Config) { c.ReconcileWindow = -time.Second }},
		{"ShutdownTimeout", func(c *Config) { c.ShutdownTimeout = -time.Second }},
		{"ReceiptLookupAge", func(c *Config) { c.ReceiptLookupAge = -time.Minute }},
		{"Retention", func(c *Config) { c.Retention = time.Minute }},
		{"MetricsAddr", func(c *Config) { c.MetricsAddr = "9090" }},
		{"", func(c *Config) { c.CallbackToken, c.MetricsAddr = "0123456789abcdef", "127.0.0.1:0" }},
		{"", func(c *Config) { c.CallbackToken, c.CallbackAddr = "0123456789abcdef", "127.0.0.1:0" }},
		{"CallbackToken", func(c *Config) { c.CallbackToken, c.MetricsAddr = "short", "127.0.0.1:0" }},
		{"CallbackToken", func(c *Config) { c.CallbackToken, c.MetricsAddr = "0123456789abcdef/x", "127.0.0.1:0" }},
		{"CallbackAddr", func(c *Config) { c.CallbackToken = "0123456789abcdef" }}, // nowhere to serve
		{"CallbackAddr", func(c *Config) { c.CallbackAddr = "127.0.0.1:0" }},       // no token
		{"CallbackAddr", func(c *Config) { c.CallbackToken, c.CallbackAddr = "0123456789abcdef", "9091" }},
		{"UnsubscribeKeywords", func(c *Config) { c.UnsubscribeKeywords = []string{} }},
		{"UnsubscribeKeywords", func(c *Config) { c.UnsubscribeKeywords = []string{"TD", "opt out"} }},
	}
	for _, tc := range cases {
		c := validConfig(t)
		tc.mutate(&c)
		err := c.WithDefaults().Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("valid config: %v", err)
			}
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: err = %v, want a ConfigError for %s", tc.field, err, tc.field)
		}
	}
}

// TestCallbackTokenNotEchoed: a bad token is reported without its value.
func TestCallbackTokenNotEchoed(t *testing.T) {
	t.Parallel()
	c := validConfig(t)
	c.MetricsAddr, c.CallbackToken = "127.0.0.1:0", "hunter2 secret"
	err := c.WithDefaults().Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v, want an error without the token", err)
	}
}
