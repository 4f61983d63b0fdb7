package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// sendTaskID is the TaskID tasks.NewSendBatchTask gives batch b of job (TestSendTaskIDMatchesTasks
// keeps the two in step).
func sendTaskID(job string, b int) string { return "send:" + job + ":" + strconv.Itoa(b) }

// enqueueAll enqueues the send task of n batches (ref(i) names the i-th) on a bounded pool of
// goroutines. It stops early after a batch fails all its attempts (Redis is most likely down)
// and returns how many batches were not enqueued with the first error.
func (c *Client) enqueueAll(ctx context.Context, n int, ref func(i int) (store.Job, int)) (failed int, err error) {
	if n == 0 {
		return 0, nil
	}
	var (
		next, done atomic.Int64
		stop       atomic.Bool
		once       sync.Once
		firstErr   error
		wg         sync.WaitGroup
	)
	for range min(c.opts.EnqueueConcurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				job, b := ref(i)
				if err := c.enqueueOne(ctx, job, b); err != nil {
					once.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		c.log.Warn("batch tasks not enqueued", zap.Int64("enqueued", done.Load()), zap.Int("batches", n), zap.Error(firstErr))
		return n - int(done.Load()), firstErr
	}
	return 0, nil
}

// enqueueOne enqueues the send task of one batch, retrying transient errors. A task already
// queued with its id counts as enqueued; one left archived or completed by an earlier life of the
// job id is replaced.
func (c *Client) enqueueOne(ctx context.Context, job store.Job, batch int) error {
	var opts []asynq.Option
	if job.SendAt.After(c.now()) {
		opts = append(opts, asynq.ProcessAt(job.SendAt))
	}
	task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: job.ID, Batch: batch}, job.Priority, opts...)
	if err != nil {
		return fmt.Errorf("batch %d: %w", batch, err)
	}
	queue, _ := tasks.QueueFor(job.Priority) // validated by NewSendBatchTask
	id := sendTaskID(job.ID, batch)
	replaced := false
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err = c.aq.EnqueueContext(ctx, task)
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			if replaced {
				return nil // someone else enqueued it meanwhile
			}
			again, ierr := c.stale(queue, id)
			switch {
			case ierr != nil:
				err = ierr
			case !again:
				return nil // queued already: it will run
			default:
				replaced = true
				attempt-- // enqueueing the replacement is not a retry
				continue
			}
		}
		if err == nil {
			return nil
		}
		if attempt >= c.opts.EnqueueAttempts || ctx.Err() != nil {
			return fmt.Errorf("batch %d: %w", batch, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("batch %d: %w", batch, ctx.Err())
		case <-time.After(delay):
		}
		delay *= 4
	}
}

// stale inspects the task holding id after a TaskID conflict. again=true when it was archived or
// completed (it would never run again) and has been deleted, or is gone already: enqueue again.
func (c *Client) stale(queue, id string) (again bool, err error) {
	info, err := c.inspector.GetTaskInfo(queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	if info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted {
		return false, nil // pending, scheduled, retry or active: it will run
	}
	if err := c.inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return false, err
	}
	return true, nil
}
