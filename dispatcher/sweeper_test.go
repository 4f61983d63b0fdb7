package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

func TestSweepOnce(t *testing.T) {
	t.Parallel()
	st, enq := &fakeStore{}, &fakeEnqueuer{}
	now := t0.Add(time.Hour)
	st.ActiveJobsFunc = func(context.Context) ([]string, error) { return []string{"old", "fresh", "halted", "gone"}, nil }
	st.JobFunc = func(_ context.Context, id string) (store.Job, error) {
		switch id {
		case "old":
			return store.Job{ID: id, AppID: testApp, Priority: tasks.PriorityBulk, CreatedAt: t0}, nil
		case "fresh":
			return store.Job{ID: id, AppID: testApp, Priority: tasks.PriorityNormal, CreatedAt: now.Add(-10 * time.Second)}, nil
		case "halted":
			return store.Job{ID: id, AppID: "1400000009", Priority: tasks.PriorityNormal, CreatedAt: t0}, nil
		}
		return store.Job{}, store.ErrNotFound
	}
	st.HaltOfFunc = func(_ context.Context, app string) (*store.Halt, error) {
		if app == "1400000009" {
			return &store.Halt{App: app, Code: "X", ProbeAt: now.Add(time.Minute)}, nil
		}
		return nil, nil
	}
	st.PendingBatchesFunc = func(_ context.Context, job string) ([]store.Batch, error) {
		switch job {
		case "old":
			return []store.Batch{
				{Index: 0}, // overdue: enqueue
				{Index: 3, NotBefore: now.Add(time.Minute)}, // a retry batch not due yet
				{Index: 4, NotBefore: now.Add(-2 * time.Minute)},
			}, nil
		case "fresh":
			return []store.Batch{{Index: 0}}, nil // its task was enqueued moments ago
		}
		t.Errorf("PendingBatches(%s) of a halted app", job)
		return nil, nil
	}
	st.UnknownBatchesFunc = func(_ context.Context, job string) ([]int, error) {
		if job == "old" {
			return []int{2}, nil
		}
		return nil, nil
	}
	st.UnknownsFunc = func(context.Context, string, int) ([]store.UnknownNumber, error) {
		return []store.UnknownNumber{{Index: 1, Number: testNumbers[0], Attempt: 2, SentAt: t0}}, nil
	}
	st.HaltsFunc = func(context.Context) ([]store.Halt, error) {
		return []store.Halt{
			{App: "1400000009", ProbeAt: now.Add(time.Minute)},
			{App: "1400000008", ProbeAt: now.Add(-time.Minute)}, // its probe is overdue
		}, nil
	}
	sw, err := NewSweeper(SweeperConfig{Store: st, Enqueuer: enq, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sends []string
	for _, e := range enq.ofType(tasks.TypeSendBatch) {
		job, b := e.ref()
		sends = append(sends, fmt.Sprintf("%s/%d", job, b))
	}
	if !slices.Equal(sends, []string{"old/0", "old/4"}) {
		t.Errorf("re-enqueued sends = %v, want old/0 old/4", sends)
	}
	rec := enq.ofType(tasks.TypeReconcile)
	if len(rec) != 1 {
		t.Fatalf("reconciles = %+v", rec)
	}
	if job, b := rec[0].ref(); job != "old" || b != 2 {
		t.Errorf("reconcile of %s/%d", job, b)
	}
	probes := enq.ofType(tasks.TypeProbe)
	if len(probes) != 1 || probes[0].app() != "1400000008" {
		t.Errorf("probes = %+v", probes)
	}
}

func TestSweepTreatsQueuedTasksAsFine(t *testing.T) {
	t.Parallel()
	st := &fakeStore{}
	enq := &fakeEnqueuer{EnqueueFunc: func(context.Context, *asynq.Task, ...asynq.Option) error { return asynq.ErrTaskIDConflict }}
	st.ActiveJobsFunc = func(context.Context) ([]string, error) { return []string{"j1"}, nil }
	st.JobFunc = func(_ context.Context, id string) (store.Job, error) {
		return store.Job{ID: id, AppID: testApp, CreatedAt: t0}, nil
	}
	st.PendingBatchesFunc = func(context.Context, string) ([]store.Batch, error) { return []store.Batch{{Index: 0}}, nil }
	sw, err := NewSweeper(SweeperConfig{Store: st, Enqueuer: enq, Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SweepOnce(context.Background()); err != nil {
		t.Errorf("SweepOnce = %v, want nil for an already queued task", err)
	}
}

func TestSweepReportsErrorsAndGoesOn(t *testing.T) {
	t.Parallel()
	st, enq := &fakeStore{}, &fakeEnqueuer{}
	boom := errors.New("redis down")
	st.ActiveJobsFunc = func(context.Context) ([]string, error) { return []string{"bad", "good"}, nil }
	st.JobFunc = func(_ context.Context, id string) (store.Job, error) {
		if id == "bad" {
			return store.Job{}, boom
		}
		return store.Job{ID: id, AppID: testApp, CreatedAt: t0}, nil
	}
	st.PendingBatchesFunc = func(context.Context, string) ([]store.Batch, error) { return []store.Batch{{Index: 1}}, nil }
	sw, err := NewSweeper(SweeperConfig{Store: st, Enqueuer: enq, Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SweepOnce(context.Background()); !errors.Is(err, boom) {
		t.Errorf("SweepOnce = %v, want the job error", err)
	}
	if len(enq.ofType(tasks.TypeSendBatch)) != 1 {
		t.Errorf("the good job was not swept: %+v", enq.all())
	}
}

func TestSweeperRunNeedsTheLease(t *testing.T) {
	t.Parallel()
	st, enq := &fakeStore{}, &fakeEnqueuer{}
	ctx, cancel := context.WithCancel(context.Background())
	st.AcquireLeaseFunc = func(context.Context, string, string, time.Duration) (bool, error) {
		cancel()
		return false, nil
	}
	sw, err := NewSweeper(SweeperConfig{Store: st, Enqueuer: enq})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st.count("ActiveJobs") != 0 || st.count("ReleaseLease") != 0 {
		t.Errorf("store calls = %v: swept or released without the lease", st.called())
	}
}
