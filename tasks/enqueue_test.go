package tasks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func newTestEnqueuer(t *testing.T) (*Enqueuer, redis.UniversalClient, *asynq.Inspector) {
	t.Helper()
	rdb := redistest.Mini(t).Client
	return NewEnqueuer(rdb), rdb, asynq.NewInspectorFromRedisClient(rdb)
}

// complete runs every pending task of queue to completion with an asynq server (tasks built with
// asynq.Retention stay completed), and returns once the task id is completed.
func complete(t *testing.T, rdb redis.UniversalClient, ins *asynq.Inspector, queue, id string) {
	t.Helper()
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues:          map[string]int{queue: 1},
		Concurrency:     1,
		ShutdownTimeout: time.Second,
		LogLevel:        asynq.ErrorLevel,
	})
	if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for range 1000 {
		info, err := ins.GetTaskInfo(queue, id)
		if err == nil && info.State == asynq.TaskStateCompleted {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("task %s never completed", id)
}

func TestEnqueuerReplacesDeadTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name string
		// before leaves a task holding the id in some state (nil: none).
		before    func(t *testing.T, e *Enqueuer, rdb redis.UniversalClient, ins *asynq.Inspector, task *Task)
		want      Outcome
		wantState asynq.TaskState
	}{
		{"no task", nil, Enqueued, asynq.TaskStatePending},
		{"pending", func(t *testing.T, e *Enqueuer, _ redis.UniversalClient, _ *asynq.Inspector, task *Task) {
			mustEnqueue(t, e, task, Enqueued)
		}, Duplicate, asynq.TaskStatePending},
		{"scheduled", func(t *testing.T, e *Enqueuer, _ redis.UniversalClient, _ *asynq.Inspector, task *Task) {
			mustEnqueue(t, e, task, Enqueued, asynq.ProcessAt(later))
		}, Duplicate, asynq.TaskStateScheduled},
		{"archived", func(t *testing.T, e *Enqueuer, _ redis.UniversalClient, ins *asynq.Inspector, task *Task) {
			mustEnqueue(t, e, task, Enqueued)
			if err := ins.ArchiveTask(task.Queue(), task.ID()); err != nil {
				t.Fatal(err)
			}
		}, Replaced, asynq.TaskStatePending},
		{"completed", func(t *testing.T, e *Enqueuer, rdb redis.UniversalClient, ins *asynq.Inspector, task *Task) {
			mustEnqueue(t, e, task, Enqueued, asynq.Retention(time.Hour))
			complete(t, rdb, ins, task.Queue(), task.ID())
		}, Replaced, asynq.TaskStatePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, rdb, ins := newTestEnqueuer(t)
			task, err := NewProbeTask(Probe{App: "1400000000"}, time.Unix(1700000000, 0))
			if err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				tc.before(t, e, rdb, ins, task)
			}
			got, err := e.Enqueue(ctx, task)
			if err != nil || got != tc.want {
				t.Fatalf("Enqueue = %v, %v; want %v", got, err, tc.want)
			}
			info, err := ins.GetTaskInfo(task.Queue(), task.ID())
			if err != nil {
				t.Fatal(err)
			}
			if info.State != tc.wantState {
				t.Errorf("task %s is %v, want %v", info.ID, info.State, tc.wantState)
			}
		})
	}
}

// Options given at enqueue time apply to the replacement, and a Queue option moves the look-up.
func TestEnqueuerFollowsEnqueueOptions(t *testing.T) {
	t.Parallel()
	e, _, ins := newTestEnqueuer(t)
	task, err := NewReconcileTask(Reconcile{Job: "j1", Batch: 4}, 2)
	if err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, e, task, Enqueued, asynq.Queue(QueueOTP))
	if err := ins.ArchiveTask(QueueOTP, task.ID()); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	mustEnqueue(t, e, task, Replaced, asynq.Queue(QueueOTP), asynq.ProcessAt(at))
	info, err := ins.GetTaskInfo(QueueOTP, task.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStateScheduled || !info.NextProcessAt.Equal(at) {
		t.Errorf("replacement %v at %v, want scheduled at %v", info.State, info.NextProcessAt, at)
	}
	if _, err := ins.GetTaskInfo(QueueMaint, task.ID()); !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Errorf("task on the default queue too: %v", err)
	}
}

func TestEnqueuerErrors(t *testing.T) {
	t.Parallel()
	e, rdb, _ := newTestEnqueuer(t)
	if _, err := e.Enqueue(context.Background(), nil); err == nil {
		t.Error("nil task enqueued")
	}
	task, err := NewSendBatchTask(SendBatch{Job: "j1", Batch: 0}, PriorityNormal)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Enqueue(ctx, task); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: err = %v", err)
	}
	_ = rdb.Close()
	if got, err := e.Enqueue(context.Background(), task); err == nil {
		t.Errorf("closed Redis: Enqueue = %v, nil", got)
	}
}

func mustEnqueue(t *testing.T, e *Enqueuer, task *Task, want Outcome, opts ...asynq.Option) {
	t.Helper()
	got, err := e.Enqueue(context.Background(), task, opts...)
	if err != nil || got != want {
		t.Fatalf("Enqueue(%s) = %v, %v; want %v", task.ID(), got, err, want)
	}
}
