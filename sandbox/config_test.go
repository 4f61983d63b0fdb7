package sandbox

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*Config)
		want string // in the error; "" means none
	}{
		{"default config", func(*Config) {}, ""},
		{"no secret id", func(c *Config) { c.SecretID = "" }, "SecretID and SecretKey are required"},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, "SecretID and SecretKey are required"},
		{"non-numeric app", func(c *Config) { c.AppID = "x1" }, `AppID must be numeric, got "x1"`},
		{"negative frequency interval", func(c *Config) { c.FrequencyInterval = -1 }, "durations and limits must not be negative"},
		{"negative daily limit", func(c *Config) { c.DailyLimit = -1 }, "durations and limits must not be negative"},
		{"negative receipt delay", func(c *Config) { c.ReceiptDelay = -1 }, "durations and limits must not be negative"},
		{"negative clock skew", func(c *Config) { c.MaxClockSkew = -1 }, "durations and limits must not be negative"},
		{"negative param length", func(c *Config) { c.MaxParamLength = -1 }, "durations and limits must not be negative"},
		{"negative callback timeout", func(c *Config) { c.CallbackTimeout = -1 }, "durations and limits must not be negative"},
		{"negative retry interval", func(c *Config) { c.CallbackRetryInterval = -1 }, "durations and limits must not be negative"},
		{"negative retries allowed", func(c *Config) { c.CallbackRetries = -1 }, ""},
		{"receipt fail rate", func(c *Config) { c.ReceiptFailRate = 2 }, "ReceiptFailRate must be in [0,1], got 2"},
		{"fault rate", func(c *Config) { c.Faults.DropRate = -0.5 }, "fault rates must be in [0,1]"},
		{"negative latency", func(c *Config) { c.Faults.Latency = -1 }, "Latency, LatencyJitter and QPS must not be negative"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: validate() = %v, want nil", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: validate() = %v, want ErrInvalidConfig with %q", c.name, err, c.want)
		}
		if srv, nerr := New(cfg); srv != nil || errString(nerr) != errString(err) {
			t.Errorf("%s: New error %v, want %v", c.name, nerr, err)
		}
	}
}

func TestConfigWithDefaults(t *testing.T) {
	t.Parallel()
	got := Config{CallbackRetries: -1}.withDefaults()
	if got.MaxClockSkew != DefaultMaxClockSkew || got.CallbackTimeout != DefaultCallbackTimeout || got.CallbackRetries != 0 || got.Seed == 0 {
		t.Errorf("zero config: got skew %v, timeout %v, retries %d, seed %d", got.MaxClockSkew, got.CallbackTimeout, got.CallbackRetries, got.Seed)
	}
	set := Config{MaxClockSkew: time.Second, CallbackTimeout: 2 * time.Second, CallbackRetries: 3, Seed: 4}
	got = set.withDefaults()
	if got.MaxClockSkew != set.MaxClockSkew || got.CallbackTimeout != set.CallbackTimeout || got.CallbackRetries != 3 || got.Seed != 4 {
		t.Errorf("set values: got skew %v, timeout %v, retries %d, seed %d", got.MaxClockSkew, got.CallbackTimeout, got.CallbackRetries, got.Seed)
	}
	if d := DefaultConfig(); d.MaxClockSkew != DefaultMaxClockSkew || d.CallbackTimeout != DefaultCallbackTimeout {
		t.Errorf("DefaultConfig skew %v, timeout %v, want the Default constants", d.MaxClockSkew, d.CallbackTimeout)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
