package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

func TestIsFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"wait", retryAfter(time.Second, "busy", nil), false},
		{"wrapped wait", fmt.Errorf("x: %w", retryAfter(0, "busy", nil)), false},
		{"rate-limit wait cut short", retryAfter(time.Second, "rate-limit wait ended", context.DeadlineExceeded), false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), false},
		{"deadline", context.DeadlineExceeded, true},
		{"redis", errors.New("redis down"), true},
		{"skip retry", fmt.Errorf("bad payload: %w", asynq.SkipRetry), true},
	}
	for _, tt := range tests {
		if got := IsFailure(tt.err); got != tt.want {
			t.Errorf("%s: IsFailure = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	if d := RetryDelay(3, retryAfter(0, "now", nil), nil); d != 0 {
		t.Errorf("zero wait: %v", d)
	}
	// A wait is rounded up to a whole second of the clock, never shortened.
	for _, want := range []time.Duration{time.Millisecond, 1500 * time.Millisecond, 42 * time.Second} {
		d := RetryDelay(0, fmt.Errorf("wrapped: %w", retryAfter(want, "x", nil)), nil)
		if d < want || d > want+time.Second {
			t.Errorf("RetryDelay(wait %v) = %v", want, d)
		}
	}
	if d := RetryDelay(5, asynq.ErrLeaseExpired, nil); d != 0 {
		t.Errorf("lease expired: %v, want 0", d)
	}
	for n := range 40 {
		d := RetryDelay(n, errors.New("boom"), nil)
		ceiling := FailureMaxDelay
		if n < 20 {
			ceiling = min(FailureBaseDelay<<n, FailureMaxDelay)
		}
		if d < ceiling/2 || d > ceiling {
			t.Errorf("RetryDelay(%d) = %v, want in [%v, %v]", n, d, ceiling/2, ceiling)
		}
	}
}

func TestRoundUpToSecond(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 300_000_000, time.UTC)
	tests := []struct{ d, want time.Duration }{
		{0, 0},
		{-time.Second, 0},
		{700 * time.Millisecond, 700 * time.Millisecond},
		{800 * time.Millisecond, 1700 * time.Millisecond},
		{2 * time.Second, 2700 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := roundUpToSecond(now, tt.d); got != tt.want {
			t.Errorf("roundUpToSecond(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestRetryAfterErrorMessage(t *testing.T) {
	t.Parallel()
	err := retryAfter(1500*time.Millisecond, "busy", errors.New("cause"))
	if got := err.Error(); got != "dispatcher: retry after 1.5s: busy: cause" {
		t.Errorf("Error() = %q", got)
	}
}

func TestConstructorsRejectMissingDependencies(t *testing.T) {
	t.Parallel()
	if _, err := NewSendHandler(SendConfig{}); err == nil {
		t.Error("NewSendHandler accepted an empty config")
	}
	if _, err := NewReconcileHandler(ReconcileConfig{}); err == nil {
		t.Error("NewReconcileHandler accepted an empty config")
	}
	if _, err := NewProbeHandler(ProbeConfig{}); err == nil {
		t.Error("NewProbeHandler accepted an empty config")
	}
	if _, err := NewPuller(PullerConfig{}); err == nil {
		t.Error("NewPuller accepted an empty config")
	}
	if _, err := NewSweeper(SweeperConfig{}); err == nil {
		t.Error("NewSweeper accepted an empty config")
	}
}
