package worker

// End-to-end tests: the real store, dispatcher, rate limiter, tencentsms client and asynq, with
// client.Send as the producer and the sandbox (behind httptest) as Tencent. They run on every
// redistest backend: miniredis (whose key TTLs stand still: nothing here waits for a TTL) and,
// when REDIS_URL is set, the private Redis there (flushed first), and when REDIS_CLUSTER_NODES is
// set, the private Redis Cluster there (asynq and the store on one go-redis ClusterClient).
//
// Their redistest.Each subtests do not call t.Parallel: Open takes the real Redis's lock before
// the subtest's body runs, and a parallel subtest would hold it while it waits for a parallel
// slot, which tests waiting for that lock may all occupy.

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// fakeTencent is the sandbox behind an httptest server, recording when each SendSms arrives.
type fakeTencent struct {
	sb  *sandbox.Server
	srv *httptest.Server

	mu    sync.Mutex
	sends []time.Time
}

func newFakeTencent(t *testing.T, mutate func(c *sandbox.Config)) *fakeTencent {
	t.Helper()
	cfg := sandbox.DefaultConfig()
	cfg.ReceiptDelay = 100 * time.Millisecond
	cfg.MarketingHours = false
	cfg.Seed = 7
	if mutate != nil {
		mutate(&cfg)
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTencent{sb: sb}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-TC-Action") == "SendSms" {
			now := time.Now()
			f.mu.Lock()
			f.sends = append(f.sends, now)
			f.mu.Unlock()
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.srv.Close()
		_ = sb.Close()
	})
	return f
}

// maxInAnyWindow returns the most SendSms arrivals within any closed window of length d.
func (f *fakeTencent) maxInAnyWindow(d time.Duration) (most int, calls int) {
	f.mu.Lock()
	ts := append([]time.Time(nil), f.sends...)
	f.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	j := 0
	for i := range ts {
		for ts[i].Sub(ts[j]) > d {
			j++
		}
		most = max(most, i-j+1)
	}
	return most, len(ts)
}

// testConfig is a worker Config with every wait short, against the fake Tencent.
func testConfig(rdb redis.UniversalClient, f *fakeTencent) Config {
	return Config{
		Redis: rdb,
		Tencent: tencentsms.Config{
			SecretID:  sandbox.DefaultSecretID,
			SecretKey: sandbox.DefaultSecretKey,
			Endpoint:  f.srv.URL,
			Timeout:   5 * time.Second,
		},
		AppID:                    sandbox.DefaultAppID,
		SignName:                 sandbox.DefaultSignName,
		StatusPullInterval:       200 * time.Millisecond,
		Concurrency:              16,
		OTPConcurrency:           2,
		ReconcileWindow:          time.Second,
		ReceiptWindow:            time.Minute,
		ClaimLease:               10 * time.Second,
		SweepInterval:            time.Second,
		SweepGrace:               10 * time.Second,
		ShutdownTimeout:          5 * time.Second,
		TaskCheckInterval:        20 * time.Millisecond,
		OTPTaskCheckInterval:     50 * time.Millisecond,
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		RetryPolicy: retry.Policy{
			BaseDelay:         100 * time.Millisecond,
			MaxDelay:          time.Second,
			ThirtySecondDelay: 1500 * time.Millisecond,
			Rand:              func() float64 { return 0.5 },
		},
	}
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// startWorker builds and starts a worker, shut down at the end of the test.
func startWorker(t *testing.T, cfg Config) *Worker {
	t.Helper()
	w, err := New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return w
}

func newProducer(t *testing.T, rdb redis.UniversalClient, cfg Config) *client.Client {
	t.Helper()
	c, err := client.New(rdb, client.Options{
		AppID:    sandbox.DefaultAppID,
		SignName: sandbox.DefaultSignName,
		Store:    store.Options{Retention: DefaultRetention, ClaimLease: cfg.ClaimLease, ReceiptWindow: cfg.ReceiptWindow},
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// number returns the i-th test number, a valid mainland mobile number.
func number(i int) string { return fmt.Sprintf("+86138%08d", i) }

// waitFor polls the job's status until cond holds, failing after timeout.
func waitFor(t *testing.T, c *client.Client, job string, timeout time.Duration, what string, cond func(store.Status) bool) store.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var st store.Status
	for {
		var err error
		st, err = c.Status(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: not %s after %s: %+v", job, what, timeout, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const thirtySecondLimit = "LimitExceeded.PhoneNumberThirtySecondLimit"

// TestEndToEndTenThousand sends a 10,000-number job through one worker, with per-number failure
// codes, 30-second frequency limits, 1% lost replies and 2% failed receipts, and checks the job's
// counts against the sandbox's truth.
func TestEndToEndTenThousand(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		rdb := db.Client
		const (
			total       = 10_000
			shared      = 7_000 // numbers 0..6999 share one param set: batches of 200
			perSet      = 5     // the other 3,000 come in param sets of 5: 600 small batches
			blacklisted = 50
			limited     = 300 // numbers 0..299 first meet the 30-second limit
		)
		blacklist := map[string]string{}
		for i := 0; i < blacklisted; i++ {
			blacklist[number(1000+i*7)] = "FailedOperation.PhoneNumberInBlacklist"
		}
		// The 30-second limit is answered per number until every limited number has met it
		// (the sandbox's own 30 s rule would make the test wait 30 s); then the retries pass.
		codes := maps.Clone(blacklist)
		for i := 0; i < limited; i++ {
			codes[number(i)] = thirtySecondLimit
		}
		f := newFakeTencent(t, func(c *sandbox.Config) {
			c.ReceiptFailRate = 0.02
			c.Faults = sandbox.Faults{NumberCodes: codes, DropRate: 0.01}
		})
		cfg := testConfig(rdb, f)
		startWorker(t, cfg)
		prod := newProducer(t, rdb, cfg)
		ctx := context.Background()

		var csv strings.Builder
		csv.WriteString("# 10,000 numbers, some twice, and bad lines\n")
		for i := 0; i < total; i++ {
			if i < shared {
				fmt.Fprintf(&csv, "%s\n", number(i))
			} else {
				fmt.Fprintf(&csv, "%s,ORD%d\n", number(i), (i-shared)/perSet)
			}
			if i%1000 == 0 {
				fmt.Fprintf(&csv, "%s\n", number(i)) // duplicate: dropped by the producer
			}
		}
		csv.WriteString("not-a-number\n+86123\n")
		lifted := make(chan struct{})
		go func() {
			defer close(lifted)
			for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if f.sb.Stats().NumberErrors[thirtySecondLimit] >= limited {
					f.sb.SetFaults(sandbox.Faults{NumberCodes: blacklist, DropRate: 0.01})
					return
				}
			}
		}()
		defer func() { <-lifted }()
		start := time.Now()
		res, err := prod.Send(ctx, client.Request{TemplateID: sandbox.TemplateNotice, Params: []string{"A100"}, Reader: strings.NewReader(csv.String())})
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != total || res.RejectedCount != 2 {
			t.Fatalf("send: accepted %d rejected %d, want %d and 2", res.Accepted, res.RejectedCount, total)
		}

		st := waitFor(t, prod, res.JobID, 50*time.Second, "settled with every receipt", func(st store.Status) bool {
			return st.Pending == 0 && st.Unknown == 0 && st.Delivered+st.Undelivered == st.Sent
		})
		truth := f.sb.Stats()
		t.Logf("settled in %s: %+v", time.Since(start).Round(time.Millisecond), st)
		t.Logf("sandbox: calls %d, sent %d, dropped %d, duplicates %d, largest batch %d, number errors %v",
			truth.Calls["SendSms"], truth.NumbersSent, truth.Dropped, truth.DuplicateSends, truth.LargestBatch, truth.NumberErrors)

		if truth.DuplicateSends != 0 {
			t.Errorf("sandbox counted %d duplicate sends", truth.DuplicateSends)
		}
		if truth.LargestBatch != 200 {
			t.Errorf("largest batch %d, want 200", truth.LargestBatch)
		}
		if st.Total != total || st.Rejected != 2 {
			t.Errorf("total %d rejected %d", st.Total, st.Rejected)
		}
		if st.Sent != truth.NumbersSent || st.Sent != total-blacklisted {
			t.Errorf("job counts %d sent, the sandbox accepted %d, want %d", st.Sent, truth.NumbersSent, total-blacklisted)
		}
		if st.Failed != blacklisted || st.FailedByCode["FailedOperation.PhoneNumberInBlacklist"] != blacklisted || len(st.FailedByCode) != 1 {
			t.Errorf("failed %d by code %v, want %d blacklisted", st.Failed, st.FailedByCode, blacklisted)
		}
		if st.Cancelled != 0 || st.Pending != 0 || st.Unknown != 0 {
			t.Errorf("cancelled %d pending %d unknown %d", st.Cancelled, st.Pending, st.Unknown)
		}
		if st.Delivered+st.Undelivered != st.Sent || st.Undelivered == 0 {
			t.Errorf("delivered %d + undelivered %d, sent %d", st.Delivered, st.Undelivered, st.Sent)
		}
		if got := truth.NumberErrors[thirtySecondLimit]; got < limited {
			t.Errorf("30-second limit met %d times, want at least %d", got, limited)
		}
		if truth.Dropped == 0 {
			t.Errorf("no reply was lost: the unknown-outcome path was not exercised (seed/drop rate)")
		}
		// Every valid number accepted exactly once, blacklisted ones never.
		for i := 0; i < total; i++ {
			want := 1
			if _, ok := blacklist[number(i)]; ok {
				want = 0
			}
			if got := f.sb.SendCount(number(i)); got != want {
				t.Errorf("%s accepted %d times, want %d (and maybe more numbers: stopping here)", number(i), got, want)
				break
			}
		}
	}, redistest.WithCluster())
}

// TestEndToEndRateLimitThreeWorkers runs three workers on one Redis with RateLimit 20: they share
// one budget, so SendSms arrives at most 3x20 times in any 3 s (unshared limiters would allow 180).
// Arrivals trail their grants by the worker's scheduling and the Launch round trip, which on a
// loaded machine bunches a few of them, so the per-second check allows a quarter more; the
// per-second bound at grant time is ratelimit's TestSlidingWindow.
func TestEndToEndRateLimitThreeWorkers(t *testing.T) {
	// Not parallel: it measures SendSms arrivals per second, which other tests' load would bunch.
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		rdb := db.Client
		const limit, batches = 20, 90
		f := newFakeTencent(t, nil)
		cfg := testConfig(rdb, f)
		cfg.RateLimit = limit
		for range 3 {
			startWorker(t, cfg)
		}
		prod := newProducer(t, rdb, cfg)
		// Every recipient has its own params: one batch (one SendSms call) each.
		var csv strings.Builder
		for i := 0; i < batches; i++ {
			fmt.Fprintf(&csv, "%s,R%d\n", number(50_000+i), i)
		}
		res, err := prod.Send(context.Background(), client.Request{TemplateID: sandbox.TemplateNotice, Reader: strings.NewReader(csv.String())})
		if err != nil {
			t.Fatal(err)
		}
		if res.Batches != batches {
			t.Fatalf("batches %d, want %d", res.Batches, batches)
		}
		st := waitFor(t, prod, res.JobID, 40*time.Second, "sent", func(st store.Status) bool { return st.Pending == 0 && st.Unknown == 0 })
		most1, calls := f.maxInAnyWindow(time.Second)
		most3, _ := f.maxInAnyWindow(3 * time.Second)
		t.Logf("%d SendSms calls, at most %d in any second, %d in any 3 s; status %+v", calls, most1, most3, st)
		if most3 > 3*limit {
			t.Errorf("%d SendSms calls within 3 s, limit %d per second", most3, limit)
		}
		if most1 > limit+limit/4 {
			t.Errorf("%d SendSms calls within one second, limit %d (+%d for arrival jitter)", most1, limit, limit/4)
		}
		if st.Sent != batches || f.sb.Stats().DuplicateSends != 0 {
			t.Errorf("sent %d, duplicates %d", st.Sent, f.sb.Stats().DuplicateSends)
		}
	}, redistest.WithCluster())
}

// TestEndToEndCancel cancels a job while it drains slowly: the batches not yet sent are counted
// cancelled and never reach Tencent.
func TestEndToEndCancel(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		rdb := db.Client
		const total = 4_000 // 20 batches of 200
		f := newFakeTencent(t, nil)
		cfg := testConfig(rdb, f)
		cfg.RateLimit = 4
		cfg.Concurrency = 2
		startWorker(t, cfg)
		prod := newProducer(t, rdb, cfg)
		var csv strings.Builder
		for i := 0; i < total; i++ {
			fmt.Fprintf(&csv, "%s\n", number(100_000+i))
		}
		ctx := context.Background()
		res, err := prod.Send(ctx, client.Request{TemplateID: sandbox.TemplateNotice, Params: []string{"C1"}, Priority: "bulk", Reader: strings.NewReader(csv.String())})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, prod, res.JobID, 20*time.Second, "started", func(st store.Status) bool { return st.Sent > 0 })
		if _, err := prod.Cancel(ctx, res.JobID); err != nil {
			t.Fatal(err)
		}
		st := waitFor(t, prod, res.JobID, 20*time.Second, "settled", client.Settled)
		// Nothing more goes out after the job settled.
		before := f.sb.Stats().NumbersSent
		time.Sleep(1500 * time.Millisecond)
		truth := f.sb.Stats()
		t.Logf("status %+v; sandbox sent %d in %d calls", st, truth.NumbersSent, truth.Calls["SendSms"])
		if st.State != store.StateCancelled {
			t.Errorf("state %q, want cancelled", st.State)
		}
		if st.Cancelled == 0 || st.Cancelled%200 != 0 {
			t.Errorf("cancelled %d, want whole batches of 200", st.Cancelled)
		}
		if st.Sent+st.Failed+st.Cancelled != total || st.Pending != 0 {
			t.Errorf("sent %d + failed %d + cancelled %d != %d (pending %d)", st.Sent, st.Failed, st.Cancelled, total, st.Pending)
		}
		if truth.NumbersSent != st.Sent || truth.NumbersSent != before {
			t.Errorf("sandbox accepted %d (then %d), job sent %d", before, truth.NumbersSent, st.Sent)
		}
	}, redistest.WithCluster())
}

// TestEndToEndLostReplyEvidence: a reply is lost for a call Tencent refused (the numbers had the
// same template less than 30 s before, from another job). The other job's receipts must not count
// as evidence that this job's numbers were sent: the numbers are resent after the reconcile window
// and each is accepted exactly once by this job.
func TestEndToEndLostReplyEvidence(t *testing.T) {
	// Not parallel: the second send must reach the sandbox within its 3 s FrequencyInterval of
	// real time after the first.
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		rdb := db.Client
		const n = 10
		f := newFakeTencent(t, func(c *sandbox.Config) { c.FrequencyInterval = 3 * time.Second })
		cfg := testConfig(rdb, f)
		startWorker(t, cfg)
		prod := newProducer(t, rdb, cfg)
		ctx := context.Background()
		var csv strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&csv, "%s\n", number(200_000+i))
		}
		first, err := prod.Send(ctx, client.Request{TemplateID: sandbox.TemplateNotice, Params: []string{"A"}, Reader: strings.NewReader(csv.String())})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, prod, first.JobID, 20*time.Second, "sent with receipts", func(st store.Status) bool {
			return st.Sent == n && st.Delivered+st.Undelivered == n
		})
		f.sb.ResetStats()
		f.sb.SetFaults(sandbox.Faults{DropRate: 1}) // the next reply is lost
		second, err := prod.Send(ctx, client.Request{TemplateID: sandbox.TemplateNotice, Params: []string{"B"}, Reader: strings.NewReader(csv.String())})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, prod, second.JobID, 20*time.Second, "unknown", func(st store.Status) bool { return st.Unknown == n })
		f.sb.SetFaults(sandbox.Faults{})
		if got := f.sb.Stats().NumbersSent; got != 0 {
			t.Fatalf("the lost call was accepted for %d numbers; the frequency limit should have refused it", got)
		}
		st := waitFor(t, prod, second.JobID, 30*time.Second, "settled", func(st store.Status) bool { return st.Pending == 0 && st.Unknown == 0 })
		truth := f.sb.Stats()
		t.Logf("status %+v; sandbox accepted %d in %d calls", st, truth.NumbersSent, truth.Calls["SendSms"])
		if st.Sent != truth.NumbersSent {
			t.Errorf("job counts %d sent, Tencent accepted %d: the first job's receipts were taken as evidence for the second", st.Sent, truth.NumbersSent)
		}
		for i := 0; i < n; i++ {
			if got := f.sb.SendCount(number(200_000 + i)); got != 1 {
				t.Errorf("%s accepted %d times by the second job, want 1", number(200_000+i), got)
			}
		}
		// The second job's own receipts reach it (its serials are indexed to it), and the first
		// job keeps its counts (its serials were not re-pointed to the second).
		waitFor(t, prod, second.JobID, 20*time.Second, "receipted", func(st store.Status) bool {
			return st.Delivered+st.Undelivered == n
		})
		if st, err := prod.Status(ctx, first.JobID); err != nil || st.Sent != n || st.Delivered+st.Undelivered != n {
			t.Errorf("first job after the second: %+v, %v; want %d sent with receipts", st, err, n)
		}
	}, redistest.WithCluster())
}
