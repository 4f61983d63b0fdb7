package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// receiptLookupLease is the name of the lookup loop's lease.
const receiptLookupLease = "receipt-lookup"

// LookupStore is what ReceiptLookup needs from the store; *store.Store satisfies it.
type LookupStore interface {
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	AwaitingReceipts(ctx context.Context, sentBefore time.Time, maxNumbers int) ([]store.AwaitingBatch, error)
	RecordLookup(ctx context.Context, job string, batch int, m store.LookupMark) error
	SerialRefs(ctx context.Context, serials []string) (map[string]store.SerialRef, error)
	SaveReceiptPage(ctx context.Context, app string, page []store.Receipt) (string, error)
	ApplyReceiptPage(ctx context.Context, app string, page store.SavedPage) (store.ApplyStats, error)
	ReceiptLossSuspected(ctx context.Context) (time.Time, error)
}

var _ LookupStore = (*store.Store)(nil)

// ReceiptLossGrace is how long after a suspected receipt loss (a pull whose page may be lost:
// store.TakePullMark) the numbers sent before it that still have no receipt wait before they are
// looked up, instead of their whole lookup age: time for the puller to bring the pages that
// were not lost.
const ReceiptLossGrace = 30 * time.Second

// ReceiptLookup recovers receipts that no pull will bring: a pulled page is lost when its worker
// dies between the pull's reply and the page's save (the pull is a destructive read, which
// nothing can make safe). Every Interval, under a lease (one worker fleet-wide), it lists the
// numbers sent at least Age ago that still have no receipt, oldest first and at most MaxPerRun,
// and looks each up by number (PullSmsSendStatusByPhoneNumber: non-destructive, through the
// shared by-number rate limiter), so no receipt is lost for good and the job does not wait the
// whole receipt window for them.
//
// A receipt found is applied like a pulled one (saved as a page, then ApplyReceiptPage), so it
// counts once even when the pull brings it too. Only receipts that are this number's own are
// applied: the lookup returns every send to the number in the window, so a receipt must have
// its SerialNo indexed to this very number, or (serial not indexed) carry this batch's
// SessionContext. Each number is looked up once per round, at most Rounds rounds (the progress
// is kept in the batch record, so a crash costs at most one lookup again).
type ReceiptLookup struct {
	store     LookupStore
	puller    PhoneStatusPuller
	limiter   Limiter
	log       *zap.Logger
	m         *Metrics
	age       time.Duration
	rounds    int
	interval  time.Duration
	maxPerRun int
	leaseTTL  time.Duration
	owner     string
	slack     time.Duration
	now       func() time.Time
}

// NewReceiptLookup checks cfg, applies its defaults and returns the loop.
func NewReceiptLookup(cfg ReceiptLookupConfig) (*ReceiptLookup, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &ReceiptLookup{
		store:     cfg.Store,
		puller:    cfg.Puller,
		limiter:   cfg.Limiter,
		log:       nopIfNil(cfg.Logger).Named("receipt-lookup"),
		m:         orNew(cfg.Metrics),
		age:       cfg.Age,
		rounds:    cfg.Rounds,
		interval:  cfg.Interval,
		maxPerRun: cfg.MaxPerRun,
		leaseTTL:  cfg.LeaseTTL,
		owner:     cfg.Owner,
		slack:     DefaultEvidenceSlack,
		now:       nowOrDefault(cfg.Now),
	}, nil
}

// Run looks up every Interval while it holds the lease, until ctx ends; then it gives the lease
// up and returns nil. Errors of a run are logged; the next run tries again.
func (l *ReceiptLookup) Run(ctx context.Context) error {
	return leasedLoop(ctx, l.store, l.log, receiptLookupLease, l.owner, l.leaseTTL, l.interval, "receipt lookup", l.LookupOnce)
}

// roundDue is when lookup round r (1-based) of a batch sent at sentAt is due: Age·4^(r-1) later.
func (l *ReceiptLookup) roundDue(sentAt time.Time, r int) time.Time {
	d := l.age
	for i := 1; i < r && d < 1<<60; i++ {
		d *= 4
	}
	return sentAt.Add(d)
}

// LookupOnce runs one round of lookups (without the lease: Run takes it, and renews it between
// batches, stopping if it is lost).
func (l *ReceiptLookup) LookupOnce(ctx context.Context) error {
	now := l.now()
	sentBefore := now.Add(-l.age)
	// After a suspected loss, numbers sent before it are looked up once the grace has passed.
	loss, err := l.store.ReceiptLossSuspected(ctx)
	if err != nil {
		return fmt.Errorf("dispatcher: receipt lookup: %w", err)
	}
	// (Sent before the loss and at least the grace ago.)
	early := loss
	if cutoff := now.Add(-ReceiptLossGrace); early.After(cutoff) {
		early = cutoff
	}
	if early.After(sentBefore) {
		sentBefore = early
	}
	batches, err := l.store.AwaitingReceipts(ctx, sentBefore, l.maxPerRun)
	if err != nil {
		return fmt.Errorf("dispatcher: receipt lookup: %w", err)
	}
	var looked, found int
	defer func() {
		if looked > 0 {
			l.log.Info("numbers without a receipt looked up by number", zap.Int("numbers", looked), zap.Int("receipts", found))
		}
	}()
	for i, b := range batches {
		if i > 0 {
			ok, err := l.store.AcquireLease(ctx, receiptLookupLease, l.owner, l.leaseTTL)
			if err != nil {
				return fmt.Errorf("dispatcher: receipt lookup: lease: %w", err)
			}
			if !ok {
				return nil // another worker has it now
			}
		}
		n, f, err := l.lookupBatch(ctx, b, now)
		looked, found = looked+n, found+f
		if err != nil {
			return err
		}
	}
	return nil
}

// lookupBatch looks up the numbers of one batch, recording the progress after each. It returns
// how many numbers it looked up and how many receipts it applied.
func (l *ReceiptLookup) lookupBatch(ctx context.Context, b store.AwaitingBatch, now time.Time) (looked, found int, err error) {
	op := fmt.Sprintf("dispatcher: receipt lookup %s/%d", b.Job, b.Batch)
	log := l.log.With(zap.String("job", b.Job), zap.Int("batch", b.Batch), zap.Int("round", b.Round))
	begin := b.SentAt.Add(-l.slack)
	if oldest := now.Add(-7*24*time.Hour + time.Hour); begin.Before(oldest) {
		begin = oldest // Tencent answers for the last 7 days only
	}
	for _, u := range b.Numbers {
		if err := l.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return looked, found, nil // shutting down: the next run goes on from here
			}
			return looked, found, fmt.Errorf("%s: rate limiter: %w", op, err)
		}
		recs, err := l.puller.PullSendStatusByPhoneNumber(ctx, tencentsms.PullByPhoneRequest{
			AppID: b.App, PhoneNumber: u.Number, Begin: begin, End: now, Limit: tencentsms.MaxPullLimit,
		})
		looked++
		if err != nil {
			var apiErr *tencentsms.Error
			if !errors.As(err, &apiErr) || retry.Classify(apiErr.Code) == retry.ClassTransient {
				// Throttled, or no answer: this number is looked up again next run.
				return looked, found, fmt.Errorf("%s: lookup %s: %w", op, tencentsms.MaskPhone(u.Number), err)
			}
			// Tencent refused this number's lookup for good: nothing to find.
			log.Warn("number lookup refused", zap.String("number", tencentsms.MaskPhone(u.Number)), zap.Error(err))
			recs = nil
		}
		if len(recs) > 0 {
			n, err := l.apply(ctx, b, u, recs, now)
			if err != nil {
				return looked, found, fmt.Errorf("%s: %w", op, err)
			}
			found += n
		}
		if err := l.store.RecordLookup(ctx, b.Job, b.Batch, store.LookupMark{Round: b.Round, Next: u.Index + 1}); err != nil {
			return looked, found, fmt.Errorf("%s: %w", op, err)
		}
	}
	if b.Partial {
		return looked, found, nil
	}
	mark := store.LookupMark{Round: b.Round, Done: true}
	if b.Round < l.rounds {
		mark.NextDue = l.roundDue(b.SentAt, b.Round+1)
	}
	if err := l.store.RecordLookup(ctx, b.Job, b.Batch, mark); err != nil {
		return looked, found, fmt.Errorf("%s: %w", op, err)
	}
	return looked, found, nil
}

// apply applies the receipts of one looked-up number that are its own send's (see ReceiptLookup)
// and carry a status. It returns how many were applied.
func (l *ReceiptLookup) apply(ctx context.Context, b store.AwaitingBatch, u store.UnknownNumber, recs []tencentsms.Receipt, now time.Time) (int, error) {
	var serials []string
	for _, r := range recs {
		if r.SerialNo != "" {
			serials = append(serials, r.SerialNo)
		}
	}
	var refs map[string]store.SerialRef
	if len(serials) > 0 {
		var err error
		if refs, err = l.store.SerialRefs(ctx, serials); err != nil {
			return 0, err
		}
	}
	own := store.SerialRef{BatchRef: b.BatchRef, Index: u.Index}
	var page []store.Receipt
	for _, t := range recs {
		r := fromTencent(t, now)
		if r.Status == "" || (r.PhoneNumber != "" && r.PhoneNumber != u.Number) {
			continue // no report yet, or another number
		}
		if ref, ok := refs[r.SerialNo]; ok {
			if ref != own {
				continue // another send's receipt
			}
		} else {
			job, batch, _, ok := store.ParseSessionContext(r.SessionContext)
			if !ok || job != b.Job || batch != b.Batch {
				continue // nothing ties it to this send
			}
		}
		page = append(page, r)
	}
	if len(page) == 0 {
		return 0, nil
	}
	id, err := l.store.SaveReceiptPage(ctx, b.App, page)
	if err != nil {
		return 0, err
	}
	st, err := l.store.ApplyReceiptPage(ctx, b.App, store.SavedPage{ID: id, Receipts: page})
	if err != nil {
		return 0, err // the page stays saved: the puller applies it
	}
	l.m.Receipts.WithLabelValues("applied").Add(float64(st.Applied))
	l.m.Receipts.WithLabelValues("duplicate").Add(float64(st.Duplicate))
	l.m.Receipts.WithLabelValues("unmatched").Add(float64(st.Unmatched))
	return st.Applied, nil
}
