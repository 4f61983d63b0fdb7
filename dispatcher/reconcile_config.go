package dispatcher

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// DefaultEvidenceSlack is the default of ReconcileConfig.EvidenceSlack: how far before an
// attempt's claim time a receipt is still accepted as evidence, room for clock skew between
// workers, Redis and Tencent only. Receipt times (pulled, and PullSmsSendStatusByPhoneNumber's)
// are receive times, always after the send; a wider margin would take the receipt of an earlier
// send of the same number (another job's) as proof.
const DefaultEvidenceSlack = 5 * time.Second

// ReconcileConfig configures a ReconcileHandler. Store, Puller, Enqueuer and Limiter are required.
type ReconcileConfig struct {
	Store    ReconcileStore
	Puller   PhoneStatusPuller
	Enqueuer Enqueuer
	// Limiter is the fleet-wide budget of PullSmsSendStatusByPhoneNumber, which Tencent limits to
	// 20 calls/s per account: use a ratelimit.Limiter of its own key at 18/s.
	Limiter Limiter
	Logger  *zap.Logger // nil: no logs
	Metrics *Metrics    // nil: unregistered metrics
	// ReconcileWindow is how long unknown numbers wait for evidence before being looked up by
	// number and, without evidence, resent. Default DefaultReconcileWindow (60 s, shared with
	// SendConfig.ReconcileWindow). otp jobs that have not expired are resent at once.
	ReconcileWindow time.Duration
	// EvidenceSlack widens the evidence window before the attempt's claim time (clock skew).
	// Default DefaultEvidenceSlack (5 s).
	EvidenceSlack time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// validate reports the first missing dependency or negative duration of c (before withDefaults).
func (c ReconcileConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("dispatcher: ReconcileConfig.Store is nil")
	case c.Puller == nil:
		return errors.New("dispatcher: ReconcileConfig.Puller is nil")
	case c.Enqueuer == nil:
		return errors.New("dispatcher: ReconcileConfig.Enqueuer is nil")
	case c.Limiter == nil:
		return errors.New("dispatcher: ReconcileConfig.Limiter is nil")
	case c.ReconcileWindow < 0 || c.EvidenceSlack < 0:
		return errors.New("dispatcher: ReconcileConfig durations must not be negative")
	}
	return nil
}

// withDefaults returns c with every zero duration set to its Default constant.
func (c ReconcileConfig) withDefaults() ReconcileConfig {
	if c.ReconcileWindow == 0 {
		c.ReconcileWindow = DefaultReconcileWindow
	}
	if c.EvidenceSlack == 0 {
		c.EvidenceSlack = DefaultEvidenceSlack
	}
	return c
}
