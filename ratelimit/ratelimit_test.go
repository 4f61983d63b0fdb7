package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func TestNewRejectsBadArguments(t *testing.T) {
	t.Parallel()
	rdb := redistest.Mini(t).Client
	tests := []struct {
		name      string
		rdb       redis.UniversalClient
		key       string
		perSecond int
		want      string // the argument the error must name
	}{
		{"nil client", nil, "k", 10, "rdb"},
		{"empty key", rdb, "", 10, "key"},
		{"zero rate", rdb, "k", 0, "perSecond"},
		{"negative rate", rdb, "k", -3, "perSecond"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := New(tt.rdb, tt.key, tt.perSecond)
			if err == nil {
				t.Fatalf("New = %v, nil; want an error", l)
			}
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("error %v does not wrap ErrInvalidArgument", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
}

// TestLimitForBoundsEveryWindow checks the arithmetic of the guarantee: grants at least one
// emission interval apart put at most floor(1s/interval)+1 grants in a closed one-second window.
func TestLimitForBoundsEveryWindow(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 3, 19, 20, 21, 100, 3000, 100000} {
		lim := LimitFor(n)
		if lim.Burst != 1 {
			t.Errorf("LimitFor(%d).Burst = %d, want 1", n, lim.Burst)
		}
		interval := float64(lim.Period) / float64(lim.Rate)
		worst := int(float64(time.Second)/interval) + 1
		if worst > n {
			t.Errorf("LimitFor(%d) = %v: up to %d grants in a closed second", n, lim, worst)
		}
		if n >= 20 && float64(lim.Rate)/lim.Period.Seconds() < 0.9*float64(n) {
			t.Errorf("LimitFor(%d) = %v wastes more than 10%% of the budget", n, lim)
		}
	}
}

func TestKeyHidesSecretID(t *testing.T) {
	t.Parallel()
	k := Key("SendSms", "ap-guangzhou", "AKIDsecretish")
	if strings.Contains(k, "AKIDsecretish") {
		t.Errorf("Key = %q contains the SecretId", k)
	}
	if k == Key("SendSms", "ap-guangzhou", "AKIDother") || k == Key("PullSmsSendStatus", "ap-guangzhou", "AKIDsecretish") {
		t.Errorf("Key does not separate accounts or APIs: %q", k)
	}
}

// grant is one granted limiter script call as seen by a client: it ran on the server at some
// instant within [start, end].
type grant struct{ start, end time.Time }

// grantRecorder is a go-redis hook that records the client-side interval of every script call
// that returned a grant. It stands for the timestamps of the calls the grants allowed.
type grantRecorder struct {
	mu     sync.Mutex
	grants []grant
}

func (r *grantRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *grantRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (r *grantRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		end := time.Now()
		name := cmd.Name()
		if err != nil || (name != "evalsha" && name != "eval") {
			return err
		}
		if c, ok := cmd.(*redis.Cmd); ok {
			if vals, ok := c.Val().([]any); ok && len(vals) > 0 {
				if allowed, ok := vals[0].(int64); ok && allowed > 0 {
					r.mu.Lock()
					r.grants = append(r.grants, grant{start, end})
					r.mu.Unlock()
				}
			}
		}
		return err
	}
}

// maxCertainInWindow returns the largest number of grants that certainly fell within one closed
// one-second window of the server clock: grants whose whole client-side interval lies within
// [g.start, g.start+1s] for some grant g. The server clock is the machine's clock (miniredis runs
// in-process; a REDIS_URL server runs on this machine), so a grant's server instant lies in its
// interval. A slow, noisy machine only widens intervals, which can only lower the count: the check
// never fails for a correct limiter, and it catches a limiter that lets more than n through
// within a second (see TestWindowCheckCatchesBurst).
func maxCertainInWindow(grants []grant) int {
	gs := slices.Clone(grants)
	slices.SortFunc(gs, func(a, b grant) int { return a.start.Compare(b.start) })
	best := 0
	for i, g := range gs {
		limit := g.start.Add(time.Second)
		n := 0
		for _, h := range gs[i:] {
			if h.start.After(limit) {
				break
			}
			if !h.end.After(limit) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// maxNaiveInWindow counts grants by their end times only (what a caller would log). It is
// reported, not asserted: client-side delays can shift end times by more than the headroom.
func maxNaiveInWindow(grants []grant) int {
	ends := make([]time.Time, len(grants))
	for i, g := range grants {
		ends[i] = g.end
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ends {
		for ends[i].Sub(ends[j]) > time.Second {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// runProcesses runs procs "processes" (each its own go-redis client and Limiter on addr/key),
// each with workers goroutines calling wait for d, and returns the recorded grants.
func runProcesses(t *testing.T, opts *redis.Options, procs, workers int, d time.Duration,
	newWait func(rdb redis.UniversalClient) func(context.Context) error) []grant {
	t.Helper()
	rec := &grantRecorder{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, procs*workers)
	for range procs {
		o := *opts
		rdb := redis.NewClient(&o)
		rdb.AddHook(rec)
		t.Cleanup(func() { _ = rdb.Close() })
		wait := newWait(rdb)
		for range workers {
			wg.Go(func() {
				for {
					err := wait(ctx)
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						errc <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("wait: %v", err)
	}
	return rec.grants
}

// testSlidingWindow runs the sliding-window check for several rates on db, each its own key, at
// once.
func testSlidingWindow(t *testing.T, db *redistest.DB) {
	opts, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5, 20, 100} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			t.Parallel()
			key := fmt.Sprintf("test:%d", n)
			grants := runProcesses(t, opts, 3, 4, 2200*time.Millisecond, func(rdb redis.UniversalClient) func(context.Context) error {
				l, err := New(rdb, key, n)
				if err != nil {
					t.Fatal(err)
				}
				return l.Wait
			})
			if len(grants) == 0 {
				t.Fatal("no grants at all")
			}
			certain, naive := maxCertainInWindow(grants), maxNaiveInWindow(grants)
			t.Logf("n=%d: %d grants in 2.2 s; at most %d certainly in one second (%d by end times)", n, len(grants), certain, naive)
			if certain > n {
				t.Errorf("%d grants fell within one second, limit %d", certain, n)
			}
		})
	}
}

// TestSlidingWindowMiniredis runs three limiters ("processes") on one miniredis and checks that no
// sliding second holds more than n grants. It also shows that redis_rate's script runs on
// miniredis.
func TestSlidingWindowMiniredis(t *testing.T) {
	t.Parallel()
	testSlidingWindow(t, redistest.Mini(t))
}

// TestSlidingWindowRedis is TestSlidingWindowMiniredis against the real Redis at REDIS_URL.
func TestSlidingWindowRedis(t *testing.T) {
	testSlidingWindow(t, redistest.Open(t, redistest.Redis))
}

// TestWindowCheckCatchesBurst shows that the window check has teeth: redis_rate.PerSecond(n),
// which has burst n, lets far more than n calls through within one second.
func TestWindowCheckCatchesBurst(t *testing.T) {
	t.Parallel()
	const n = 20
	grants := runProcesses(t, &redis.Options{Addr: redistest.Mini(t).Mini.Addr()}, 3, 4, 1200*time.Millisecond, func(rdb redis.UniversalClient) func(context.Context) error {
		rl := redis_rate.NewLimiter(rdb)
		return func(ctx context.Context) error {
			for ctx.Err() == nil {
				res, err := rl.Allow(ctx, "burst", redis_rate.PerSecond(n))
				if err != nil || res.Allowed > 0 {
					return err
				}
				time.Sleep(max(res.RetryAfter, time.Millisecond))
			}
			return ctx.Err()
		}
	})
	if got := maxCertainInWindow(grants); got <= n {
		t.Errorf("PerSecond(%d): at most %d grants certainly within one second; the check should see the burst", n, got)
	}
}

func TestWaitReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	db := redistest.Mini(t)
	m := db.Mini
	l, err := New(db.Client, "ctx", 10)
	if err != nil {
		t.Fatal(err)
	}
	// Another process holds the budget for an hour: only the context can end the wait.
	m.Set("rate:ctx", "9999999999")

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Wait(ctx) }()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Wait = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
			t.Fatal("Wait did not return after cancel")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		m.SetError("must not be called")
		defer m.SetError("")
		if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v, want context.Canceled", err)
		}
	})
}

func TestAllowReportsRedisErrors(t *testing.T) {
	t.Parallel()
	// A client of its own that does not retry: go-redis retries a LOADING reply.
	m := redistest.Mini(t).Mini
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := New(rdb, "err", 10)
	if err != nil {
		t.Fatal(err)
	}
	m.SetError("LOADING")
	if _, _, err := l.Allow(context.Background()); err == nil {
		t.Error("Allow succeeded on a failing Redis")
	}
	if err := l.Wait(context.Background()); err == nil {
		t.Error("Wait succeeded on a failing Redis")
	}
}

func TestAllowGrantsThenRefuses(t *testing.T) {
	t.Parallel()
	l, err := New(redistest.Mini(t).Client, "one", 1)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := l.Allow(context.Background())
	if err != nil || !ok {
		t.Fatalf("first Allow = %v, %v; want granted", ok, err)
	}
	ok, retry, err := l.Allow(context.Background())
	if err != nil || ok {
		t.Fatalf("second Allow = %v, %v; want refused", ok, err)
	}
	if retry <= 0 || retry > l.Interval() {
		t.Errorf("RetryAfter = %v, want in (0, %v]", retry, l.Interval())
	}
}
