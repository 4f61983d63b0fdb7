package dispatcher

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// Retention tests need miniredis's FastForward (key TTLs pass with the fake clock); the store's
// own tests check the TTLs themselves on real Redis too.

// longClock lets the sandbox accept requests signed by the SDK's real clock while the fake clock
// runs weeks ahead.
func longClock(c *sandbox.Config) { c.MaxClockSkew = 60 * 24 * time.Hour }

// passes moves the fake clock and miniredis's TTLs on by d.
func (it *itest) passes(d time.Duration) {
	it.clock.Add(d)
	it.db.FastForward(d)
}

// pullAll pulls every receipt the sandbox has ready.
func (it *itest) pullAll(t *testing.T) {
	t.Helper()
	it.passes(time.Minute)
	if err := it.newPuller(t, "p").PullOnce(it.ctx); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationJobOutlivesRetentionThenExpires: a job sent four retentions after its creation
// is sent with its params, exactly once; once it has settled the sweeper starts its retention,
// and its records are gone Retention later.
func TestIntegrationJobOutlivesRetentionThenExpires(t *testing.T) {
	t.Parallel()
	it := newITest(t, redistest.Mini(t), longClock)
	job := it.createJob(t, tasks.PriorityNormal, 20, 10) // 2 batches
	active := activeOnly{it.st, job}
	sw, err := NewSweeper(SweeperConfig{Store: active, Enqueuer: it.q, Now: it.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	it.passes(4 * store.DefaultRetention)
	if err := sw.SweepOnce(it.ctx); err != nil {
		t.Fatal(err)
	}
	if n := it.q.count(tasks.TypeSendBatch); n != 2 {
		t.Fatalf("%d send tasks enqueued by the sweeper, want 2", n)
	}
	it.drain(t)
	it.checkExactlyOnce(t)
	if st := it.status(t, job); st.Sent != 20 || st.Failed != 0 || st.State != store.StateDelivering {
		t.Fatalf("status = %+v, want 20 sent, delivering", st)
	}
	it.pullAll(t)
	if st := it.status(t, job); st.State != store.StateDone || st.Delivered+st.Undelivered != 20 {
		t.Fatalf("status = %+v, want done with 20 receipts", st)
	}

	// Settled: retention runs from now.
	it.passes(store.DefaultRetention - time.Minute)
	if _, err := it.st.Status(it.ctx, job); err != nil {
		t.Fatalf("Status a minute before retention has passed: %v", err)
	}
	it.passes(time.Minute + time.Second)
	if _, err := it.st.Status(it.ctx, job); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Status after retention = %v, want ErrNotFound", err)
	}
}

// TestIntegrationSweeperStartsRetention: a job that settled while nobody asked for its status is
// kept until the sweeper sees it, and Retention after that.
func TestIntegrationSweeperStartsRetention(t *testing.T) {
	t.Parallel()
	it := newITest(t, redistest.Mini(t), func(c *sandbox.Config) {
		longClock(c)
		c.ReceiptFailRate = 0
	})
	job := it.createJob(t, tasks.PriorityNormal, 10, 10)
	if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, 0)); err != nil {
		t.Fatal(err)
	}
	it.pullAll(t) // the job is done now; nobody looks
	it.passes(2 * store.DefaultRetention)
	sw, err := NewSweeper(SweeperConfig{Store: activeOnly{it.st, job}, Enqueuer: it.q, Now: it.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SweepOnce(it.ctx); err != nil {
		t.Fatal(err)
	}
	it.passes(store.DefaultRetention - time.Minute)
	st, err := it.st.Status(it.ctx, job)
	if err != nil || st.State != store.StateDone || st.Delivered != 10 {
		t.Fatalf("Status before retention after the sweep = %+v, %v", st, err)
	}
	it.passes(time.Minute + time.Second)
	if _, err := it.st.Status(it.ctx, job); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Status after retention = %v, want ErrNotFound", err)
	}
}

// TestIntegrationHaltLongerThanRetention: an app halted for four days (each probe finds the code
// again) keeps its parked batches and their records; topped up, every number is sent once.
func TestIntegrationHaltLongerThanRetention(t *testing.T) {
	t.Parallel()
	it := newITest(t, redistest.Mini(t), func(c *sandbox.Config) {
		longClock(c)
		c.Faults.HaltCode = "FailedOperation.InsufficientBalanceInSmsPackage"
	})
	job := it.createJob(t, tasks.PriorityNormal, 300, 100) // 3 batches
	for batch := range 3 {
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
			t.Fatal(err)
		}
	}
	sw, err := NewSweeper(SweeperConfig{Store: it.st, Enqueuer: it.q, Now: it.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		it.passes(24 * time.Hour)
		if err := sw.SweepOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		it.drain(t)
		if h, _ := it.st.HaltOf(it.ctx, it.app); h == nil {
			t.Fatal("halt lifted while the code persists")
		}
	}
	if st := it.status(t, job); st.State != store.StatePaused || st.Pending != 300 {
		t.Fatalf("after four days halted: %+v, want paused with 300 pending", st)
	}
	it.sb.SetFaults(sandbox.Faults{})
	it.passes(DefaultHaltProbeInterval)
	if err := sw.SweepOnce(it.ctx); err != nil {
		t.Fatal(err)
	}
	it.drain(t)
	if h, _ := it.st.HaltOf(it.ctx, it.app); h != nil {
		t.Fatalf("still halted: %+v", h)
	}
	it.checkExactlyOnce(t)
	if st := it.status(t, job); st.Sent != 300 || st.Pending != 0 || st.Failed != 0 {
		t.Fatalf("status = %+v, want 300 sent", st)
	}
}

// activeOnly runs the store's ActiveJobs (which starts the retention of settled jobs) and keeps
// one job of the result.
type activeOnly struct {
	*store.Store
	job string
}

func (a activeOnly) ActiveJobs(ctx context.Context) ([]string, error) {
	ids, err := a.Store.ActiveJobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if id == a.job {
			return []string{id}, nil
		}
	}
	return nil, nil
}
