package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Outcome is what Enqueuer.Enqueue did with a task.
type Outcome int

// Outcomes of Enqueuer.Enqueue.
const (
	// Enqueued: the task was enqueued; no task held its TaskID.
	Enqueued Outcome = iota + 1
	// Replaced: an archived or completed task held the TaskID (it would never run again); it was
	// deleted and the task enqueued.
	Replaced
	// Duplicate: a live task (pending, scheduled, active, retry or aggregating) holds the TaskID
	// and will run; nothing was enqueued.
	Duplicate
)

// String returns enqueued, replaced or duplicate.
func (o Outcome) String() string {
	switch o {
	case Enqueued:
		return "enqueued"
	case Replaced:
		return "replaced"
	case Duplicate:
		return "duplicate"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// maxReplace bounds how many times one Enqueue replaces a dead task holding the TaskID. More
// than once happens only when another enqueuer races with this one and its task dies at once.
const maxReplace = 3

// Enqueuer is the one way smsdispatch enqueues its tasks (client and dispatcher alike). A TaskID
// held by a live task means the task is already queued; one held by an archived or completed task
// (left by an earlier life of the job, a task that ran out of retries, or a retention) is replaced,
// so a batch or probe asked for again always gets a task that will run. It is safe for concurrent
// use.
type Enqueuer struct {
	client    *asynq.Client
	inspector *asynq.Inspector
}

// NewEnqueuer returns an Enqueuer over rdb (a *redis.Client or *redis.ClusterClient), which it
// shares and never closes.
func NewEnqueuer(rdb redis.UniversalClient) *Enqueuer {
	return &Enqueuer{
		client:    asynq.NewClientFromRedisClient(rdb),
		inspector: asynq.NewInspectorFromRedisClient(rdb),
	}
}

// Enqueue enqueues t with opts, which override t's own options (a Queue or TaskID among them
// moves the task, and Enqueue follows). After a TaskID conflict it looks up the task holding the
// id: a live one makes the outcome Duplicate; an archived or completed one is deleted and t
// enqueued in its place (Replaced). A task that turns from archived to pending between the look-up
// and the delete (an operator's "run") is deleted and replaced all the same: one task runs.
func (e *Enqueuer) Enqueue(ctx context.Context, t *Task, opts ...asynq.Option) (Outcome, error) {
	if t == nil || t.Task == nil {
		return 0, errors.New("tasks: enqueue nil task")
	}
	queue, id := locate(t.queue, t.id, opts)
	replaced := false
	var lastErr error
	for range maxReplace + 1 {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("tasks: enqueue %s: %w", id, err)
		}
		_, err := e.client.EnqueueContext(ctx, t.Task, opts...)
		switch {
		case err == nil && replaced:
			return Replaced, nil
		case err == nil:
			return Enqueued, nil
		case !errors.Is(err, asynq.ErrTaskIDConflict) || id == "":
			return 0, fmt.Errorf("tasks: enqueue %s on %s: %w", id, queue, err)
		}
		live, err := e.clearDead(queue, id)
		switch {
		case err != nil:
			lastErr = err // a delete refused (the task went active): look again
		case live:
			return Duplicate, nil
		default:
			replaced = true
		}
	}
	if lastErr == nil {
		lastErr = asynq.ErrTaskIDConflict
	}
	return 0, fmt.Errorf("tasks: enqueue %s on %s: replaced %d times: %w", id, queue, maxReplace, lastErr)
}

// clearDead looks up the task holding id on queue after a TaskID conflict. It reports live=true
// for a task that will run; it deletes an archived or completed one and reports live=false, as
// when the task is gone already.
func (e *Enqueuer) clearDead(queue, id string) (live bool, err error) {
	info, err := e.inspector.GetTaskInfo(queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("tasks: look up %s on %s: %w", id, queue, err)
	}
	if info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted {
		return true, nil
	}
	if err := e.inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return false, fmt.Errorf("tasks: delete %s %s on %s: %w", info.State, id, queue, err)
	}
	return false, nil
}
