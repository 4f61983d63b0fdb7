package dispatcher

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/retry"
)

// Defaults of SendConfig (and of the other configs that share the fields). dispatcher owns them;
// worker aliases them (worker.DefaultReconcileWindow and so on).
const (
	// DefaultReconcileWindow is the default of SendConfig.ReconcileWindow and
	// ReconcileConfig.ReconcileWindow.
	DefaultReconcileWindow = 60 * time.Second
	// DefaultHaltProbeInterval is the default of SendConfig.HaltProbeInterval: the retry
	// package's halt probe delay (retry.DefaultHaltProbe), of which it is the setting.
	DefaultHaltProbeInterval = retry.DefaultHaltProbe
	// DefaultHaltCacheTTL is the default of SendConfig.HaltCacheTTL.
	DefaultHaltCacheTTL = time.Second
	// DefaultCommitTimeout is the default of SendConfig.CommitTimeout.
	DefaultCommitTimeout = 10 * time.Second
)

// SendConfig configures a SendHandler. Store, Sender, Enqueuer and Limiter are required.
type SendConfig struct {
	Store    SendStore
	Sender   Sender
	Enqueuer Enqueuer
	// Limiter is the fleet-wide SendSms budget (ratelimit.Limiter keyed on SendSms, region and
	// SecretId).
	Limiter Limiter
	Logger  *zap.Logger // nil: no logs
	Metrics *Metrics    // nil: unregistered metrics
	// Suppressor is the suppression list: numbers on it are left out of every SendSms call and
	// committed suppressed, and numbers Tencent answers with PhoneNumberInBlacklist are added to
	// it. *store.Store satisfies it (the worker wires its store). nil: no suppression list.
	Suppressor Suppressor

	// Policy classifies outcomes; zero fields take the retry package defaults, and a zero
	// HaltProbe takes HaltProbeInterval.
	Policy retry.Policy
	// ReconcileWindow is how long numbers with an unknown outcome wait for a receipt before
	// reconcile looks them up by number and resends those without evidence (otp jobs: at once).
	// Default 60 s.
	ReconcileWindow time.Duration
	// HaltProbeInterval is how long a halted app waits before a probe. Default 5 min.
	HaltProbeInterval time.Duration
	// HaltCacheTTL is how long a halt lookup is reused by this process (so that a batch costs no
	// extra Redis round trip); a halt is seen by every worker within it. Default 1 s; negative
	// disables the cache.
	HaltCacheTTL time.Duration
	// CommitTimeout bounds the writes after a SendSms call (serial index, commit, follow-up
	// tasks). They run even when the task's context has ended, because dropping them would turn
	// accepted numbers into unknowns. Default 10 s.
	CommitTimeout time.Duration
	// SignName is used for domestic batches of jobs that have none.
	SignName string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Suppressor is the suppression list the send path reads (once per batch, before the call) and
// adds to; *store.Store satisfies it.
type Suppressor interface {
	// Suppressed reports for each E.164 number whether it is on the list.
	Suppressed(ctx context.Context, numbers []string) ([]bool, error)
	// Suppress adds E.164 numbers to the list with a reason.
	Suppress(ctx context.Context, numbers []string, reason string) error
}

// validate reports the first missing dependency or negative duration of c (before withDefaults).
func (c SendConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("dispatcher: SendConfig.Store is nil")
	case c.Sender == nil:
		return errors.New("dispatcher: SendConfig.Sender is nil")
	case c.Enqueuer == nil:
		return errors.New("dispatcher: SendConfig.Enqueuer is nil")
	case c.Limiter == nil:
		return errors.New("dispatcher: SendConfig.Limiter is nil")
	case c.ReconcileWindow < 0, c.HaltProbeInterval < 0, c.CommitTimeout < 0:
		return errors.New("dispatcher: SendConfig durations must not be negative")
	}
	return nil
}

// withDefaults returns c with every zero duration set to its Default constant, and a zero
// Policy.HaltProbe set to HaltProbeInterval.
func (c SendConfig) withDefaults() SendConfig {
	if c.ReconcileWindow == 0 {
		c.ReconcileWindow = DefaultReconcileWindow
	}
	if c.HaltProbeInterval == 0 {
		c.HaltProbeInterval = DefaultHaltProbeInterval
	}
	if c.HaltCacheTTL == 0 {
		c.HaltCacheTTL = DefaultHaltCacheTTL
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.Policy.HaltProbe == 0 {
		c.Policy.HaltProbe = c.HaltProbeInterval
	}
	return c
}
