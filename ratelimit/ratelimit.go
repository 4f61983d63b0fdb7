// Package ratelimit is smsdispatch's fleet-wide rate limiter: every process that builds a Limiter
// with the same Redis, key and rate shares one budget of calls per second.
//
// # Guarantee
//
// A Limiter built with New(rdb, key, n) grants at most n calls in ANY sliding one-second window
// (closed at both ends), summed over every process sharing that Redis key. It is the GCRA of
// github.com/go-redis/redis_rate/v10 (one Lua script, one round trip per attempt, the state is a
// single "theoretical arrival time" in Redis) with a burst of 1 and a rate with headroom:
//
//	r = n - ceil(n/20)    (n >= 2; for n = 1: one grant per 1.05 s)
//
// With burst 1 the script grants only when the stored arrival time has passed, and then moves it
// 1/r seconds past the grant, so any two grants are at least 1/r s apart on the Redis clock
// (TIME, read inside the script). A closed one-second window therefore holds at most
// floor(r)+1 <= n grants. The ~5 % headroom also absorbs float rounding in the script.
// redis_rate.PerSecond(n), by contrast, has burst n: up to about 2n calls can land in one
// sliding second (a full bucket plus a second's refill), so it is not used.
//
// What the guarantee rests on:
//   - every process uses the same n for one key (with different rates the smallest interval
//     wins);
//   - the Redis clock does not step backwards (a failover to a replica with a slower clock, or an
//     NTP step, can let grants through early, for at most the size of the step);
//   - a grant is counted when it is granted: a caller that is granted and then does not call
//     simply wastes its slot (the limit is never exceeded, the throughput can be lower).
//
// Throughput is at most r per second (about 95 % of n), and lower when callers arrive unevenly:
// with burst 1 an unused slot is lost, not saved up.
//
// # Waiting
//
// Wait blocks until a grant, sleeping the script's RetryAfter (capped at MaxSleep) between
// attempts, and returns as soon as its context ends. Waiting inside a task handler is cheaper than
// failing the task back to asynq, which re-queues with whole-second delays.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// MaxSleep caps one sleep of Wait between two attempts, so that a waiter re-checks the shared
// state at least this often (for example after another process changed its rate).
const MaxSleep = 100 * time.Millisecond

// ErrInvalidArgument is wrapped by every error New returns for a bad argument.
var ErrInvalidArgument = errors.New("ratelimit: invalid argument")

// Limiter is a fleet-wide limiter of calls per second, shared through Redis. It is safe for
// concurrent use.
type Limiter struct {
	rl        *redis_rate.Limiter
	key       string
	limit     redis_rate.Limit
	perSecond int
	interval  time.Duration
}

// New returns a Limiter granting at most perSecond calls in any sliding second across every
// process that uses the same rdb and key (see the package comment for the guarantee). key names
// the budget, e.g. Key("SendSms", region, secretID); redis_rate stores it under "rate:"+key.
func New(rdb redis.UniversalClient, key string, perSecond int) (*Limiter, error) {
	switch {
	case rdb == nil:
		return nil, fmt.Errorf("%w: rdb is nil", ErrInvalidArgument)
	case key == "":
		return nil, fmt.Errorf("%w: key is empty", ErrInvalidArgument)
	case perSecond < 1:
		return nil, fmt.Errorf("%w: perSecond is %d, want at least 1", ErrInvalidArgument, perSecond)
	}
	limit := LimitFor(perSecond)
	return &Limiter{
		rl:        redis_rate.NewLimiter(rdb),
		key:       key,
		limit:     limit,
		perSecond: perSecond,
		interval:  time.Duration(float64(limit.Period) / float64(limit.Rate)),
	}, nil
}

// LimitFor returns the redis_rate limit New uses for perSecond (at least 1): burst 1 and a rate
// of perSecond - ceil(perSecond/20) per second (one per 1.05 s for perSecond = 1).
func LimitFor(perSecond int) redis_rate.Limit {
	perSecond = max(perSecond, 1)
	if perSecond == 1 {
		return redis_rate.Limit{Rate: 1, Burst: 1, Period: 1050 * time.Millisecond}
	}
	headroom := (perSecond + 19) / 20
	return redis_rate.Limit{Rate: perSecond - headroom, Burst: 1, Period: time.Second}
}

// Key returns a limiter key for one Tencent API budget, which Tencent counts per API, region and
// (sub-)account. The SecretId is hashed so that it does not appear in Redis.
func Key(api, region, secretID string) string {
	sum := sha256.Sum256([]byte(secretID))
	return "tencent:" + api + ":" + region + ":" + hex.EncodeToString(sum[:8])
}

// PerSecond returns the limit the Limiter was built with (the guarantee, not the granted rate).
func (l *Limiter) PerSecond() int { return l.perSecond }

// Interval returns the minimum time between two grants on the Redis clock.
func (l *Limiter) Interval() time.Duration { return l.interval }

// Allow makes one attempt. It reports whether the call is granted and, when it is not, how long
// until the next grant could be possible.
func (l *Limiter) Allow(ctx context.Context) (ok bool, retryAfter time.Duration, err error) {
	res, err := l.rl.Allow(ctx, l.key, l.limit)
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: %s: %w", l.key, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, 0), nil
}

// Wait blocks until a call is granted or ctx ends. It returns nil when granted, ctx.Err()
// (wrapped) when ctx ended first, or a Redis error.
func (l *Limiter) Wait(ctx context.Context) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ratelimit: wait: %w", err)
		}
		ok, retryAfter, err := l.Allow(ctx)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return fmt.Errorf("ratelimit: wait: %w", ctxErr)
			}
			return err
		}
		if ok {
			return nil
		}
		// A small jitter (up to a quarter interval) keeps the waiters of one process from
		// retrying in lockstep.
		d := min(retryAfter+time.Duration(rand.Int64N(int64(l.interval/4)+1)), MaxSleep)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ratelimit: wait: %w", ctx.Err())
		case <-timer.C:
		}
	}
}
