package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap/zapcore"

	"github.com/smsdispatch/smsdispatch/internal/redisconf"
	"github.com/smsdispatch/smsdispatch/internal/tencentconf"
	"github.com/smsdispatch/smsdispatch/worker"
)

// DefaultRedisURL is the Redis used when neither REDIS_URL nor REDIS_CLUSTER_NODES is set.
const DefaultRedisURL = redisconf.DefaultURL

// Config is every setting of the worker program. Load fills it from the environment and the
// command line (flags win); Validate checks the settings together.
type Config struct {
	// Redis is REDIS_URL or REDIS_CLUSTER_NODES with its REDIS_CLUSTER_* settings. RedisURLSet
	// reports whether REDIS_URL was given (env or flag) rather than defaulted: only a defaulted
	// URL may fall back to the embedded Redis. Redis hides worker.Config.Redis, the client, which
	// run sets on the copy that workerConfig returns.
	Redis       redisconf.Settings
	RedisURLSet bool

	SecretID  string
	SecretKey string
	Region    string
	Endpoint  string

	// Config holds the settings of package worker, from SMS_SDK_APP_ID to SHUTDOWN_TIMEOUT and
	// METRICS_ADDR (AppID, SignName, RateLimit, ...); the fields the worker program does not set
	// stay zero and take worker's defaults.
	worker.Config

	LogLevel  zapcore.Level
	LogFormat string // "json" or "console"
}

// setting is one environment variable and its flag.
type setting struct {
	env    string
	def    string
	usage  string
	secret bool // never echo the value in messages
	// set parses raw into c; its error is the text after "NAME: ".
	set func(c *Config, raw string) error
}

// flagName is the flag of an environment variable: lowercase, dashes for underscores.
func (s setting) flagName() string { return strings.ReplaceAll(strings.ToLower(s.env), "_", "-") }

// help is the flag help of s, in the form of redisconf's flags.
func (s setting) help() string {
	return redisconf.Var{Env: s.env, Default: s.def, Usage: s.usage, Secret: s.secret}.Help()
}

// settings is the table of every worker setting, in the order of the README's configuration
// table: the Redis settings of package redisconf (without set: redisconf.Load reads them), then
// the worker's own.
var settings = append(append(redisSettings(), tencentSettings()...), []setting{
	{env: "SMS_SDK_APP_ID", usage: "default SmsSdkAppId (required with credentials)",
		set: func(c *Config, raw string) error {
			if raw != "" && !isDigits(raw) {
				return fmt.Errorf("%q is not a numeric SmsSdkAppId such as 1400000000", raw)
			}
			c.AppID = raw
			return nil
		}},
	{env: "SMS_SIGN_NAME", usage: "default sign name, for jobs that do not name one",
		set: func(c *Config, raw string) error { c.SignName = raw; return nil }},
	{env: "SMS_RATE_LIMIT", def: strconv.Itoa(worker.DefaultRateLimit), usage: "SendSms calls per second, fleet-wide (all workers on this Redis)",
		set: func(c *Config, raw string) (err error) { c.RateLimit, err = positiveInt(raw); return err }},
	{env: "SMS_STATUS_PULL_INTERVAL", def: durationDef(worker.DefaultStatusPullInterval), usage: "wait between receipt pulls (Go duration)",
		set: func(c *Config, raw string) (err error) { c.StatusPullInterval, err = positiveDuration(raw); return err }},
	{env: "WORKER_CONCURRENCY", def: strconv.Itoa(worker.DefaultConcurrency), usage: "task slots for the normal, bulk and maint queues",
		set: func(c *Config, raw string) (err error) { c.Concurrency, err = positiveInt(raw); return err }},
	{env: "METRICS_ADDR", def: "127.0.0.1:9090", usage: "host:port of /metrics, /healthz and /readyz",
		set: func(c *Config, raw string) error {
			_, port, err := net.SplitHostPort(raw)
			if err != nil || (!validPort(port) && port != "0") {
				return fmt.Errorf("%q is not a host:port", raw)
			}
			c.MetricsAddr = raw
			return nil
		}},
	{env: "SMS_CALLBACK_TOKEN", secret: true, usage: "secret path element of Tencent's status and reply callback URLs, POST /callback/status/TOKEN and /callback/reply/TOKEN (at least 16 of A-Z a-z 0-9 . _ ~ -); unset: no callback endpoint, receipts and replies are pulled only",
		set: func(c *Config, raw string) error {
			c.CallbackToken = raw
			if raw != "" && (len(raw) < 16 || strings.Trim(raw, callbackTokenChars) != "") {
				return errors.New("must be at least 16 characters of A-Z a-z 0-9 . _ ~ -")
			}
			return nil
		}},
	{env: "SMS_CALLBACK_ADDR", usage: "host:port of the callback endpoints when not the METRICS_ADDR listener (needs SMS_CALLBACK_TOKEN)",
		set: func(c *Config, raw string) error {
			if raw == "" {
				return nil
			}
			_, port, err := net.SplitHostPort(raw)
			if err != nil || (!validPort(port) && port != "0") {
				return fmt.Errorf("%q is not a host:port", raw)
			}
			c.CallbackAddr = raw
			return nil
		}},
	{env: "SMS_UNSUBSCRIBE_KEYWORDS", def: strings.Join(worker.DefaultUnsubscribeKeywords(), ","), usage: "comma-separated replies (whole, trimmed, any case) that add the number to the suppression list",
		set: func(c *Config, raw string) error {
			var words []string
			for w := range strings.SplitSeq(raw, ",") {
				w = strings.TrimSpace(w)
				if w == "" || strings.ContainsFunc(w, unicode.IsSpace) {
					return fmt.Errorf("%q is not a comma-separated list of words such as TD,STOP", raw)
				}
				words = append(words, w)
			}
			c.UnsubscribeKeywords = words
			return nil
		}},

	{env: "OTP_CONCURRENCY", def: strconv.Itoa(worker.DefaultOTPConcurrency), usage: "task slots reserved for the otp queue",
		set: func(c *Config, raw string) (err error) { c.OTPConcurrency, err = positiveInt(raw); return err }},
	{env: "MAINT_CONCURRENCY", def: strconv.Itoa(worker.DefaultMaintConcurrency), usage: "task slots of the maint queue (reconcile, probes), apart from the slots that send",
		set: func(c *Config, raw string) (err error) { c.MaintConcurrency, err = positiveInt(raw); return err }},
	{env: "SMS_RECONCILE_WINDOW", def: durationDef(worker.DefaultReconcileWindow), usage: "how long numbers with an unknown outcome wait for evidence before they are looked up and resent (Go duration)",
		set: func(c *Config, raw string) (err error) { c.ReconcileWindow, err = positiveDuration(raw); return err }},
	{env: "SMS_RECEIPT_WINDOW", def: durationDef(worker.DefaultReceiptWindow), usage: "after it, a sent number without a receipt counts as delivery unknown and its job can finish (Go duration)",
		set: func(c *Config, raw string) (err error) { c.ReceiptWindow, err = positiveDuration(raw); return err }},
	{env: "SMS_RECEIPT_LOOKUP_AGE", def: durationDef(worker.DefaultReceiptLookupAge), usage: "after it, a sent number still without a receipt (its pulled page lost) is looked up by number (Go duration)",
		set: func(c *Config, raw string) (err error) { c.ReceiptLookupAge, err = positiveDuration(raw); return err }},
	{env: "SMS_RETENTION", def: durationDef(worker.DefaultRetention), usage: "how long job records and receipts are kept (Go duration)",
		set: func(c *Config, raw string) (err error) { c.Retention, err = positiveDuration(raw); return err }},
	{env: "SMS_HALT_PROBE_INTERVAL", def: durationDef(worker.DefaultHaltProbeInterval), usage: "wait before a halted app (e.g. no balance) is probed again (Go duration)",
		set: func(c *Config, raw string) (err error) { c.HaltProbeInterval, err = positiveDuration(raw); return err }},
	{env: "SHUTDOWN_TIMEOUT", def: durationDef(worker.DefaultShutdownTimeout), usage: "on SIGTERM, how long running sends may finish before their tasks go back to Redis (Go duration)",
		set: func(c *Config, raw string) (err error) { c.ShutdownTimeout, err = positiveDuration(raw); return err }},
	{env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error",
		set: func(c *Config, raw string) error {
			switch raw {
			case "debug", "info", "warn", "error":
				return c.LogLevel.UnmarshalText([]byte(raw))
			}
			return fmt.Errorf("%q is not one of debug, info, warn, error", raw)
		}},
	{env: "LOG_FORMAT", def: "json", usage: "json or console",
		set: func(c *Config, raw string) error {
			if raw != "json" && raw != "console" {
				return fmt.Errorf("%q is not json or console", raw)
			}
			c.LogFormat = raw
			return nil
		}},
}...)

// embeddedRedisNote is what the worker adds to redisconf's help of REDIS_URL.
const embeddedRedisNote = "; when unset and nothing answers on 127.0.0.1:6379, in sandbox mode an embedded in-memory Redis is served there, otherwise start-up fails"

// redisSettings are redisconf's Redis settings as worker settings, for the flags and the usage.
func redisSettings() []setting {
	var out []setting
	for _, v := range redisconf.Vars() {
		if v.Env == redisconf.EnvURL {
			v.Usage += embeddedRedisNote
		}
		out = append(out, setting{env: v.Env, def: v.Default, usage: v.Usage, secret: v.Secret})
	}
	return out
}

// tencentSettings are tencentconf's Tencent settings as worker settings.
func tencentSettings() []setting {
	var out []setting
	for _, v := range tencentconf.Vars() {
		out = append(out, setting{env: v.Env, def: v.Default, usage: v.Usage, secret: v.Secret,
			set: func(c *Config, raw string) error {
				t := c.tencent()
				err := v.Set(&t, raw)
				c.SecretID, c.SecretKey, c.Region, c.Endpoint = t.SecretID, t.SecretKey, t.Region, t.Endpoint
				return err
			}})
	}
	return out
}

// tencent returns the Tencent settings of c.
func (c Config) tencent() tencentconf.Settings {
	return tencentconf.Settings{SecretID: c.SecretID, SecretKey: c.SecretKey, Region: c.Region, Endpoint: c.Endpoint}
}

// settingNames returns every environment variable Load reads.
func settingNames() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.env
	}
	return names
}

// Load reads every setting from getenv, overridden by args (flags such as --sms-rate-limit=20).
// An empty environment variable counts as unset. Every missing or malformed setting is reported,
// each on its own line starting with its name (the variable, or the flag when the value came from
// one). --help returns flag.ErrHelp after printing the usage to usage (nil: discarded).
func Load(args []string, getenv func(string) string) (Config, error) {
	return load(args, getenv, io.Discard)
}

func load(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(usage)
	vals, flags := map[string]*string{}, map[string]string{} // by variable: flag value, flag name
	for _, s := range settings {
		flags[s.env] = s.flagName()
		vals[s.env] = fs.String(flags[s.env], "", s.help())
	}
	fs.Usage = func() { printUsage(fs.Output()) }
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (settings are flags or environment variables)", fs.Arg(0))
	}
	fromFlag := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { fromFlag[f.Name] = true })
	// lookup returns the raw text of a setting, the name it came by, and whether it was given.
	lookup := func(env string) (raw, name string, given bool) {
		if f := flags[env]; fromFlag[f] {
			return *vals[env], "--" + f, true
		}
		raw = getenv(env)
		return raw, env, raw != ""
	}

	var c Config
	var err error
	c.Redis, err = redisconf.Load(func(v redisconf.Var) (string, string, bool) {
		raw, name, given := lookup(v.Env)
		if v.Env == redisconf.EnvURL {
			c.RedisURLSet = given
		}
		return raw, name, given
	})
	errs := []error{err}
	for _, s := range settings {
		if s.set == nil {
			continue // a Redis setting, read above
		}
		raw, name, given := lookup(s.env)
		if !given {
			raw = s.def
		}
		if err := s.set(&c, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// printUsage lists every setting: flag, environment variable, default and meaning.
func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: worker [flags]\n\n")
	b.WriteString("Runs smsdispatch's worker. Every setting is an environment variable and also a flag; flags win.\n")
	b.WriteString("With no credentials and no SMS_ENDPOINT it runs against an in-process sandbox (or the one another\n")
	b.WriteString("zero-setup worker on the same Redis serves); then, with REDIS_URL unset and nothing answering on\n")
	b.WriteString("127.0.0.1:6379, it serves an embedded, in-memory Redis there. Outside sandbox mode that is an error.\n")
	b.WriteString("A Redis whose maxmemory-policy is not noeviction stops start-up. Exit status: 0 ok, 1 failure,\n")
	b.WriteString("2 configuration error.\n\n")
	for _, s := range settings {
		fmt.Fprintf(&b, "  --%s (env %s)", s.flagName(), s.env)
		if s.def != "" {
			fmt.Fprintf(&b, " default %s", s.def)
		}
		fmt.Fprintf(&b, "\n        %s\n", s.usage)
	}
	_, _ = io.WriteString(w, b.String())
}

// Sandbox reports whether the worker runs against the in-process sandbox: no credentials and no
// SMS_ENDPOINT.
func (c Config) Sandbox() bool {
	return c.tencent().Sandbox()
}

// EmbeddedRedisAllowed reports whether the worker may serve an embedded Redis when nothing
// answers at the default address: in sandbox mode only (an in-memory Redis loses every job on a
// restart, which must never happen to real SMS), with REDIS_URL, REDIS_CLUSTER_NODES and
// REDIS_SENTINEL_ADDRS unset.
func (c Config) EmbeddedRedisAllowed() bool {
	return c.Sandbox() && !c.RedisURLSet && c.Redis.Source() == redisconf.EnvURL
}

// Validate checks the settings together (each one alone was checked by Load). Errors name the
// environment variable.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !c.Sandbox() {
		if err := c.tencent().ValidateCredentials(); err != nil {
			errs = append(errs, err)
		}
		if c.AppID == "" {
			add("SMS_SDK_APP_ID: required with credentials or SMS_ENDPOINT (the SmsSdkAppId, e.g. 1400000000)")
		}
	}
	if err := c.Redis.Validate(nil); err != nil {
		errs = append(errs, err)
	}
	if c.CallbackAddr != "" && c.CallbackToken == "" {
		add("SMS_CALLBACK_ADDR: set without SMS_CALLBACK_TOKEN (no callback is served)")
	}
	if c.Retention < c.ReceiptWindow {
		add("SMS_RETENTION: %s is shorter than SMS_RECEIPT_WINDOW (%s)", c.Retention, c.ReceiptWindow)
	}
	return errors.Join(errs...)
}

// workerConfig is the settings of package worker, without Redis and Tencent credentials, which
// run fills in.
func (c Config) workerConfig() worker.Config { return c.Config }

func positiveInt(raw string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive integer", raw)
	}
	return n, nil
}

func positiveDuration(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive Go duration such as 10s or 5m", raw)
	}
	return d, nil
}

// callbackTokenChars are the characters of SMS_CALLBACK_TOKEN: URL-path safe as they are.
const callbackTokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// knownSetting reports whether name is an environment variable Load reads.
func knownSetting(name string) bool { return slices.Contains(settingNames(), name) }
