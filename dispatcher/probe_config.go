package dispatcher

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// DefaultProbeTries is the default of ProbeConfig.Tries: how many parked batches one probe takes
// before giving up for now, when the batches it takes need no send (cancelled, expired, already
// settled).
const DefaultProbeTries = 10

// ProbeConfig configures a ProbeHandler. Send, Store and Enqueuer are required.
type ProbeConfig struct {
	// Send is the SendHandler whose send path the probe uses (bypassing its halt check).
	Send     *SendHandler
	Store    ProbeStore
	Enqueuer Enqueuer
	Logger   *zap.Logger // nil: no logs
	Metrics  *Metrics    // nil: unregistered metrics
	// HaltProbeInterval is the wait before the next probe when a probe learned nothing (the
	// call's outcome was unknown). Default: the SendHandler's Policy.HaltProbe (itself
	// SendConfig.HaltProbeInterval unless set).
	HaltProbeInterval time.Duration
	// Tries bounds the parked batches one probe takes. Default DefaultProbeTries (10).
	Tries int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// validate reports the first missing dependency or negative value of c (before withDefaults).
func (c ProbeConfig) validate() error {
	switch {
	case c.Send == nil:
		return errors.New("dispatcher: ProbeConfig.Send is nil")
	case c.Store == nil:
		return errors.New("dispatcher: ProbeConfig.Store is nil")
	case c.Enqueuer == nil:
		return errors.New("dispatcher: ProbeConfig.Enqueuer is nil")
	case c.HaltProbeInterval < 0 || c.Tries < 0:
		return errors.New("dispatcher: ProbeConfig.HaltProbeInterval and Tries must not be negative")
	}
	return nil
}

// withDefaults returns c with a zero HaltProbeInterval set to the SendHandler's halt probe delay
// and a zero Tries set to DefaultProbeTries. c must be valid (Send set).
func (c ProbeConfig) withDefaults() ProbeConfig {
	if c.HaltProbeInterval == 0 {
		c.HaltProbeInterval = c.Send.policy.HaltProbe
	}
	if c.Tries == 0 {
		c.Tries = DefaultProbeTries
	}
	return c
}
