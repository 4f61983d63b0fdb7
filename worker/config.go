package worker

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/dispatcher"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// Defaults applied by Config.WithDefaults to zero fields. Each default has one owner, the lowest
// package that uses it; the worker's own are the ones only the worker uses, the others alias their
// owner's constant (store for retention, claim lease and receipt window; dispatcher for the
// reconcile window, halt probe interval, receipt pull, receipt lookup and sweeper).
const (
	DefaultRateLimit                = 3000 // Tencent's default SendSms limit, calls per second
	DefaultStatusPullInterval       = dispatcher.DefaultPullInterval
	DefaultConcurrency              = 32
	DefaultOTPConcurrency           = 8
	DefaultMaintConcurrency         = 4
	DefaultReconcileWindow          = dispatcher.DefaultReconcileWindow
	DefaultReceiptWindow            = store.DefaultReceiptWindow
	DefaultClaimLease               = store.DefaultClaimLease
	DefaultRetention                = store.DefaultRetention
	DefaultHaltProbeInterval        = dispatcher.DefaultHaltProbeInterval
	DefaultSweepInterval            = dispatcher.DefaultSweepInterval
	DefaultSweepGrace               = dispatcher.DefaultSweepGrace
	DefaultShutdownTimeout          = 15 * time.Second
	DefaultTaskCheckInterval        = time.Second
	DefaultOTPTaskCheckInterval     = 10 * time.Millisecond
	DefaultDelayedTaskCheckInterval = time.Second
	DefaultReceiptLookupAge         = dispatcher.DefaultReceiptLookupAge
)

// DefaultUnsubscribeKeywords returns the default of Config.UnsubscribeKeywords
// (dispatcher.DefaultUnsubscribeKeywords): TD, T, N, STOP, UNSUBSCRIBE, QUIT.
func DefaultUnsubscribeKeywords() []string { return dispatcher.DefaultUnsubscribeKeywords() }

// minCallbackToken is the least length of Config.CallbackToken.
const minCallbackToken = 16

// Queue weights of the main server (tasks.QueueNormal, tasks.QueueBulk). tasks.QueueMaint has
// its own server (MaintConcurrency), so reconciling never takes a slot that sends.
const (
	WeightNormal = 6
	WeightBulk   = 1
)

// Config is everything a Worker needs. It holds plain values only, except Redis, which the caller
// creates and owns (the Worker never closes it). Zero fields take the Default constants (see
// WithDefaults); Validate names the first bad field.
type Config struct {
	// Redis is the shared client (a *redis.Client, failover or cluster client). Required.
	Redis redis.UniversalClient

	// Tencent configures the Tencent Cloud SMS API client (credentials, region, endpoint).
	Tencent tencentsms.Config
	// AppID is the default SmsSdkAppId, for jobs that do not name one. Required.
	AppID string
	// SignName is the default sign name, for jobs that do not name one.
	SignName string

	// RateLimit is the fleet-wide SendSms limit: calls in any sliding second, summed over every
	// worker sharing Redis. Default DefaultRateLimit (3000).
	RateLimit int
	// StatusPullInterval is the wait between receipt pulls (PullSmsSendStatus). Default
	// DefaultStatusPullInterval (10 s, dispatcher.DefaultPullInterval).
	StatusPullInterval time.Duration

	// Concurrency is the number of main-server slots (normal and bulk queues). Default
	// DefaultConcurrency (32).
	Concurrency int
	// OTPConcurrency is the number of slots of the OTP server, which serves only the otp queue, so
	// OTPs are never stuck behind bulk batches. Default DefaultOTPConcurrency (8).
	OTPConcurrency int
	// MaintConcurrency is the number of slots of the maintenance server, which serves only the
	// maint queue (reconcile and halt probes), so that reconciling thousands of unknown numbers
	// (lookups at 20 calls/s for the account) never holds a slot that sends. Default
	// DefaultMaintConcurrency (4).
	MaintConcurrency int

	// ReconcileWindow is how long numbers with an unknown outcome wait for evidence (a receipt)
	// before they are looked up by number and, without evidence, resent. Default
	// DefaultReconcileWindow (60 s, dispatcher.DefaultReconcileWindow). It sets both
	// dispatcher.SendConfig.ReconcileWindow and dispatcher.ReconcileConfig.ReconcileWindow.
	ReconcileWindow time.Duration
	// ReceiptWindow is how long after its send a number without a receipt still keeps its job
	// open; after it the number counts as sent with an unknown delivery. Default
	// DefaultReceiptWindow (1 h, store.DefaultReceiptWindow).
	ReceiptWindow time.Duration
	// ReceiptLookupAge is how long after its send a number without a receipt waits before it is
	// looked up by number (PullSmsSendStatusByPhoneNumber, within the by-number budget): the
	// recovery of receipt pages lost by a crash between their pull and their save. Default
	// DefaultReceiptLookupAge (5 min, dispatcher.DefaultReceiptLookupAge).
	ReceiptLookupAge time.Duration
	// ClaimLease is how long a batch claim is honoured without a commit before its numbers are
	// considered unknown (the attempt died). Keep it above Tencent.Timeout. Default
	// DefaultClaimLease (60 s, store.DefaultClaimLease).
	ClaimLease time.Duration
	// Retention is the TTL of job records, serial index and receipts. Default DefaultRetention
	// (72 h, store.DefaultRetention).
	Retention time.Duration
	// HaltProbeInterval is how long a halted app waits before one batch probes it. Default
	// DefaultHaltProbeInterval (5 min, dispatcher.DefaultHaltProbeInterval).
	HaltProbeInterval time.Duration
	// SweepInterval is the period of the sweeper (re-enqueues batches whose task is gone).
	// Default DefaultSweepInterval (1 min, dispatcher.DefaultSweepInterval).
	SweepInterval time.Duration
	// SweepGrace is how long a batch may be due without having been sent before the sweeper
	// enqueues its task again. Default DefaultSweepGrace (1 min, dispatcher.DefaultSweepGrace).
	SweepGrace time.Duration

	// ShutdownTimeout is how long Shutdown lets running handlers finish before asynq puts their
	// tasks back in Redis (the batch records then settle them). Default DefaultShutdownTimeout
	// (15 s), above the Tencent client's default 10 s call timeout.
	ShutdownTimeout time.Duration
	// TaskCheckInterval is the main server's poll interval when its queues are empty. Default
	// DefaultTaskCheckInterval (1 s).
	TaskCheckInterval time.Duration
	// OTPTaskCheckInterval is the OTP server's poll interval. Default
	// DefaultOTPTaskCheckInterval (10 ms).
	OTPTaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often scheduled and retry tasks are moved to pending on
	// both servers. Default DefaultDelayedTaskCheckInterval (1 s).
	DelayedTaskCheckInterval time.Duration

	// MetricsAddr is the host:port of the HTTP endpoints /metrics, /healthz and /readyz. Empty
	// means no HTTP server; port 0 picks a free port (see Worker.MetricsAddr).
	MetricsAddr string

	// CallbackToken, when set, serves Tencent's status callback at POST /callback/status/<token>
	// and reply callback at POST /callback/reply/<token> (see dispatcher.Callbacks); a request
	// with another token is 404. A secret: at least 16 characters of A-Z a-z 0-9 . _ ~ -. Empty
	// means no callback endpoint (receipts and replies are pulled only).
	CallbackToken string
	// CallbackAddr is the host:port of the callback endpoints. Empty, or equal to MetricsAddr,
	// serves them on the MetricsAddr listener; port 0 picks a free port of their own (see
	// Worker.CallbackAddr).
	CallbackAddr string
	// UnsubscribeKeywords are the replies (whole, trimmed, any case) that add their number to
	// the suppression list. Default DefaultUnsubscribeKeywords().
	UnsubscribeKeywords []string

	// RetryPolicy is the send retry policy; zero fields take retry's defaults. HaltProbe, when
	// zero, is set from HaltProbeInterval.
	RetryPolicy retry.Policy

	// Now is the clock (nil means time.Now).
	Now func() time.Time
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field string // Go field name, e.g. "RateLimit"
	Value any
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("worker: config %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("worker: config %s = %v: %v", e.Field, e.Value, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

var (
	errRequired    = errors.New("required")
	errNotPositive = errors.New("must be positive")
	errNegative    = errors.New("must not be negative")
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&c.RateLimit, DefaultRateLimit)
	setDur(&c.StatusPullInterval, DefaultStatusPullInterval)
	setInt(&c.Concurrency, DefaultConcurrency)
	setInt(&c.OTPConcurrency, DefaultOTPConcurrency)
	setInt(&c.MaintConcurrency, DefaultMaintConcurrency)
	setDur(&c.ReconcileWindow, DefaultReconcileWindow)
	setDur(&c.ReceiptWindow, DefaultReceiptWindow)
	setDur(&c.ClaimLease, DefaultClaimLease)
	setDur(&c.Retention, DefaultRetention)
	setDur(&c.HaltProbeInterval, DefaultHaltProbeInterval)
	setDur(&c.SweepInterval, DefaultSweepInterval)
	setDur(&c.SweepGrace, DefaultSweepGrace)
	setDur(&c.ShutdownTimeout, DefaultShutdownTimeout)
	setDur(&c.TaskCheckInterval, DefaultTaskCheckInterval)
	setDur(&c.OTPTaskCheckInterval, DefaultOTPTaskCheckInterval)
	setDur(&c.DelayedTaskCheckInterval, DefaultDelayedTaskCheckInterval)
	setDur(&c.ReceiptLookupAge, DefaultReceiptLookupAge)
	if c.UnsubscribeKeywords == nil {
		c.UnsubscribeKeywords = DefaultUnsubscribeKeywords()
	}
	if c.RetryPolicy.HaltProbe == 0 {
		c.RetryPolicy.HaltProbe = c.HaltProbeInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks c (after WithDefaults; New applies both) and returns a *ConfigError naming the
// first bad field.
func (c Config) Validate() error {
	bad := func(field string, value any, err error) error {
		return &ConfigError{Field: field, Value: value, Err: err}
	}
	if c.Redis == nil {
		return bad("Redis", nil, errRequired)
	}
	if c.Tencent.SecretID == "" {
		return bad("Tencent.SecretID", nil, errRequired)
	}
	if c.Tencent.SecretKey == "" {
		return bad("Tencent.SecretKey", nil, errRequired)
	}
	if c.AppID == "" {
		return bad("AppID", nil, errRequired)
	}
	for _, r := range []struct {
		field string
		v     int
	}{
		{"RateLimit", c.RateLimit}, {"Concurrency", c.Concurrency}, {"OTPConcurrency", c.OTPConcurrency}, {"MaintConcurrency", c.MaintConcurrency},
	} {
		if r.v <= 0 {
			return bad(r.field, r.v, errNotPositive)
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"StatusPullInterval", c.StatusPullInterval},
		{"ReconcileWindow", c.ReconcileWindow},
		{"ReceiptWindow", c.ReceiptWindow},
		{"ClaimLease", c.ClaimLease},
		{"Retention", c.Retention},
		{"HaltProbeInterval", c.HaltProbeInterval},
		{"SweepInterval", c.SweepInterval},
		{"SweepGrace", c.SweepGrace},
		{"ShutdownTimeout", c.ShutdownTimeout},
		{"TaskCheckInterval", c.TaskCheckInterval},
		{"OTPTaskCheckInterval", c.OTPTaskCheckInterval},
		{"DelayedTaskCheckInterval", c.DelayedTaskCheckInterval},
		{"ReceiptLookupAge", c.ReceiptLookupAge},
	} {
		if d.v <= 0 {
			return bad(d.field, d.v, errNotPositive)
		}
	}
	if c.Retention < c.ReceiptWindow {
		return bad("Retention", c.Retention, fmt.Errorf("must be at least ReceiptWindow (%s)", c.ReceiptWindow))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return bad("MetricsAddr", c.MetricsAddr, fmt.Errorf("not host:port: %w", err))
		}
	}
	return c.validateCallbacks()
}

// validateCallbacks checks the callback settings. The token is never echoed.
func (c Config) validateCallbacks() error {
	bad := func(field string, value any, err error) error {
		return &ConfigError{Field: field, Value: value, Err: err}
	}
	if c.CallbackToken != "" {
		if len(c.CallbackToken) < minCallbackToken || strings.Trim(c.CallbackToken, tokenChars) != "" {
			return bad("CallbackToken", nil, fmt.Errorf("must be at least %d characters of A-Z a-z 0-9 . _ ~ -", minCallbackToken))
		}
		if c.CallbackAddr == "" && c.MetricsAddr == "" {
			return bad("CallbackAddr", nil, errors.New("required when CallbackToken is set and MetricsAddr is empty"))
		}
	}
	if c.CallbackAddr != "" {
		if c.CallbackToken == "" {
			return bad("CallbackAddr", c.CallbackAddr, errors.New("set without CallbackToken (no callback is served)"))
		}
		if _, _, err := net.SplitHostPort(c.CallbackAddr); err != nil {
			return bad("CallbackAddr", c.CallbackAddr, fmt.Errorf("not host:port: %w", err))
		}
	}
	if len(c.UnsubscribeKeywords) == 0 {
		return bad("UnsubscribeKeywords", nil, errors.New("empty: set at least one keyword"))
	}
	if _, err := dispatcher.NewKeywords(c.UnsubscribeKeywords); err != nil {
		return bad("UnsubscribeKeywords", c.UnsubscribeKeywords, err)
	}
	return nil
}

// tokenChars are the characters of a callback token: URL-path safe as they are.
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"

// callbacksShareMetrics reports whether the callbacks are served on the MetricsAddr listener.
func (c Config) callbacksShareMetrics() bool {
	if c.CallbackToken == "" {
		return false
	}
	if c.CallbackAddr == "" {
		return true
	}
	_, port, _ := net.SplitHostPort(c.CallbackAddr)
	return c.CallbackAddr == c.MetricsAddr && port != "0"
}
