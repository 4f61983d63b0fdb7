package store

import (
	"math"
	"strconv"
	"time"
)

// maxDuration is the longest time.Duration (about 292 years).
const maxDuration = time.Duration(math.MaxInt64)

// addSat returns a+b for non-negative durations, saturating at the longest time.Duration instead
// of overflowing into a negative TTL (which Redis takes as "expire now").
func addSat(a, b time.Duration) time.Duration {
	if b > 0 && a > maxDuration-b {
		return maxDuration
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// ttlMs is a TTL argument (ms) for a script: d in milliseconds, at least 1 ms, so a computed
// TTL can never delete the key it is meant to keep (PEXPIRE with 0 or less deletes it).
func ttlMs(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}

// minStoredTime and maxStoredTime bound the times a job record holds as unix milliseconds.
var (
	minStoredTime = time.UnixMilli(1)
	maxStoredTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// checkTime checks that t (a job's send, expiry or creation time) is zero or between 1970 and
// the year 9999, so its unix-millisecond form neither overflows nor reads as "not set".
func checkTime(job, what string, t time.Time) error {
	if t.IsZero() || !t.Before(minStoredTime) && !t.After(maxStoredTime) {
		return nil
	}
	return invalidf("job %s: %s %s is outside 1970..9999", job, what, t.UTC().Format(time.RFC3339))
}
