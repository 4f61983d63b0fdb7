package dispatcher

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// TestSweepRevivesDeadTasks leaves the task of an overdue batch, of an unknown batch or of an
// overdue probe archived (out of retries) or completed (kept by a retention), or still pending,
// and sweeps once through tasks.Enqueuer on miniredis: a dead task is replaced by a pending one, a
// pending one is left alone.
func TestSweepRevivesDeadTasks(t *testing.T) {
	t.Parallel()
	const app = "1400000008"
	now := time.Now()
	probeAt := now.Add(-time.Minute)
	for _, tc := range []struct {
		name, kind string // kind: send, reconcile or probe
		state      asynq.TaskState
		result     string // the Enqueued metric's result label
	}{
		{"archived send", "send", asynq.TaskStateArchived, "replaced"},
		{"completed send", "send", asynq.TaskStateCompleted, "replaced"},
		{"pending send", "send", asynq.TaskStatePending, "queued"},
		{"archived reconcile", "reconcile", asynq.TaskStateArchived, "replaced"},
		{"archived probe", "probe", asynq.TaskStateArchived, "replaced"},
		{"completed probe", "probe", asynq.TaskStateCompleted, "replaced"},
		{"pending probe", "probe", asynq.TaskStatePending, "queued"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.Mini(t).Client
			enq, ins := tasks.NewEnqueuer(rdb), asynq.NewInspectorFromRedisClient(rdb)

			st := &fakeStore{}
			var opts []asynq.Option
			if tc.state == asynq.TaskStateCompleted {
				opts = append(opts, asynq.Retention(time.Hour))
			}
			var (
				task *tasks.Task
				err  error
				kind string
			)
			switch tc.kind {
			case "send", "reconcile":
				st.ActiveJobsFunc = func(context.Context) ([]string, error) { return []string{"j1"}, nil }
				st.JobFunc = func(_ context.Context, id string) (store.Job, error) {
					return store.Job{ID: id, AppID: testApp, Priority: tasks.PriorityNormal, CreatedAt: now.Add(-time.Hour)}, nil
				}
				if tc.kind == "send" {
					st.PendingBatchesFunc = func(context.Context, string) ([]store.Batch, error) { return []store.Batch{{Index: 0}}, nil }
					task, err = tasks.NewSendBatchTask(tasks.SendBatch{Job: "j1", Batch: 0}, tasks.PriorityNormal, opts...)
					kind = kindSweepSend
				} else {
					st.UnknownBatchesFunc = func(context.Context, string) ([]int, error) { return []int{1}, nil }
					st.UnknownsFunc = func(context.Context, string, int) ([]store.UnknownNumber, error) {
						return []store.UnknownNumber{{Index: 0, Number: testNumbers[0], Attempt: 2, SentAt: now.Add(-time.Hour)}}, nil
					}
					task, err = tasks.NewReconcileTask(tasks.Reconcile{Job: "j1", Batch: 1}, 2, opts...)
					kind = kindSweepReconcile
				}
			case "probe":
				st.HaltsFunc = func(context.Context) ([]store.Halt, error) {
					return []store.Halt{{App: app, Code: "FailedOperation.InsufficientBalanceInSmsPackage", ProbeAt: probeAt}}, nil
				}
				task, err = tasks.NewProbeTask(tasks.Probe{App: app}, probeAt, opts...)
				kind = kindSweepProbe
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := enq.Enqueue(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			switch tc.state {
			case asynq.TaskStateArchived:
				if err := ins.ArchiveTask(task.Queue(), task.ID()); err != nil {
					t.Fatal(err)
				}
			case asynq.TaskStateCompleted:
				runToCompletion(t, rdb, ins, task)
			}

			m := orNew(nil)
			sw, err := NewSweeper(SweeperConfig{Store: st, Enqueuer: enq, Metrics: m, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if err := sw.SweepOnce(context.Background()); err != nil {
				t.Fatalf("SweepOnce = %v", err)
			}
			info, err := ins.GetTaskInfo(task.Queue(), task.ID())
			if err != nil {
				t.Fatal(err)
			}
			if info.State != asynq.TaskStatePending {
				t.Errorf("after the sweep %s is %v, want pending", info.ID, info.State)
			}
			if got := counterValue(t, m.Enqueued.WithLabelValues(kind, tc.result)); got != 1 {
				t.Errorf("enqueued{%s,%s} = %v, want 1", kind, tc.result, got)
			}
			if q, err := ins.GetQueueInfo(task.Queue()); err != nil || q.Size != 1 {
				t.Errorf("queue %s: %+v, %v; want one task", task.Queue(), q, err)
			}
		})
	}
}

// runToCompletion runs task (enqueued with asynq.Retention, pending) with an asynq server until
// asynq keeps it as completed.
func runToCompletion(t *testing.T, rdb redis.UniversalClient, ins *asynq.Inspector, task *tasks.Task) {
	t.Helper()
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues:          map[string]int{task.Queue(): 1},
		Concurrency:     1,
		ShutdownTimeout: time.Second,
		LogLevel:        asynq.ErrorLevel,
	})
	if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for range 1000 {
		if info, err := ins.GetTaskInfo(task.Queue(), task.ID()); err == nil && info.State == asynq.TaskStateCompleted {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("task %s never completed", task.ID())
}
