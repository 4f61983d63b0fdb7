package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// ProbeHandler is the asynq handler of tasks.TypeProbe: while an app is halted, it lets one
// parked batch through (the send path without the halt check). If Tencent answers without a
// halting code the app is resumed and every parked batch is enqueued at once; if the code comes
// back, the send path parks the batch again, moves the halt's probe time on and enqueues the next
// probe.
type ProbeHandler struct {
	send     *SendHandler
	store    ProbeStore
	enq      *enqueuer
	log      *zap.Logger
	interval time.Duration
	tries    int
	now      func() time.Time
}

// NewProbeHandler checks cfg, applies its defaults and returns the handler.
func NewProbeHandler(cfg ProbeConfig) (*ProbeHandler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	now := nowOrDefault(cfg.Now)
	return &ProbeHandler{
		send:     cfg.Send,
		store:    cfg.Store,
		enq:      &enqueuer{q: cfg.Enqueuer, m: orNew(cfg.Metrics), now: now},
		log:      nopIfNil(cfg.Logger).Named("probe"),
		interval: cfg.HaltProbeInterval,
		tries:    cfg.Tries,
		now:      now,
	}, nil
}

// ProcessTask runs one tasks.TypeProbe task.
func (p *ProbeHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	pr, err := tasks.ParseProbe(t)
	if err != nil {
		return fmt.Errorf("dispatcher: %w: %w", err, asynq.SkipRetry)
	}
	return p.Probe(ctx, pr.App)
}

// Probe probes a halted app once (see ProbeHandler).
func (p *ProbeHandler) Probe(ctx context.Context, app string) error {
	log := p.log.With(zap.String("app", app))
	halt, err := p.store.HaltOf(ctx, app)
	if err != nil {
		return fmt.Errorf("dispatcher: probe %s: %w", app, err)
	}
	if halt == nil {
		log.Debug("app not halted, nothing to probe")
		return nil
	}
	for range p.tries {
		ref, ok, err := p.store.PopParked(ctx, app)
		if err != nil {
			return fmt.Errorf("dispatcher: probe %s: %w", app, err)
		}
		if !ok {
			// Nothing parked: the next batch that meets the halt parks itself and asks for a
			// probe again.
			log.Debug("nothing parked to probe with")
			return nil
		}
		blog := log.With(zap.String("job", ref.Job), zap.Int("batch", ref.Batch))
		res, err := p.send.send(ctx, ref.Job, ref.Batch, sendOptions{probe: true})
		if err != nil {
			// Busy, not due, throttled, or a failure: the batch was not sent by this probe. Put
			// it back and let asynq run the probe again.
			if perr := p.repark(ctx, app, ref); perr != nil {
				return errors.Join(err, perr)
			}
			return err
		}
		switch {
		case !res.claimed:
			blog.Debug("parked batch needs no send, probing with the next one")
			continue
		case res.haltCode != "":
			// The send path halted the app again, parked or rescheduled the batch and enqueued
			// the next probe.
			blog.Info("app still halted", zap.String("code", res.haltCode))
			return nil
		case res.answered:
			return p.resume(ctx, log, app, halt)
		default:
			// The outcome is unknown (reconcile settles the batch): the probe learned nothing.
			next := p.now().Add(p.interval)
			if err := p.send.store.Halt(ctx, app, halt.Code, next); err != nil {
				return fmt.Errorf("dispatcher: probe %s: halt: %w", app, err)
			}
			blog.Info("probe outcome unknown, probing again later", zap.Time("probe_at", next))
			return p.enq.probe(ctx, kindProbe, app, next)
		}
	}
	// Every batch taken needed no send: probe again at once with the next ones.
	return p.enq.probe(ctx, kindProbe, app, p.now())
}

// repark parks a popped batch again (after its send was not attempted). ErrNotHalted means the
// app was resumed meanwhile: then the batch must run, so it is enqueued.
func (p *ProbeHandler) repark(ctx context.Context, app string, ref store.BatchRef) error {
	rctx, cancel := detached(ctx, p.send.commitTimeout)
	defer cancel()
	err := p.store.Park(rctx, app, ref.Job, ref.Batch)
	if errors.Is(err, store.ErrNotHalted) {
		return p.enqueueBatch(rctx, kindResume, ref, map[string]string{})
	}
	if err != nil {
		return fmt.Errorf("dispatcher: probe %s: repark %s/%d: %w", app, ref.Job, ref.Batch, err)
	}
	return nil
}

// resume ends the app's halt and enqueues every parked batch at once.
func (p *ProbeHandler) resume(ctx context.Context, log *zap.Logger, app string, halt *store.Halt) error {
	refs, err := p.store.Resume(ctx, app)
	if err != nil {
		return fmt.Errorf("dispatcher: probe %s: resume: %w", app, err)
	}
	p.send.halts.forget(app)
	log.Info("app resumed after a successful probe", zap.String("code", halt.Code), zap.Time("since", halt.Since),
		zap.Int("parked_batches", len(refs)))
	priorities := map[string]string{}
	var errs []error
	for _, ref := range refs {
		if err := p.enqueueBatch(ctx, kindResume, ref, priorities); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// The batches are pending in their records: the sweeper enqueues them.
		log.Error("parked batches not all enqueued; the sweeper will enqueue them", zap.Int("failed", len(errs)),
			zap.Error(errors.Join(errs...)))
	}
	return nil
}

// enqueueBatch enqueues a batch's send task on its job's queue. priorities caches job priorities.
func (p *ProbeHandler) enqueueBatch(ctx context.Context, kind string, ref store.BatchRef, priorities map[string]string) error {
	prio, ok := priorities[ref.Job]
	if !ok {
		job, err := p.store.Job(ctx, ref.Job)
		if errors.Is(err, store.ErrNotFound) {
			return nil // expired: nothing to send
		}
		if err != nil {
			return fmt.Errorf("dispatcher: job %s: %w", ref.Job, err)
		}
		prio = job.Priority
		priorities[ref.Job] = prio
	}
	return p.enq.send(ctx, kind, ref.Job, ref.Batch, prio, time.Time{})
}
