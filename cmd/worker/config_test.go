package main

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/smsdispatch/smsdispatch/internal/redisconf"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/worker"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Redis:  redisconf.Settings{URL: DefaultRedisURL},
		Region: "ap-guangzhou",
		Config: worker.Config{
			RateLimit:           3000,
			StatusPullInterval:  10 * time.Second,
			Concurrency:         32,
			OTPConcurrency:      8,
			MaintConcurrency:    4,
			ReconcileWindow:     60 * time.Second,
			ReceiptWindow:       time.Hour,
			ReceiptLookupAge:    5 * time.Minute,
			Retention:           72 * time.Hour,
			HaltProbeInterval:   5 * time.Minute,
			ShutdownTimeout:     15 * time.Second,
			MetricsAddr:         "127.0.0.1:9090",
			UnsubscribeKeywords: []string{"TD", "T", "N", "STOP", "UNSUBSCRIBE", "QUIT"},
		},
		LogLevel:  zapcore.InfoLevel,
		LogFormat: "json",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if !c.Sandbox() || !c.EmbeddedRedisAllowed() {
		t.Fatalf("no settings: Sandbox=%v EmbeddedRedisAllowed=%v, want both", c.Sandbox(), c.EmbeddedRedisAllowed())
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

// TestLoadEachSetting sets each setting alone, by environment variable and by flag, and checks the
// field it lands in.
func TestLoadEachSetting(t *testing.T) {
	ca := redistest.NewTLSFiles(t).CA
	cases := []struct {
		env, value string
		check      func(c Config) bool
	}{
		{"REDIS_URL", "rediss://u:p@redis.example:6380/2", func(c Config) bool {
			return c.Redis.URL == "rediss://u:p@redis.example:6380/2" && c.RedisURLSet && !c.EmbeddedRedisAllowed()
		}},
		{"REDIS_CLUSTER_NODES", "a:7000, b:7001,c:7002", func(c Config) bool {
			return reflect.DeepEqual(c.Redis.ClusterNodes, []string{"a:7000", "b:7001", "c:7002"}) && !c.EmbeddedRedisAllowed()
		}},
		{"REDIS_CLUSTER_USERNAME", "alice", func(c Config) bool { return c.Redis.ClusterUsername == "alice" }},
		{"REDIS_CLUSTER_PASSWORD", "pw", func(c Config) bool { return c.Redis.ClusterPassword == "pw" }},
		{"REDIS_CLUSTER_TLS", "true", func(c Config) bool { return c.Redis.ClusterTLS }},
		{"REDIS_SENTINEL_ADDRS", "s1:26379,s2:26379", func(c Config) bool {
			return reflect.DeepEqual(c.Redis.SentinelAddrs, []string{"s1:26379", "s2:26379"}) && !c.EmbeddedRedisAllowed()
		}},
		{"REDIS_SENTINEL_MASTER", "mymaster", func(c Config) bool { return c.Redis.SentinelMaster == "mymaster" }},
		{"REDIS_SENTINEL_PASSWORD", "spw", func(c Config) bool { return c.Redis.SentinelPassword == "spw" }},
		{"REDIS_TLS_CA_FILE", ca, func(c Config) bool { return c.Redis.TLSCAFile == ca }},
		{"TENCENTCLOUD_SECRET_ID", "AKIDx", func(c Config) bool { return c.SecretID == "AKIDx" && !c.Sandbox() }},
		{"TENCENTCLOUD_SECRET_KEY", "key", func(c Config) bool { return c.SecretKey == "key" && !c.Sandbox() }},
		{"TENCENTCLOUD_REGION", "ap-beijing", func(c Config) bool { return c.Region == "ap-beijing" }},
		{"SMS_ENDPOINT", "http://127.0.0.1:9000", func(c Config) bool { return c.Endpoint == "http://127.0.0.1:9000" && !c.Sandbox() }},
		{"SMS_SDK_APP_ID", "1400123456", func(c Config) bool { return c.AppID == "1400123456" }},
		{"SMS_SIGN_NAME", "腾讯云", func(c Config) bool { return c.SignName == "腾讯云" }},
		{"SMS_RATE_LIMIT", "20", func(c Config) bool { return c.RateLimit == 20 }},
		{"SMS_STATUS_PULL_INTERVAL", "5s", func(c Config) bool { return c.StatusPullInterval == 5*time.Second }},
		{"WORKER_CONCURRENCY", "64", func(c Config) bool { return c.Concurrency == 64 }},
		{"METRICS_ADDR", "0.0.0.0:9191", func(c Config) bool { return c.MetricsAddr == "0.0.0.0:9191" }},
		{"SMS_CALLBACK_TOKEN", "0123456789abcdef-_.~", func(c Config) bool { return c.CallbackToken == "0123456789abcdef-_.~" }},
		{"SMS_CALLBACK_ADDR", "0.0.0.0:9292", func(c Config) bool { return c.CallbackAddr == "0.0.0.0:9292" }},
		{"SMS_UNSUBSCRIBE_KEYWORDS", " TD, 退订 ,stop", func(c Config) bool {
			return reflect.DeepEqual(c.UnsubscribeKeywords, []string{"TD", "退订", "stop"})
		}},
		{"OTP_CONCURRENCY", "3", func(c Config) bool { return c.OTPConcurrency == 3 }},
		{"MAINT_CONCURRENCY", "2", func(c Config) bool { return c.MaintConcurrency == 2 }},
		{"SMS_RECONCILE_WINDOW", "90s", func(c Config) bool { return c.ReconcileWindow == 90*time.Second }},
		{"SMS_RECEIPT_WINDOW", "2h", func(c Config) bool { return c.ReceiptWindow == 2*time.Hour }},
		{"SMS_RECEIPT_LOOKUP_AGE", "3m", func(c Config) bool { return c.ReceiptLookupAge == 3*time.Minute }},
		{"SMS_RETENTION", "24h", func(c Config) bool { return c.Retention == 24*time.Hour }},
		{"SMS_HALT_PROBE_INTERVAL", "1m", func(c Config) bool { return c.HaltProbeInterval == time.Minute }},
		{"SHUTDOWN_TIMEOUT", "30s", func(c Config) bool { return c.ShutdownTimeout == 30*time.Second }},
		{"LOG_LEVEL", "debug", func(c Config) bool { return c.LogLevel == zapcore.DebugLevel }},
		{"LOG_FORMAT", "console", func(c Config) bool { return c.LogFormat == "console" }},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.env] = true
		t.Run(tc.env+"/env", func(t *testing.T) {
			c, err := Load(nil, envOf(map[string]string{tc.env: tc.value}))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("%s=%q: got %+v", tc.env, tc.value, c)
			}
		})
		t.Run(tc.env+"/flag", func(t *testing.T) {
			flagName := "--" + strings.ReplaceAll(strings.ToLower(tc.env), "_", "-")
			c, err := Load([]string{flagName + "=" + tc.value}, envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("%s=%q: got %+v", flagName, tc.value, c)
			}
		})
	}
	for _, name := range settingNames() {
		if !covered[name] {
			t.Errorf("setting %s has no test case", name)
		}
	}
}

func TestFlagsWin(t *testing.T) {
	env := envOf(map[string]string{
		"SMS_RATE_LIMIT":           "abc", // malformed, but the flag replaces it
		"WORKER_CONCURRENCY":       "10",
		"SMS_STATUS_PULL_INTERVAL": "1m",
		"REDIS_URL":                "redis://env:6379/0",
	})
	c, err := Load([]string{"--sms-rate-limit", "20", "--worker-concurrency=4", "--redis-url", "redis://flag:6379/1"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != 20 || c.Concurrency != 4 || c.Redis.URL != "redis://flag:6379/1" {
		t.Fatalf("flags did not win: %+v", c)
	}
	if c.StatusPullInterval != time.Minute {
		t.Fatalf("env without a flag ignored: %s", c.StatusPullInterval)
	}
	// An explicitly empty flag overrides the environment too.
	c, err = Load([]string{"--sms-endpoint="}, envOf(map[string]string{"SMS_ENDPOINT": "http://x:1"}))
	if err != nil || c.Endpoint != "" {
		t.Fatalf("--sms-endpoint= : %q %v", c.Endpoint, err)
	}
}

func TestLoadMalformed(t *testing.T) {
	cases := []struct {
		env   map[string]string
		args  []string
		want  []string // every substring must appear
		avoid string   // must not appear (secrets)
	}{
		{env: map[string]string{"SMS_RATE_LIMIT": "abc"}, want: []string{`SMS_RATE_LIMIT: "abc" is not a positive integer`}},
		{env: map[string]string{"SMS_RATE_LIMIT": "0"}, want: []string{`SMS_RATE_LIMIT: "0" is not a positive integer`}},
		{env: map[string]string{"SMS_RATE_LIMIT": "-5"}, want: []string{`SMS_RATE_LIMIT: "-5"`}},
		{args: []string{"--sms-rate-limit=x"}, want: []string{`--sms-rate-limit: "x" is not a positive integer`}},
		{env: map[string]string{"WORKER_CONCURRENCY": "many"}, want: []string{`WORKER_CONCURRENCY: "many"`}},
		{env: map[string]string{"OTP_CONCURRENCY": "1.5"}, want: []string{`OTP_CONCURRENCY: "1.5"`}},
		{env: map[string]string{"SMS_STATUS_PULL_INTERVAL": "10"}, want: []string{`SMS_STATUS_PULL_INTERVAL: "10" is not a positive Go duration`}},
		{env: map[string]string{"SMS_RECONCILE_WINDOW": "-1s"}, want: []string{`SMS_RECONCILE_WINDOW: "-1s"`}},
		{env: map[string]string{"SMS_RECEIPT_WINDOW": "soon"}, want: []string{`SMS_RECEIPT_WINDOW: "soon"`}},
		{env: map[string]string{"SMS_RETENTION": "3d"}, want: []string{`SMS_RETENTION: "3d"`}},
		{env: map[string]string{"SMS_HALT_PROBE_INTERVAL": "0s"}, want: []string{`SMS_HALT_PROBE_INTERVAL: "0s"`}},
		{env: map[string]string{"SHUTDOWN_TIMEOUT": "forever"}, want: []string{`SHUTDOWN_TIMEOUT: "forever"`}},
		{env: map[string]string{"REDIS_URL": "http://localhost:6379"}, want: []string{`REDIS_URL: "http://localhost:6379" is not a Redis URL`}},
		{env: map[string]string{"REDIS_URL": "redis://user:hunter2@host:6379/notadb"}, want: []string{"REDIS_URL:", "user:xxxxx@host"}, avoid: "hunter2"},
		{env: map[string]string{"REDIS_CLUSTER_NODES": "a:7000,b"}, want: []string{`REDIS_CLUSTER_NODES: "b" is not a host:port`}},
		{env: map[string]string{"REDIS_CLUSTER_TLS": "yes please"}, want: []string{`REDIS_CLUSTER_TLS: "yes please"`}},
		{env: map[string]string{"TENCENTCLOUD_REGION": "Guangzhou!"}, want: []string{`TENCENTCLOUD_REGION: "Guangzhou!"`}},
		{env: map[string]string{"TENCENTCLOUD_SECRET_KEY": " s3cret "}, want: []string{"TENCENTCLOUD_SECRET_KEY: has leading or trailing white space"}, avoid: "s3cret"},
		{env: map[string]string{"SMS_ENDPOINT": "127.0.0.1:9000"}, want: []string{`SMS_ENDPOINT: "127.0.0.1:9000" is not an http:// or https:// URL`}},
		{env: map[string]string{"SMS_SDK_APP_ID": "app-1"}, want: []string{`SMS_SDK_APP_ID: "app-1" is not a numeric SmsSdkAppId`}},
		{env: map[string]string{"METRICS_ADDR": "9090"}, want: []string{`METRICS_ADDR: "9090" is not a host:port`}},
		{env: map[string]string{"LOG_LEVEL": "loud"}, want: []string{`LOG_LEVEL: "loud"`}},
		{env: map[string]string{"SMS_CALLBACK_TOKEN": "hunter2"}, want: []string{"SMS_CALLBACK_TOKEN: must be at least 16 characters"}, avoid: "hunter2"},
		{env: map[string]string{"SMS_CALLBACK_TOKEN": "hunter2hunter2/hunter2"}, want: []string{"SMS_CALLBACK_TOKEN:"}, avoid: "hunter2"},
		{args: []string{"--sms-callback-token=hunter2"}, want: []string{"--sms-callback-token: must be"}, avoid: "hunter2"},
		{env: map[string]string{"SMS_CALLBACK_ADDR": "9292"}, want: []string{`SMS_CALLBACK_ADDR: "9292" is not a host:port`}},
		{env: map[string]string{"SMS_UNSUBSCRIBE_KEYWORDS": "TD,,STOP"}, want: []string{`SMS_UNSUBSCRIBE_KEYWORDS: "TD,,STOP" is not a comma-separated list`}},
		{env: map[string]string{"SMS_UNSUBSCRIBE_KEYWORDS": "opt out"}, want: []string{`SMS_UNSUBSCRIBE_KEYWORDS: "opt out"`}},
		{env: map[string]string{"LOG_FORMAT": "xml"}, want: []string{`LOG_FORMAT: "xml"`}},
		// Every bad setting is reported, not just the first.
		{env: map[string]string{"SMS_RATE_LIMIT": "abc", "WORKER_CONCURRENCY": "x"},
			want: []string{"SMS_RATE_LIMIT:", "WORKER_CONCURRENCY:"}},
		{args: []string{"extra"}, want: []string{`unexpected argument "extra"`}},
		{args: []string{"--no-such-flag"}, want: []string{"no-such-flag"}},
	}
	for _, tc := range cases {
		_, err := Load(tc.args, envOf(tc.env))
		if err == nil {
			t.Errorf("env %v args %v: no error", tc.env, tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("env %v args %v: error %q does not contain %q", tc.env, tc.args, err, w)
			}
		}
		if tc.avoid != "" && strings.Contains(err.Error(), tc.avoid) {
			t.Errorf("error %q leaks %q", err, tc.avoid)
		}
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := load([]string{"--help"}, envOf(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, name := range settingNames() {
		if !strings.Contains(out.String(), "(env "+name+")") {
			t.Errorf("usage does not mention %s", name)
		}
	}
}

func TestValidate(t *testing.T) {
	creds := map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k", "SMS_SDK_APP_ID": "1400000001"}
	with := func(extra map[string]string, drop ...string) map[string]string {
		m := map[string]string{}
		for k, v := range creds {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		for _, k := range drop {
			delete(m, k)
		}
		return m
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string // "" = valid
		sandbox bool
	}{
		{"zero setup", nil, "", true},
		{"sandbox adopts app and sign", map[string]string{"SMS_SDK_APP_ID": "1400000009", "SMS_SIGN_NAME": "Mine"}, "", true},
		{"production", creds, "", false},
		{"credentials without app id", with(nil, "SMS_SDK_APP_ID"), "SMS_SDK_APP_ID: required", false},
		{"secret id without key", with(nil, "TENCENTCLOUD_SECRET_KEY"), "TENCENTCLOUD_SECRET_KEY: required", false},
		{"key without secret id", with(nil, "TENCENTCLOUD_SECRET_ID"), "TENCENTCLOUD_SECRET_ID: required", false},
		{"endpoint without credentials", map[string]string{"SMS_ENDPOINT": "http://127.0.0.1:9000", "SMS_SDK_APP_ID": "1400000000"},
			"TENCENTCLOUD_SECRET_ID: required when SMS_ENDPOINT is set", false},
		{"endpoint with credentials (compose)", with(map[string]string{"SMS_ENDPOINT": "http://sandbox:9000"}), "", false},
		{"cluster password without nodes", map[string]string{"REDIS_CLUSTER_PASSWORD": "x"}, "REDIS_CLUSTER_PASSWORD: only used with REDIS_CLUSTER_NODES", true},
		{"cluster tls without nodes", map[string]string{"REDIS_CLUSTER_TLS": "true"}, "REDIS_CLUSTER_TLS: only used", true},
		{"cluster with password", map[string]string{"REDIS_CLUSTER_NODES": "a:1", "REDIS_CLUSTER_PASSWORD": "x"}, "", true},
		{"callback addr without token", map[string]string{"SMS_CALLBACK_ADDR": "127.0.0.1:9292"}, "SMS_CALLBACK_ADDR: set without SMS_CALLBACK_TOKEN", true},
		{"callback token and addr", map[string]string{"SMS_CALLBACK_ADDR": "127.0.0.1:9292", "SMS_CALLBACK_TOKEN": "0123456789abcdef"}, "", true},
		{"retention below receipt window", map[string]string{"SMS_RETENTION": "30m"}, "SMS_RETENTION: 30m0s is shorter than SMS_RECEIPT_WINDOW", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(nil, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.Sandbox() != tc.sandbox {
				t.Errorf("Sandbox() = %v, want %v", c.Sandbox(), tc.sandbox)
			}
			err = c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWorkerConfigMapping(t *testing.T) {
	c, err := Load([]string{"--sms-rate-limit=20", "--otp-concurrency=2", "--sms-retention=1h", "--sms-receipt-window=30m"}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	wc := c.workerConfig()
	if wc.RateLimit != 20 || wc.OTPConcurrency != 2 || wc.Retention != time.Hour || wc.ReceiptWindow != 30*time.Minute ||
		wc.MetricsAddr != "127.0.0.1:9090" || wc.Concurrency != 32 {
		t.Fatalf("workerConfig = %+v", wc)
	}
}

// TestEmbeddedRedisAllowed: the embedded Redis is for sandbox mode only, and only with no Redis
// setting.
func TestEmbeddedRedisAllowed(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"REDIS_URL": "redis://127.0.0.1:7000/0"}, false},
		{map[string]string{"REDIS_CLUSTER_NODES": "a:7000"}, false},
		{map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k"}, false},
		{map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx"}, false},
		{map[string]string{"SMS_ENDPOINT": "http://127.0.0.1:9000"}, false},
		{map[string]string{"SMS_SDK_APP_ID": "1400000001", "SMS_SIGN_NAME": "Acme"}, true}, // still sandbox mode
	}
	for _, tc := range cases {
		c, err := Load(nil, envOf(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.EmbeddedRedisAllowed(); got != tc.want {
			t.Errorf("env %v: EmbeddedRedisAllowed() = %v, want %v", tc.env, got, tc.want)
		}
	}
}
