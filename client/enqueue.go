package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

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
// job id is replaced (tasks.Enqueuer).
func (c *Client) enqueueOne(ctx context.Context, job store.Job, batch int) error {
	var opts []asynq.Option
	now := c.now()
	at := now
	if job.SendAt.After(now) {
		at = job.SendAt
	}
	// A job outside its send window is due when the window opens (the worker checks it again).
	at = job.SendWindow().NextOpen(at)
	if at.After(now) {
		opts = append(opts, asynq.ProcessAt(at))
	}
	task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: job.ID, Batch: batch}, job.Priority, opts...)
	if err != nil {
		return fmt.Errorf("batch %d: %w", batch, err)
	}
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if _, err = c.enq.Enqueue(ctx, task); err == nil {
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
