package dispatcher

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// Defaults of ReceiptLookupConfig. dispatcher owns them; worker aliases DefaultReceiptLookupAge
// (worker.DefaultReceiptLookupAge).
const (
	// DefaultReceiptLookupAge is the default of ReceiptLookupConfig.Age: how long after its send
	// a number without a receipt waits before it is looked up by number (receipts normally
	// arrive by pull within a minute or two).
	DefaultReceiptLookupAge = 5 * time.Minute
	// DefaultReceiptLookupRounds is the default of ReceiptLookupConfig.Rounds: how many times a
	// number is looked up at most. Round r is due Age·4^(r-1) after the send (5 and 20 minutes
	// by default), for receipts that Tencent did not have yet at the first lookup.
	DefaultReceiptLookupRounds = 2
	// DefaultReceiptLookupInterval is the default of ReceiptLookupConfig.Interval, the wait
	// between runs.
	DefaultReceiptLookupInterval = time.Minute
	// DefaultReceiptLookupMaxPerRun is the default of ReceiptLookupConfig.MaxPerRun, the bound
	// of the numbers looked up per run: at the default interval at most 10 lookups/s on average,
	// about half of the 20/s account budget, so reconcile (which shares the budget) always gets
	// its share.
	DefaultReceiptLookupMaxPerRun = 600
)

// ReceiptLookupConfig configures a ReceiptLookup. Store, Puller and Limiter are required.
type ReceiptLookupConfig struct {
	Store  LookupStore
	Puller PhoneStatusPuller
	// Limiter is the fleet-wide budget of PullSmsSendStatusByPhoneNumber (20 calls/s per
	// account), the one reconcile uses.
	Limiter Limiter
	Logger  *zap.Logger // nil: no logs
	Metrics *Metrics    // nil: unregistered metrics
	// Age is how long after its send a number without a receipt is first looked up. Default
	// DefaultReceiptLookupAge (5 min).
	Age time.Duration
	// Rounds is how many times a number is looked up at most. Default
	// DefaultReceiptLookupRounds (2).
	Rounds int
	// Interval is the wait between runs. Default DefaultReceiptLookupInterval (1 min).
	Interval time.Duration
	// MaxPerRun bounds the lookups of one run. Default DefaultReceiptLookupMaxPerRun (600).
	MaxPerRun int
	// LeaseTTL is how long one worker holds the lookup lease without renewal (renewed every
	// batch). Default 2 × Interval.
	LeaseTTL time.Duration
	// Owner identifies this loop in the lease. Default: a random token.
	Owner string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// validate reports the first missing dependency or negative value of c (before withDefaults).
func (c ReceiptLookupConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("dispatcher: ReceiptLookupConfig.Store is nil")
	case c.Puller == nil:
		return errors.New("dispatcher: ReceiptLookupConfig.Puller is nil")
	case c.Limiter == nil:
		return errors.New("dispatcher: ReceiptLookupConfig.Limiter is nil")
	case c.Age < 0 || c.Interval < 0 || c.LeaseTTL < 0 || c.Rounds < 0 || c.MaxPerRun < 0:
		return errors.New("dispatcher: ReceiptLookupConfig durations and counts must not be negative")
	}
	return nil
}

// withDefaults returns c with every zero duration and count set to its default (LeaseTTL
// derived from the defaulted Interval) and an empty Owner set to a random token.
func (c ReceiptLookupConfig) withDefaults() ReceiptLookupConfig {
	if c.Age == 0 {
		c.Age = DefaultReceiptLookupAge
	}
	if c.Rounds == 0 {
		c.Rounds = DefaultReceiptLookupRounds
	}
	if c.Interval == 0 {
		c.Interval = DefaultReceiptLookupInterval
	}
	if c.MaxPerRun == 0 {
		c.MaxPerRun = DefaultReceiptLookupMaxPerRun
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 2 * c.Interval
	}
	if c.Owner == "" {
		c.Owner = newToken()
	}
	return c
}
