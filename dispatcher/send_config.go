package dispatcher

import "errors"

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
