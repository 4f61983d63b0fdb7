package tencentsms

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{SecretID: "AKIDx", SecretKey: "secret-key-value"}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"no secret id", func(c *Config) { c.SecretID = "" }, "Config.SecretID"},
		{"secret id with newline", func(c *Config) { c.SecretID = "AKIDx\n" }, "Config.SecretID"},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, "Config.SecretKey"},
		{"secret key with space", func(c *Config) { c.SecretKey = " k" }, "Config.SecretKey"},
		{"bad region", func(c *Config) { c.Region = "ap guangzhou" }, "Config.Region"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Config.Timeout"},
		{"negative max conns", func(c *Config) { c.MaxConns = -1 }, "Config.MaxConns"},
		{"no scheme", func(c *Config) { c.Endpoint = "127.0.0.1:9000" }, "Config.Endpoint"},
		{"ftp scheme", func(c *Config) { c.Endpoint = "ftp://sms.tencentcloudapi.com" }, "Config.Endpoint"},
		{"no host", func(c *Config) { c.Endpoint = "http://" }, "Config.Endpoint"},
		{"path", func(c *Config) { c.Endpoint = "https://sms.tencentcloudapi.com/v3" }, "Config.Endpoint"},
		{"query", func(c *Config) { c.Endpoint = "https://sms.tencentcloudapi.com/?a=b" }, "Config.Endpoint"},
		{"user info", func(c *Config) { c.Endpoint = "https://u:p@sms.tencentcloudapi.com" }, "Config.Endpoint"},
		{"port 0", func(c *Config) { c.Endpoint = "http://127.0.0.1:0" }, "Config.Endpoint"},
		{"unparsable", func(c *Config) { c.Endpoint = "http://[::1" }, "Config.Endpoint"},
	}
	for _, tt := range tests {
		cfg := validConfig()
		tt.mod(&cfg)
		c, err := New(cfg)
		var ae *ArgumentError
		if c != nil || !errors.As(err, &ae) || ae.Field != tt.field || !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: New = %v, %v; want an *ArgumentError for %s", tt.name, c, err, tt.field)
			continue
		}
		if strings.Contains(err.Error(), cfg.SecretKey) && cfg.SecretKey != "" {
			t.Errorf("%s: error reveals the secret key: %v", tt.name, err)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	c, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.timeout != DefaultTimeout {
		t.Errorf("timeout %s", c.timeout)
	}
	if c.sdk.GetRegion() != DefaultRegion {
		t.Errorf("region %q", c.sdk.GetRegion())
	}
	tr := c.owned
	if tr == nil || http.RoundTripper(tr) == http.DefaultTransport {
		t.Fatalf("default transport %v is not a dedicated *http.Transport", tr)
	}
	if tr.MaxConnsPerHost != DefaultMaxConns || tr.MaxIdleConnsPerHost != DefaultMaxConns {
		t.Errorf("MaxConnsPerHost %d, MaxIdleConnsPerHost %d, want %d", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, DefaultMaxConns)
	}
	if tr.Protocols == nil || !tr.Protocols.HTTP1() || tr.Protocols.HTTP2() {
		t.Errorf("Protocols %v, want HTTP/1 only", tr.Protocols)
	}
	if tr.Proxy != nil {
		t.Error("default transport reads a proxy from the environment")
	}
}

func TestNewMaxConnsAndInjectedTransport(t *testing.T) {
	t.Parallel()
	cfg := validConfig()
	cfg.MaxConns = 8
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.owned.MaxConnsPerHost != 8 || c.owned.MaxIdleConnsPerHost != 8 {
		t.Errorf("MaxConns not applied: %d/%d", c.owned.MaxConnsPerHost, c.owned.MaxIdleConnsPerHost)
	}
	c.Close()

	cfg.Transport = http.NewFileTransport(http.Dir(t.TempDir()))
	c, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.owned != nil {
		t.Error("client owns an injected transport")
	}
	c.Close()
}

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want endpoint
	}{
		{"https://sms.tencentcloudapi.com", endpoint{"HTTPS", "sms.tencentcloudapi.com"}},
		{"http://127.0.0.1:9000", endpoint{"HTTP", "127.0.0.1:9000"}},
		{"http://localhost:9000/", endpoint{"HTTP", "localhost:9000"}},
		{"https://[::1]:8443", endpoint{"HTTPS", "[::1]:8443"}},
	}
	for _, tt := range tests {
		got, err := parseEndpoint(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseEndpoint(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestConfigStringRedactsSecretKey(t *testing.T) {
	t.Parallel()
	cfg := validConfig()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, cfg); strings.Contains(s, cfg.SecretKey) || !strings.Contains(s, "AKIDx") {
			t.Errorf("Sprintf(%q, cfg) = %s", verb, s)
		}
		if s := fmt.Sprintf(verb, &cfg); strings.Contains(s, cfg.SecretKey) {
			t.Errorf("Sprintf(%q, &cfg) = %s", verb, s)
		}
	}
}

func TestFormatHour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 5, 1, 5, 59, 59, 0, time.UTC), "2024050113"},
		{time.Date(2024, 12, 31, 16, 0, 0, 0, time.UTC), "2025010100"},
		{time.Date(2024, 5, 1, 13, 0, 0, 0, Beijing), "2024050113"},
	}
	for _, tt := range tests {
		if got := formatHour(tt.in); got != tt.want {
			t.Errorf("formatHour(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestUnixTimeAndNum(t *testing.T) {
	t.Parallel()
	big := uint64(1 << 63)
	if !unixTime(nil).IsZero() || !unixTime(new(uint64)).IsZero() || !unixTime(&big).IsZero() {
		t.Error("absent, 0 or out-of-range unix time should be the zero Time")
	}
	max := ^uint64(0)
	if num(&max) <= 0 || num(nil) != 0 {
		t.Error("num does not clamp")
	}
}
