package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/store"
)

// sweepLease is the name of the sweeper's lease.
const sweepLease = "sweep"

// Sweeper closes the gaps of asynq's own recovery (55-120 s after a crash, and known stuck-task
// bugs) and of lost enqueues: every Interval, under a lease (one sweeper across all workers), it
// enqueues again the send task of every batch whose record says pending (or whose claim expired)
// and that is overdue by Grace, the reconcile task of every batch holding unknown numbers, and
// the probe of every halted app whose probe time has passed. Tasks still queued keep their
// TaskIDs, so enqueueing them again changes nothing, while one left archived or completed is
// replaced (tasks.Enqueuer); the batch record decides what is sent in any case. Batches of halted
// apps are left to the probe. The store's ActiveJobs, which each sweep starts with, gives every
// job it finds settled its retention TTL (store.Store.ExpireSettled) before dropping it from the
// active jobs: a job's retention counts from the first sweep after it settled.
type Sweeper struct {
	store    SweepStore
	enq      *enqueuer
	log      *zap.Logger
	interval time.Duration
	grace    time.Duration
	leaseTTL time.Duration
	owner    string
	now      func() time.Time
}

// NewSweeper checks cfg, applies its defaults and returns the sweeper.
func NewSweeper(cfg SweeperConfig) (*Sweeper, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	now := nowOrDefault(cfg.Now)
	return &Sweeper{
		store:    cfg.Store,
		enq:      &enqueuer{q: cfg.Enqueuer, m: orNew(cfg.Metrics), now: now},
		log:      nopIfNil(cfg.Logger).Named("sweeper"),
		interval: cfg.Interval,
		grace:    cfg.Grace,
		leaseTTL: cfg.LeaseTTL,
		owner:    cfg.Owner,
		now:      now,
	}, nil
}

// Run sweeps every Interval while it holds the sweep lease, until ctx ends; then it gives the
// lease up and returns nil. Errors of a sweep are logged; the next sweep tries again.
func (s *Sweeper) Run(ctx context.Context) error {
	return leasedLoop(ctx, s.store, s.log, sweepLease, s.owner, s.leaseTTL, s.interval, "sweep", s.SweepOnce)
}

// SweepOnce sweeps once (without the lease: Run takes it).
func (s *Sweeper) SweepOnce(ctx context.Context) error {
	jobs, err := s.store.ActiveJobs(ctx)
	var errs []error
	if err != nil {
		if jobs == nil {
			return fmt.Errorf("dispatcher: sweep: %w", err)
		}
		// Some jobs' retention or TTL repair failed: the list is whole, sweep it.
		errs = append(errs, fmt.Errorf("dispatcher: sweep: %w", err))
	}
	halted := map[string]bool{}
	for _, id := range jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.sweepJob(ctx, id, halted); err != nil {
			errs = append(errs, err)
		}
	}
	halts, err := s.store.Halts(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("dispatcher: sweep: halts: %w", err))
	}
	now := s.now()
	for _, h := range halts {
		if h.ProbeAt.After(now) {
			continue
		}
		if err := s.enq.probe(ctx, kindSweepProbe, h.App, h.ProbeAt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Sweeper) sweepJob(ctx context.Context, id string, halted map[string]bool) error {
	job, err := s.store.Job(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // being created, or expired
	}
	if err != nil {
		return fmt.Errorf("dispatcher: sweep %s: %w", id, err)
	}
	isHalted, ok := halted[job.AppID]
	if !ok {
		h, err := s.store.HaltOf(ctx, job.AppID)
		if err != nil {
			return fmt.Errorf("dispatcher: sweep %s: %w", id, err)
		}
		isHalted = h != nil
		halted[job.AppID] = isHalted
	}
	var errs []error
	now := s.now()
	if !isHalted {
		pending, err := s.store.PendingBatches(ctx, id)
		if err != nil {
			return fmt.Errorf("dispatcher: sweep %s: %w", id, err)
		}
		for _, b := range pending {
			due := later(later(job.CreatedAt, job.SendAt), b.NotBefore)
			if now.Before(due.Add(s.grace)) {
				continue
			}
			if err := s.enq.send(ctx, kindSweepSend, id, b.Index, job.Priority, time.Time{}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	unknown, err := s.store.UnknownBatches(ctx, id)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("dispatcher: sweep %s: %w", id, err))...)
	}
	for _, b := range unknown {
		us, err := s.store.Unknowns(ctx, id, b)
		if err != nil {
			errs = append(errs, fmt.Errorf("dispatcher: sweep %s/%d: %w", id, b, err))
			continue
		}
		if len(us) == 0 {
			continue
		}
		// Same TaskID as the send handler's, so a reconcile task still queued is not doubled.
		if err := s.enq.reconcile(ctx, kindSweepReconcile, id, b, us[0].Attempt, job.Priority, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
