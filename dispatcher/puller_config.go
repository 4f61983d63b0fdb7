package dispatcher

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// Defaults of PullerConfig. dispatcher owns them; worker aliases DefaultPullInterval
// (worker.DefaultStatusPullInterval).
const (
	// DefaultPullInterval is the default of PullerConfig.Interval.
	DefaultPullInterval = 10 * time.Second
	// DefaultMaxPages is the default of PullerConfig.MaxPages: pages of 100 per app and run,
	// 100,000 receipts.
	DefaultMaxPages = 1000
	// DefaultPullSaveTimeout is the default of PullerConfig.SaveTimeout: the bound of the writes
	// after a send (DefaultCommitTimeout), which are as needed as the save of a pulled page.
	DefaultPullSaveTimeout = DefaultCommitTimeout
	// DefaultMissingAppRecheck is the default of PullerConfig.MissingAppRecheck: how long an app
	// that answered SdkAppIdNotExist is not pulled.
	DefaultMissingAppRecheck = time.Hour
	// minPullLeaseTTL is the least default PullerConfig.LeaseTTL.
	minPullLeaseTTL = 30 * time.Second
)

// PullerConfig configures a Puller. Store, Puller and Limiter are required.
type PullerConfig struct {
	Store  ReceiptStore
	Puller StatusPuller
	// Limiter is the fleet-wide budget of PullSmsSendStatus (Tencent: 100 calls/s per account):
	// a ratelimit.Limiter of its own key, e.g. at 90/s.
	Limiter Limiter
	// Apps are pulled on every run besides those Store.Apps returns (the worker's default
	// SmsSdkAppId, so that receipts are pulled even before the first job).
	Apps    []string
	Logger  *zap.Logger // nil: no logs
	Metrics *Metrics    // nil: unregistered metrics
	// Interval is the wait between runs (SMS_STATUS_PULL_INTERVAL). Default DefaultPullInterval
	// (10 s).
	Interval time.Duration
	// LeaseTTL is how long one worker's hold on an app's pull lease lasts without renewal (it is
	// renewed every page and every run). Default 3 × Interval, at least 30 s.
	LeaseTTL time.Duration
	// MaxPages bounds the pages pulled per app and run. Default DefaultMaxPages (1000).
	MaxPages int
	// Owner identifies this puller in leases. Default: a random token.
	Owner string
	// SaveTimeout bounds each round of tries to save a pulled page (and then apply it), which
	// run even after the context ends (a pulled receipt is gone from Tencent). A page still not
	// saved after it is kept in memory and tried again first on the next run. Default
	// DefaultPullSaveTimeout (10 s).
	SaveTimeout time.Duration
	// MissingAppRecheck is how long an app that answered SdkAppIdNotExist is left out of the
	// pulls before it is tried once more. Default DefaultMissingAppRecheck (1 h).
	MissingAppRecheck time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// validate reports the first missing dependency or negative value of c (before withDefaults).
func (c PullerConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("dispatcher: PullerConfig.Store is nil")
	case c.Puller == nil:
		return errors.New("dispatcher: PullerConfig.Puller is nil")
	case c.Limiter == nil:
		return errors.New("dispatcher: PullerConfig.Limiter is nil")
	case c.Interval < 0 || c.LeaseTTL < 0 || c.MaxPages < 0 || c.SaveTimeout < 0 || c.MissingAppRecheck < 0:
		return errors.New("dispatcher: PullerConfig durations and MaxPages must not be negative")
	}
	return nil
}

// withDefaults returns c with every zero duration and count set to its default (LeaseTTL
// derived from the defaulted Interval) and an empty Owner set to a random token.
func (c PullerConfig) withDefaults() PullerConfig {
	if c.Interval == 0 {
		c.Interval = DefaultPullInterval
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = max(3*c.Interval, minPullLeaseTTL)
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.Owner == "" {
		c.Owner = newToken()
	}
	if c.SaveTimeout == 0 {
		c.SaveTimeout = DefaultPullSaveTimeout
	}
	if c.MissingAppRecheck == 0 {
		c.MissingAppRecheck = DefaultMissingAppRecheck
	}
	return c
}
