package dispatcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/tasks"
)

// Kinds of enqueued tasks (the "kind" label of Metrics.Enqueued).
const (
	kindRetry          = "retry"
	kindReconcile      = "reconcile"
	kindProbe          = "probe"
	kindResume         = "resume"
	kindResend         = "resend"
	kindSweepSend      = "sweep-send"
	kindSweepReconcile = "sweep-reconcile"
	kindSweepProbe     = "sweep-probe"
)

// enqueuer builds and enqueues the dispatcher's tasks through Enqueuer (tasks.Enqueuer in
// production): a TaskID held by a live task means the task is already queued, which is success;
// one held by an archived or completed task is replaced, so a batch or probe asked for again
// always has a task that will run.
type enqueuer struct {
	q   Enqueuer
	m   *Metrics
	now func() time.Time
}

// put enqueues task. opts (the dispatcher's own: queue, ProcessAt) are passed at enqueue time,
// where they override the task's defaults.
func (e *enqueuer) put(ctx context.Context, kind string, task *tasks.Task, buildErr error, opts ...asynq.Option) error {
	if buildErr != nil {
		e.m.Enqueued.WithLabelValues(kind, "error").Inc()
		return fmt.Errorf("dispatcher: build %s task: %w", kind, buildErr)
	}
	out, err := e.q.Enqueue(ctx, task, opts...)
	if err != nil {
		e.m.Enqueued.WithLabelValues(kind, "error").Inc()
		return fmt.Errorf("dispatcher: enqueue %s task: %w", kind, err)
	}
	switch out {
	case tasks.Duplicate:
		e.m.Enqueued.WithLabelValues(kind, "queued").Inc()
	case tasks.Replaced:
		e.m.Enqueued.WithLabelValues(kind, "replaced").Inc()
	default:
		e.m.Enqueued.WithLabelValues(kind, "ok").Inc()
	}
	return nil
}

// send enqueues the send task of a batch on its priority's queue, to run at at (now if zero or
// past).
func (e *enqueuer) send(ctx context.Context, kind, job string, batch int, priority string, at time.Time) error {
	var opts []asynq.Option
	if at.After(e.now()) {
		opts = append(opts, asynq.ProcessAt(at))
	}
	t, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: job, Batch: batch}, priority)
	return e.put(ctx, kind, t, err, opts...)
}

// reconcile enqueues the reconcile task of a batch's attempt after delay. otp jobs reconcile on
// the otp queue (their own worker slots, polled every 10 ms); others on the maint queue.
func (e *enqueuer) reconcile(ctx context.Context, kind, job string, batch, attempt int, priority string, delay time.Duration) error {
	var opts []asynq.Option
	if priority == tasks.PriorityOTP {
		opts = append(opts, asynq.Queue(tasks.QueueOTP))
	}
	if delay > 0 {
		opts = append(opts, asynq.ProcessIn(roundUpToSecond(e.now(), delay)))
	}
	t, err := tasks.NewReconcileTask(tasks.Reconcile{Job: job, Batch: batch}, attempt)
	return e.put(ctx, kind, t, err, opts...)
}

// probe enqueues the probe of a halted app at probeAt (now if past). Its TaskID names the app and
// probeAt (tasks.ProbeTaskID), so every handler that parks a batch of the app can ask for the
// probe and only one is queued.
func (e *enqueuer) probe(ctx context.Context, kind, app string, probeAt time.Time) error {
	var opts []asynq.Option
	if probeAt.After(e.now()) {
		opts = append(opts, asynq.ProcessAt(probeAt))
	}
	t, err := tasks.NewProbeTask(tasks.Probe{App: app}, probeAt)
	return e.put(ctx, kind, t, err, opts...)
}

// newToken returns a random 128-bit hex token (claim tokens, lease owners).
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// detached returns a context that outlives ctx's cancellation by at most d: for writes that must
// happen once a send went out (a dropped commit would turn accepted numbers into unknowns).
func detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// nopIfNil returns l, or a no-op logger.
func nopIfNil(l *zap.Logger) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return l
}

func nowOrDefault(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
