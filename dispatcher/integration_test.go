package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/ratelimit"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// The integration tests run the handlers against the real store (on every redistest backend:
// miniredis, and the private Redis at REDIS_URL when set), the sandbox Tencent API (httptest)
// and the real tencentsms client. One fake clock drives the store, the sandbox (receipt
// readiness) and the handlers, so windows pass without sleeping. Tasks the handlers enqueue go to taskQueue, which the test runs by hand.
//
// The tests run in parallel, but their redistest.Each subtests do not call t.Parallel: Open
// takes the real Redis's lock before the subtest's body runs, and a parallel subtest would hold
// it while it waits for a parallel slot, which tests waiting for that lock may all occupy.

// queued is a task in taskQueue.
type queued struct {
	task *asynq.Task
	at   time.Time
}

// taskQueue is an Enqueuer that keeps tasks for the test to run (see itest.drain).
type taskQueue struct {
	mu    sync.Mutex
	clock *redistest.Clock
	items []queued
}

func (q *taskQueue) Enqueue(_ context.Context, task *tasks.Task, opts ...asynq.Option) (tasks.Outcome, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	at := q.clock.Now()
	for _, o := range opts {
		switch o.Type() {
		case asynq.ProcessAtOpt:
			at = o.Value().(time.Time)
		case asynq.ProcessInOpt:
			at = q.clock.Now().Add(o.Value().(time.Duration))
		}
	}
	q.items = append(q.items, queued{task: task.Task, at: at})
	return tasks.Enqueued, nil
}

// popDue removes and returns the tasks due now.
func (q *taskQueue) popDue() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	var due, rest []queued
	for _, it := range q.items {
		if it.at.After(now) {
			rest = append(rest, it)
		} else {
			due = append(due, it)
		}
	}
	q.items = rest
	return due
}

func (q *taskQueue) count(typ string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, it := range q.items {
		if it.task.Type() == typ {
			n++
		}
	}
	return n
}

// itest is one integration test's world.
type itest struct {
	ctx       context.Context
	db        *redistest.DB
	rdb       redis.UniversalClient
	clock     *redistest.Clock
	st        *store.Store
	app       string
	sb        *sandbox.Server
	client    *tencentsms.Client
	q         *taskQueue
	send      *SendHandler
	reconcile *ReconcileHandler
	probe     *ProbeHandler
	numbers   []string
}

func newITest(t *testing.T, db *redistest.DB, mod func(*sandbox.Config)) *itest {
	t.Helper()
	// The clock starts at the real time: the sandbox checks the SDK's signing clock against it.
	it := &itest{ctx: context.Background(), db: db, rdb: db.Client, clock: redistest.NewClock(time.Now())}
	it.st = store.New(it.rdb, store.Options{Now: it.clock.Now})
	// A fresh app id per test keeps tests apart on a shared Redis.
	it.app = fmt.Sprintf("14%08d", rand.IntN(1e8))
	cfg := sandbox.DefaultConfig()
	cfg.AppID = it.app
	cfg.Now = it.clock.Now
	cfg.ReceiptFailRate = 0.2
	cfg.MaxClockSkew = 24 * time.Hour // the fake clock runs ahead of the SDK's signing clock
	if mod != nil {
		mod(&cfg)
	}
	var err error
	if it.sb, err = sandbox.New(cfg); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(it.sb)
	t.Cleanup(func() {
		srv.Close()
		_ = it.sb.Close()
	})
	it.client, err = tencentsms.New(tencentsms.Config{SecretID: cfg.SecretID, SecretKey: cfg.SecretKey,
		Endpoint: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = it.client.Close() })

	log := zaptest.NewLogger(t)
	metrics, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	sendLimit, err := ratelimit.New(it.rdb, ratelimit.Key("SendSms", it.app, cfg.SecretID), 1000)
	if err != nil {
		t.Fatal(err)
	}
	phoneLimit, err := ratelimit.New(it.rdb, ratelimit.Key("PullSmsSendStatusByPhoneNumber", it.app, cfg.SecretID), 18)
	if err != nil {
		t.Fatal(err)
	}
	it.q = &taskQueue{clock: it.clock}
	if it.send, err = NewSendHandler(SendConfig{Store: it.st, Sender: it.client, Enqueuer: it.q, Limiter: sendLimit, Suppressor: it.st,
		Logger: log, Metrics: metrics, HaltCacheTTL: -1, Now: it.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if it.reconcile, err = NewReconcileHandler(ReconcileConfig{Store: it.st, Puller: it.client, Enqueuer: it.q,
		Limiter: phoneLimit, Logger: log, Metrics: metrics, Now: it.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if it.probe, err = NewProbeHandler(ProbeConfig{Send: it.send, Store: it.st, Enqueuer: it.q, Logger: log,
		Metrics: metrics, Now: it.clock.Now}); err != nil {
		t.Fatal(err)
	}
	return it
}

// newPuller returns a puller of this test's app only (a shared Redis holds other tests' apps).
func (it *itest) newPuller(t *testing.T, owner string) *Puller {
	t.Helper()
	lim, err := ratelimit.New(it.rdb, ratelimit.Key("PullSmsSendStatus", it.app, owner), 90)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPuller(PullerConfig{Store: appsOnly{it.st, it.app}, Puller: it.client, Limiter: lim,
		Owner: owner, Logger: zaptest.NewLogger(t), Now: it.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// appsOnly restricts Apps to one app.
type appsOnly struct {
	*store.Store
	app string
}

func (a appsOnly) Apps(context.Context) ([]string, error) { return []string{a.app}, nil }

// createJob writes a job of n numbers in batches of at most size, and returns its id. The
// numbers are random mainland mobiles, so tests never share a number on a shared Redis. mods
// change the job spec before it is written.
func (it *itest) createJob(t *testing.T, prio string, n, size int, mods ...func(*store.Job)) string {
	t.Helper()
	id := fmt.Sprintf("it-%d", rand.Int64())
	base := rand.IntN(1e9 - n)
	first := 3 + rand.IntN(7)
	var batches []store.NewBatch
	for i := 0; i < n; i += size {
		var nums []string
		for j := i; j < min(i+size, n); j++ {
			num := fmt.Sprintf("+861%d%09d", first, base+j)
			nums = append(nums, num)
			it.numbers = append(it.numbers, num)
		}
		batches = append(batches, store.NewBatch{Numbers: nums})
	}
	job := store.Job{ID: id, AppID: it.app, SignName: sandbox.DefaultSignName, TemplateID: sandbox.TemplateNotice, Priority: prio}
	for _, mod := range mods {
		mod(&job)
	}
	created, err := it.st.CreateJob(it.ctx, job, [][]string{{"A1"}}, batches, 0)
	if err != nil || !created {
		t.Fatalf("CreateJob = %v, %v", created, err)
	}
	return id
}

// runTask dispatches a task to its handler.
func (it *itest) runTask(ctx context.Context, task *asynq.Task) error {
	switch task.Type() {
	case tasks.TypeSendBatch:
		return it.send.ProcessTask(ctx, task)
	case tasks.TypeReconcile:
		return it.reconcile.ProcessTask(ctx, task)
	case tasks.TypeProbe:
		return it.probe.ProcessTask(ctx, task)
	}
	return fmt.Errorf("unknown task type %q", task.Type())
}

// drain runs every due task, again and again, until none is due; waits (RetryAfterError) are
// queued again after their delay on the fake clock. Any other error fails the test.
func (it *itest) drain(t *testing.T) {
	t.Helper()
	for range 1000 {
		due := it.q.popDue()
		if len(due) == 0 {
			return
		}
		for _, d := range due {
			err := it.runTask(it.ctx, d.task)
			var ra *RetryAfterError
			switch {
			case err == nil:
			case errors.As(err, &ra):
				it.q.mu.Lock()
				it.q.items = append(it.q.items, queued{task: d.task, at: it.clock.Now().Add(ra.Delay)})
				it.q.mu.Unlock()
				if ra.Delay <= 0 {
					it.clock.Add(time.Second) // asynq would retry a second later at the earliest
				}
			default:
				t.Fatalf("task %s %s: %v", d.task.Type(), d.task.Payload(), err)
			}
		}
	}
	t.Fatal("drain: tasks keep coming")
}

func (it *itest) sendTask(t *testing.T, job string, batch int) *asynq.Task {
	t.Helper()
	task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: job, Batch: batch}, tasks.PriorityNormal)
	if err != nil {
		t.Fatal(err)
	}
	return task.Task
}

func (it *itest) status(t *testing.T, job string) store.Status {
	t.Helper()
	st, err := it.st.Status(it.ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkExactlyOnce asserts that every number of the test was accepted exactly once by the sandbox.
func (it *itest) checkExactlyOnce(t *testing.T) {
	t.Helper()
	stats := it.sb.Stats()
	if stats.DuplicateSends != 0 {
		t.Errorf("sandbox duplicate sends = %d, want 0", stats.DuplicateSends)
	}
	if stats.NumbersSent != int64(len(it.numbers)) {
		t.Errorf("sandbox accepted %d numbers, want %d", stats.NumbersSent, len(it.numbers))
	}
	for _, n := range it.numbers {
		if c := it.sb.SendCount(n); c != 1 {
			t.Errorf("%s accepted %d times", tencentsms.MaskPhone(n), c)
		}
	}
}

func TestIntegrationBatchTaskRunTwice(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityNormal, 150, 200)
		task := it.sendTask(t, job, 0)
		for run := range 2 {
			if err := it.send.ProcessTask(it.ctx, task); err != nil {
				t.Fatalf("run %d: %v", run+1, err)
			}
		}
		it.checkExactlyOnce(t)
		if st := it.status(t, job); st.Sent != 150 || st.Pending != 0 || st.Unknown != 0 {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestIntegrationBatchTaskRunTwiceAtOnce(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		// Latency widens the window in which both runs are inside the handler.
		it := newITest(t, db, func(c *sandbox.Config) { c.Faults.Latency = 30 * time.Millisecond })
		job := it.createJob(t, tasks.PriorityNormal, 1000, 200) // 5 batches
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for batch := range 5 {
			task := it.sendTask(t, job, batch)
			for range 4 {
				wg.Go(func() {
					err := it.send.ProcessTask(it.ctx, task)
					var ra *RetryAfterError
					if err != nil && !errors.As(err, &ra) {
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent run: %v", err)
		}
		// The runs that found the claim busy are retried later, as asynq would.
		it.clock.Add(time.Minute)
		for batch := range 5 {
			if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
				t.Errorf("retry of batch %d: %v", batch, err)
			}
		}
		it.checkExactlyOnce(t)
		if st := it.status(t, job); st.Sent != 1000 || st.Pending != 0 {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestIntegrationLostReplyReconciledByReceipt(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, func(c *sandbox.Config) { c.Faults.DropRate = 1 })
		job := it.createJob(t, tasks.PriorityNormal, 50, 200)
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, 0)); err != nil {
			t.Fatal(err)
		}
		it.sb.SetFaults(sandbox.Faults{})
		if st := it.status(t, job); st.Unknown != 50 || st.Sent != 0 {
			t.Fatalf("after the lost reply: %+v, want 50 unknown", st)
		}
		if ub, err := it.st.UnknownBatches(it.ctx, job); err != nil || !slices.Equal(ub, []int{0}) {
			t.Errorf("UnknownBatches = %v, %v; want [0]", ub, err)
		}
		// The receipts come in through the puller: they match no serial we know, so they are
		// kept as unmatched evidence.
		it.clock.Add(3 * time.Second)
		if err := it.newPuller(t, "p1").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := it.st.UnmatchedCount(it.ctx, it.app); n != 50 {
			t.Errorf("unmatched receipts = %d, want 50", n)
		}
		// Reconcile runs after the window and settles every number without a resend.
		it.clock.Add(DefaultReconcileWindow)
		it.drain(t)
		it.checkExactlyOnce(t)
		if ub, err := it.st.UnknownBatches(it.ctx, job); err != nil || len(ub) != 0 {
			t.Errorf("UnknownBatches after reconcile = %v, %v; want none", ub, err)
		}
		st := it.status(t, job)
		if st.Sent != 50 || st.Unknown != 0 || st.Pending != 0 || st.Delivered+st.Undelivered != 50 {
			t.Errorf("status = %+v, want 50 sent with receipts", st)
		}
		if it.sb.Stats().Calls["PullSmsSendStatusByPhoneNumber"] != 0 {
			t.Error("looked up by number although receipts were evidence")
		}
	})
}

func TestIntegrationLostReplyReconciledByNumberLookup(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, func(c *sandbox.Config) { c.Faults.DropRate = 1 })
		job := it.createJob(t, tasks.PriorityNormal, 30, 200)
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, 0)); err != nil {
			t.Fatal(err)
		}
		it.sb.SetFaults(sandbox.Faults{})
		it.clock.Add(DefaultReconcileWindow + time.Second)
		it.drain(t)
		it.checkExactlyOnce(t)
		st := it.status(t, job)
		if st.Sent != 30 || st.Unknown != 0 || st.Delivered+st.Undelivered != 30 {
			t.Errorf("status = %+v, want 30 sent with receipts", st)
		}
		if got := it.sb.Stats().Calls["PullSmsSendStatusByPhoneNumber"]; got != 30 {
			t.Errorf("lookups by number = %d, want 30", got)
		}
		// The same receipts pulled later are not counted again.
		if err := it.newPuller(t, "p1").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if st2 := it.status(t, job); st2.Delivered != st.Delivered || st2.Undelivered != st.Undelivered {
			t.Errorf("receipts counted twice: %+v then %+v", st, st2)
		}
		if n, _ := it.st.UnmatchedCount(it.ctx, it.app); n != 0 {
			t.Errorf("unmatched receipts = %d, want 0", n)
		}
	})
}

func TestIntegrationUnknownWithoutEvidenceResent(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		// InternalError.Timeout before the send is recorded: the outcome is unknown to us, and
		// in truth nothing went out.
		it := newITest(t, db, func(c *sandbox.Config) {
			c.Faults.ErrorRate = 1
			c.Faults.ErrorCodes = []string{"InternalError.Timeout"}
		})
		job := it.createJob(t, tasks.PriorityNormal, 40, 200)
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, 0)); err != nil {
			t.Fatal(err)
		}
		it.sb.SetFaults(sandbox.Faults{})
		if st := it.status(t, job); st.Unknown != 40 {
			t.Fatalf("status = %+v, want 40 unknown", st)
		}
		// Within the window nothing is resent.
		it.clock.Add(30 * time.Second)
		it.drain(t)
		if n := it.sb.Stats().NumbersSent; n != 0 {
			t.Fatalf("%d numbers sent inside the window", n)
		}
		// After it, with no receipt and no send record, the numbers go out again once.
		it.clock.Add(DefaultReconcileWindow)
		it.drain(t)
		it.checkExactlyOnce(t)
		if st := it.status(t, job); st.Sent != 40 || st.Unknown != 0 || st.Pending != 0 {
			t.Errorf("status = %+v", st)
		}
	})
}

// A number that answers the 30-second limit on every send ends failed once the policy's
// MaxTransientRetries is used up: its retry batches carry the attempt count on, so the bound holds
// across batches instead of each retry batch starting again at attempt 1.
func TestIntegrationThirtySecondLimitBounded(t *testing.T) {
	t.Parallel()
	const code = "LimitExceeded.PhoneNumberThirtySecondLimit"
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityNormal, 3, 200)
		limited := it.numbers[0]
		it.sb.SetFaults(sandbox.Faults{NumberCodes: map[string]string{limited: code}})
		const bound = 3
		var err error
		it.send, err = NewSendHandler(SendConfig{Store: it.st, Sender: it.client, Enqueuer: it.q, Limiter: &fakeLimiter{},
			Logger: zaptest.NewLogger(t), HaltCacheTTL: -1, Now: it.clock.Now,
			Policy: retry.Policy{MaxTransientRetries: bound, ThirtySecondDelay: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: job, Batch: 0}, tasks.PriorityNormal)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := it.q.Enqueue(it.ctx, task); err != nil {
			t.Fatal(err)
		}
		for range 5 * bound {
			it.drain(t)
			if it.q.count(tasks.TypeSendBatch)+it.q.count(tasks.TypeReconcile) == 0 {
				break
			}
			it.clock.Add(time.Second)
		}
		st := it.status(t, job)
		if st.Sent != 2 || st.Failed != 1 || st.FailedByCode[code] != 1 || st.Pending != 0 || st.Unknown != 0 {
			t.Errorf("status = %+v, want 2 sent and the limited number failed with %s", st, code)
		}
		if got := it.sb.Stats().NumberErrors[code]; got != bound+1 {
			t.Errorf("the limited number was tried %d times, want %d (attempts 1..%d retried, then failed)", got, bound+1, bound)
		}
		if n := it.q.count(tasks.TypeSendBatch); n != 0 {
			t.Errorf("%d send tasks still queued", n)
		}
	})
}

// Job A sends the template to numbers; job B sends it to the same numbers within the frequency
// window, Tencent refuses B's call and the reply is lost. A's receipts, found by number, are no
// evidence for B: B's numbers are resent (and accepted once the window passed), A keeps its serials.
func TestIntegrationOtherJobsReceiptsNoEvidence(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, func(c *sandbox.Config) { c.FrequencyInterval = 30 * time.Second })
		jobA := it.createJob(t, tasks.PriorityNormal, 5, 200)
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, jobA, 0)); err != nil {
			t.Fatal(err)
		}
		it.clock.Add(2 * time.Second)
		if err := it.newPuller(t, "p1").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		stA := it.status(t, jobA)
		if stA.Sent != 5 || stA.Delivered+stA.Undelivered != 5 {
			t.Fatalf("job A = %+v, want 5 sent with receipts", stA)
		}
		// Job B: the same numbers, 3 s after A.
		id := fmt.Sprintf("it-%d", rand.Int64())
		bjob := store.Job{ID: id, AppID: it.app, SignName: sandbox.DefaultSignName, TemplateID: sandbox.TemplateNotice, Priority: tasks.PriorityNormal}
		if created, err := it.st.CreateJob(it.ctx, bjob, [][]string{{"B1"}}, []store.NewBatch{{Numbers: it.numbers}}, 0); err != nil || !created {
			t.Fatalf("CreateJob = %v, %v", created, err)
		}
		it.clock.Add(time.Second)
		it.sb.SetFaults(sandbox.Faults{DropRate: 1})
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, id, 0)); err != nil {
			t.Fatal(err)
		}
		it.sb.SetFaults(sandbox.Faults{})
		if st := it.status(t, id); st.Unknown != 5 {
			t.Fatalf("job B after the lost reply = %+v, want 5 unknown", st)
		}
		if n := it.sb.Stats().NumbersSent; n != 5 {
			t.Fatalf("sandbox accepted %d numbers, want only job A's 5 (B's call refused)", n)
		}
		// The reconcile window passes without evidence: the numbers are resent.
		it.clock.Add(DefaultReconcileWindow)
		for range 10 {
			it.drain(t)
			if it.q.count(tasks.TypeSendBatch)+it.q.count(tasks.TypeReconcile) == 0 {
				break
			}
			it.clock.Add(10 * time.Second)
		}
		stB := it.status(t, id)
		if stB.Sent != 5 || stB.Unknown != 0 || stB.Pending != 0 {
			t.Errorf("job B = %+v, want 5 sent", stB)
		}
		for _, n := range it.numbers {
			if c := it.sb.SendCount(n); c != 2 {
				t.Errorf("%s accepted %d times, want 2 (once per job)", tencentsms.MaskPhone(n), c)
			}
		}
		if got := it.status(t, jobA); got.Sent != 5 || got.Delivered != stA.Delivered || got.Undelivered != stA.Undelivered {
			t.Errorf("job A changed: %+v, was %+v", got, stA)
		}
		// B's own receipts reach B through its serials.
		it.clock.Add(5 * time.Second)
		if err := it.newPuller(t, "p1").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if st := it.status(t, id); st.Delivered+st.Undelivered != 5 {
			t.Errorf("job B receipts = %+v, want 5", st)
		}
	})
}

func TestIntegrationOTPUnknownResentAtOnce(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, func(c *sandbox.Config) {
			c.Faults.ErrorRate = 1
			c.Faults.ErrorCodes = []string{"InternalError.Timeout"}
		})
		job := it.createJob(t, tasks.PriorityOTP, 3, 200)
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, 0)); err != nil {
			t.Fatal(err)
		}
		it.sb.SetFaults(sandbox.Faults{})
		it.drain(t) // no clock advance: otp reconciles and resends at once
		it.checkExactlyOnce(t)
		if st := it.status(t, job); st.Sent != 3 || st.Unknown != 0 {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestIntegrationTwoPullers(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityBulk, 1000, 200)
		for batch := range 5 {
			if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
				t.Fatal(err)
			}
		}
		it.clock.Add(3 * time.Second)
		p1, p2 := it.newPuller(t, "p1"), it.newPuller(t, "p2")
		var wg sync.WaitGroup
		for _, p := range []*Puller{p1, p2, p1, p2} {
			wg.Go(func() {
				if err := p.PullOnce(it.ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		st := it.status(t, job)
		if st.Delivered+st.Undelivered != 1000 || st.Sent != 1000 {
			t.Errorf("status = %+v, want every receipt applied once", st)
		}
		if pulled := it.sb.Stats().ReceiptsPulled; pulled != 1000 {
			t.Errorf("sandbox handed out %d receipts, want 1000", pulled)
		}
		if n, _ := it.st.UnmatchedCount(it.ctx, it.app); n != 0 {
			t.Errorf("unmatched = %d", n)
		}
	})
}

func TestIntegrationPullerCrashAfterSave(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityBulk, 250, 200)
		for batch := range 2 {
			if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
				t.Fatal(err)
			}
		}
		it.clock.Add(3 * time.Second)
		// Puller p1 saves its first page, then dies before applying it.
		lim, err := ratelimit.New(it.rdb, ratelimit.Key("PullSmsSendStatus", it.app, "crash"), 90)
		if err != nil {
			t.Fatal(err)
		}
		crashing, err := NewPuller(PullerConfig{Store: crashAfterSave{appsOnly{it.st, it.app}}, Puller: it.client,
			Limiter: lim, Owner: "p1", Now: it.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := crashing.PullOnce(it.ctx); !errors.Is(err, errCrash) {
			t.Fatalf("PullOnce = %v, want the crash", err)
		}
		if st := it.status(t, job); st.Delivered+st.Undelivered != 0 {
			t.Fatalf("status = %+v, want nothing applied yet", st)
		}
		// Its lease runs out; p2 takes over and applies the saved page before pulling on.
		if err := it.st.ReleaseLease(it.ctx, "pull:"+it.app, "p1"); err != nil {
			t.Fatal(err)
		}
		if err := it.newPuller(t, "p2").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		st := it.status(t, job)
		if st.Delivered+st.Undelivered != 250 {
			t.Errorf("status = %+v, want all 250 receipts applied", st)
		}
		if pages, _ := it.st.SavedReceiptPages(it.ctx, it.app); len(pages) != 0 {
			t.Errorf("%d pages left saved", len(pages))
		}
	})
}

var errCrash = errors.New("crash between save and apply")

// crashAfterSave fails every ApplyReceiptPage, as a puller killed right after saving.
type crashAfterSave struct{ appsOnly }

func (crashAfterSave) ApplyReceiptPage(context.Context, string, store.SavedPage) (store.ApplyStats, error) {
	return store.ApplyStats{}, errCrash
}

func TestIntegrationHaltProbeResume(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, func(c *sandbox.Config) {
			c.Faults.HaltCode = "FailedOperation.InsufficientBalanceInSmsPackage"
		})
		job := it.createJob(t, tasks.PriorityNormal, 300, 100) // 3 batches
		for batch := range 3 {
			if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
				t.Fatal(err)
			}
		}
		if calls := it.sb.Stats().Calls["SendSms"]; calls != 1 {
			t.Errorf("SendSms calls while halted = %d, want 1 (the call that found the halt)", calls)
		}
		if st := it.status(t, job); st.State != store.StatePaused || st.Pending != 300 {
			t.Errorf("status = %+v, want paused", st)
		}
		// A probe while the balance is still empty keeps the halt.
		it.clock.Add(DefaultHaltProbeInterval)
		it.drain(t)
		if h, _ := it.st.HaltOf(it.ctx, it.app); h == nil {
			t.Fatal("halt lifted while the code persists")
		}
		// The balance is topped up: the next probe gets through and resumes everything.
		it.sb.SetFaults(sandbox.Faults{})
		it.clock.Add(DefaultHaltProbeInterval)
		it.drain(t)
		if h, _ := it.st.HaltOf(it.ctx, it.app); h != nil {
			t.Errorf("still halted: %+v", h)
		}
		it.checkExactlyOnce(t)
		if st := it.status(t, job); st.Sent != 300 || st.Pending != 0 {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestIntegrationSweeper(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityNormal, 20, 10) // 2 batches, tasks never enqueued
		sw, err := NewSweeper(SweeperConfig{Store: jobsOnly{it.st, job}, Enqueuer: it.q, Now: it.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := sw.SweepOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if n := it.q.count(tasks.TypeSendBatch); n != 0 {
			t.Fatalf("%d tasks enqueued inside the grace period", n)
		}
		it.clock.Add(DefaultSweepGrace + time.Second)
		if err := sw.SweepOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if n := it.q.count(tasks.TypeSendBatch); n != 2 {
			t.Fatalf("%d send tasks enqueued, want 2", n)
		}
		it.drain(t)
		it.checkExactlyOnce(t)
		if apps, err := it.st.Apps(it.ctx); err != nil || !slices.Contains(apps, it.app) {
			t.Errorf("Apps = %v, %v; want %s among them", apps, err, it.app)
		}
	})
}

// jobsOnly restricts ActiveJobs to one job and Halts to none (a shared Redis holds other tests').
type jobsOnly struct {
	*store.Store
	job string
}

func (j jobsOnly) ActiveJobs(context.Context) ([]string, error) { return []string{j.job}, nil }
func (j jobsOnly) Halts(context.Context) ([]store.Halt, error)  { return nil, nil }

func TestIntegrationAsynqEnqueuer(t *testing.T) {
	t.Parallel()
	rdb := redistest.Mini(t).Client
	enq := &enqueuer{q: tasks.NewEnqueuer(rdb), m: orNew(nil), now: time.Now}
	for range 2 { // the second is refused by TaskID: already queued, which is fine
		if err := enq.send(context.Background(), kindRetry, "j1", 3, tasks.PriorityBulk, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(tasks.QueueBulk, "send:j1:3")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStateScheduled {
		t.Errorf("task state = %v, want scheduled", info.State)
	}
	if got := counterValue(t, enq.m.Enqueued.WithLabelValues(kindRetry, "queued")); got != 1 {
		t.Errorf("queued = %v, want 1", got)
	}
}
