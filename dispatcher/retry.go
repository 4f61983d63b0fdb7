package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// RetryAfterError asks asynq to run the task again after Delay without counting a failure: the
// task is waiting (a claim held by another run, a send-at in the future, a throttled call, a
// reconcile window still open, a rate-limiter wait cut short), not failing. Install RetryDelay and
// IsFailure in asynq.Config so that asynq honours it.
type RetryAfterError struct {
	Delay  time.Duration
	Reason string // a few words for logs; never matched on
	Err    error  // optional cause
}

func (e *RetryAfterError) Error() string {
	s := fmt.Sprintf("dispatcher: retry after %s: %s", e.Delay.Round(time.Millisecond), e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *RetryAfterError) Unwrap() error { return e.Err }

func retryAfter(d time.Duration, reason string, cause error) *RetryAfterError {
	return &RetryAfterError{Delay: max(d, 0), Reason: reason, Err: cause}
}

// Backoff of RetryDelay for real failures.
const (
	FailureBaseDelay = 2 * time.Second
	FailureMaxDelay  = 5 * time.Minute
)

// RetryDelay is an asynq.RetryDelayFunc:
//   - a *RetryAfterError anywhere in err's chain: its Delay, rounded up to the next whole second
//     (asynq stores retry times in whole seconds, truncating, so an unrounded delay could run the
//     task early);
//   - asynq.ErrLeaseExpired (a worker died holding the task): 0, since the batch record, not the
//     task, protects against a double send;
//   - anything else: capped exponential backoff with jitter, FailureBaseDelay·2^n up to
//     FailureMaxDelay.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var ra *RetryAfterError
	switch {
	case errors.As(err, &ra):
		return roundUpToSecond(time.Now(), ra.Delay)
	case errors.Is(err, asynq.ErrLeaseExpired):
		return 0
	}
	ceiling := FailureMaxDelay
	if n < 20 {
		ceiling = min(FailureBaseDelay<<max(n, 0), FailureMaxDelay)
	}
	// Half fixed, half jitter: never less than half the ceiling.
	return ceiling/2 + time.Duration(rand.Int64N(int64(ceiling/2)+1))
}

// roundUpToSecond returns the delay from now to the first whole second at or after now+d.
func roundUpToSecond(now time.Time, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	at := now.Add(d)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	return at.Sub(now)
}

// IsFailure is an asynq IsFailure func: a *RetryAfterError (a wait) and a cancelled context
// (shutdown, CancelProcessing) do not count against the task's retries; every other error does.
func IsFailure(err error) bool {
	if err == nil {
		return false
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return false
	}
	return !errors.Is(err, context.Canceled)
}
