package dispatcher

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// Defaults of SweeperConfig. dispatcher owns them; worker aliases them
// (worker.DefaultSweepInterval, worker.DefaultSweepGrace).
const (
	// DefaultSweepInterval is the default of SweeperConfig.Interval.
	DefaultSweepInterval = time.Minute
	// DefaultSweepGrace is the default of SweeperConfig.Grace.
	DefaultSweepGrace = time.Minute
)

// SweeperConfig configures a Sweeper. Store and Enqueuer are required.
type SweeperConfig struct {
	Store    SweepStore
	Enqueuer Enqueuer
	Logger   *zap.Logger // nil: no logs
	Metrics  *Metrics    // nil: unregistered metrics
	// Interval is the wait between sweeps. Default DefaultSweepInterval (1 min).
	Interval time.Duration
	// Grace is how long a batch may be due (created, send-at or not-before passed) without
	// having been sent before the sweeper enqueues its task again. Default DefaultSweepGrace
	// (1 min).
	Grace time.Duration
	// LeaseTTL is how long one worker holds the sweep lease without renewal. Default
	// 2 × Interval.
	LeaseTTL time.Duration
	// Owner identifies this sweeper in the lease. Default: a random token.
	Owner string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// validate reports the first missing dependency or negative duration of c (before withDefaults).
func (c SweeperConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("dispatcher: SweeperConfig.Store is nil")
	case c.Enqueuer == nil:
		return errors.New("dispatcher: SweeperConfig.Enqueuer is nil")
	case c.Interval < 0 || c.Grace < 0 || c.LeaseTTL < 0:
		return errors.New("dispatcher: SweeperConfig durations must not be negative")
	}
	return nil
}

// withDefaults returns c with every zero duration set to its default (LeaseTTL derived from the
// defaulted Interval) and an empty Owner set to a random token.
func (c SweeperConfig) withDefaults() SweeperConfig {
	if c.Interval == 0 {
		c.Interval = DefaultSweepInterval
	}
	if c.Grace == 0 {
		c.Grace = DefaultSweepGrace
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 2 * c.Interval
	}
	if c.Owner == "" {
		c.Owner = newToken()
	}
	return c
}
