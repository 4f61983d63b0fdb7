package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// DefaultEvidenceSlack is how far before an attempt's claim time evidence is accepted (clock skew
// between workers, Redis and Tencent).
const DefaultEvidenceSlack = time.Minute

// ReconcileConfig configures a ReconcileHandler. Store, Puller, Enqueuer and Limiter are required.
type ReconcileConfig struct {
	Store    ReconcileStore
	Puller   PhoneStatusPuller
	Enqueuer Enqueuer
	// Limiter is the fleet-wide budget of PullSmsSendStatusByPhoneNumber, which Tencent limits to
	// 20 calls/s per account: use a ratelimit.Limiter of its own key at 18/s.
	Limiter Limiter
	Logger  *zap.Logger
	Metrics *Metrics
	// ReconcileWindow is how long unknown numbers wait for evidence before being looked up by
	// number and, without evidence, resent. Default 60 s. otp jobs that have not expired are
	// resent at once.
	ReconcileWindow time.Duration
	// EvidenceSlack widens the evidence window before the attempt's claim time. Default 1 min.
	EvidenceSlack time.Duration
	Now           func() time.Time
}

// ReconcileHandler is the asynq handler of tasks.TypeReconcile. It settles the numbers of a batch
// whose send outcome is unknown: with evidence (a receipt kept as unmatched for the number, or
// PullSmsSendStatusByPhoneNumber over the send window) they count as sent; without evidence after
// ReconcileWindow they are resent in a new batch. otp jobs (not expired) are resent at once: a
// second code is harmless, a missing one is not.
type ReconcileHandler struct {
	store   ReconcileStore
	puller  PhoneStatusPuller
	limiter Limiter
	enq     *enqueuer
	log     *zap.Logger
	m       *Metrics
	window  time.Duration
	slack   time.Duration
	now     func() time.Time
}

// NewReconcileHandler checks cfg, applies its defaults and returns the handler.
func NewReconcileHandler(cfg ReconcileConfig) (*ReconcileHandler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("dispatcher: ReconcileConfig.Store is nil")
	case cfg.Puller == nil:
		return nil, errors.New("dispatcher: ReconcileConfig.Puller is nil")
	case cfg.Enqueuer == nil:
		return nil, errors.New("dispatcher: ReconcileConfig.Enqueuer is nil")
	case cfg.Limiter == nil:
		return nil, errors.New("dispatcher: ReconcileConfig.Limiter is nil")
	case cfg.ReconcileWindow < 0 || cfg.EvidenceSlack < 0:
		return nil, errors.New("dispatcher: ReconcileConfig durations must not be negative")
	}
	if cfg.ReconcileWindow == 0 {
		cfg.ReconcileWindow = DefaultReconcileWindow
	}
	if cfg.EvidenceSlack == 0 {
		cfg.EvidenceSlack = DefaultEvidenceSlack
	}
	m := orNew(cfg.Metrics)
	now := nowOrDefault(cfg.Now)
	return &ReconcileHandler{
		store:   cfg.Store,
		puller:  cfg.Puller,
		limiter: cfg.Limiter,
		enq:     &enqueuer{q: cfg.Enqueuer, m: m, now: now},
		log:     nopIfNil(cfg.Logger).Named("reconcile"),
		m:       m,
		window:  cfg.ReconcileWindow,
		slack:   cfg.EvidenceSlack,
		now:     now,
	}, nil
}

// ProcessTask runs one tasks.TypeReconcile task. It returns a *RetryAfterError while the window
// is open and some numbers still lack evidence.
func (h *ReconcileHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseReconcile(t)
	if err != nil {
		return fmt.Errorf("dispatcher: %w: %w", err, asynq.SkipRetry)
	}
	return h.Reconcile(ctx, p.Job, p.Batch)
}

// evidence is a receipt accepted as proof that one unknown number was sent.
type evidence struct {
	u       store.UnknownNumber
	receipt store.Receipt
	source  string // "receipt" (kept unmatched) or "phone" (PullSmsSendStatusByPhoneNumber)
}

// Reconcile settles the unknown numbers of one batch (see ReconcileHandler).
func (h *ReconcileHandler) Reconcile(ctx context.Context, jobID string, batch int) error {
	log := h.log.With(zap.String("job", jobID), zap.Int("batch", batch))
	unknowns, err := h.store.Unknowns(ctx, jobID, batch)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("batch not found, nothing to reconcile", zap.Error(err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("dispatcher: reconcile %s/%d: %w", jobID, batch, err)
	}
	if len(unknowns) == 0 {
		return nil
	}
	job, err := h.store.Job(ctx, jobID)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("job not found, nothing to reconcile", zap.Error(err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("dispatcher: reconcile %s/%d: %w", jobID, batch, err)
	}
	now := h.now()
	rjob := retry.Job{Priority: job.Priority, ExpiresAt: job.ExpiresAt}
	if job.Priority == tasks.PriorityOTP && !rjob.Expired(now) {
		return h.resend(ctx, log, job, batch, len(unknowns), now)
	}

	// Evidence, cheapest first: receipts already pulled that matched no send; then, once the
	// window is over, a lookup by number (20 calls/s per account, so only then).
	sentAt := unknowns[0].SentAt
	for _, u := range unknowns[1:] {
		sentAt = later(sentAt, u.SentAt)
	}
	if sentAt.IsZero() {
		sentAt = job.CreatedAt
	}
	windowEnd := sentAt.Add(h.window)
	windowOver := !now.Before(windowEnd)
	found, lookupErr := h.findEvidence(ctx, job, batch, unknowns, now, windowOver)
	if err := h.apply(ctx, log, job, batch, found); err != nil {
		return errors.Join(lookupErr, err)
	}
	if lookupErr != nil {
		return lookupErr
	}
	remaining := len(unknowns) - len(found)
	if remaining == 0 {
		log.Info("unknown numbers settled by evidence", zap.Int("numbers", len(found)))
		return nil
	}
	if !windowOver {
		return retryAfter(windowEnd.Sub(now), "reconcile window open", nil)
	}
	log.Info("no evidence for unknown numbers after the window, resending", zap.Int("settled", len(found)),
		zap.Int("resend", remaining))
	return h.resend(ctx, log, job, batch, remaining, now)
}

// resend moves the batch's remaining unknown numbers into a new batch and enqueues it.
func (h *ReconcileHandler) resend(ctx context.Context, log *zap.Logger, job store.Job, batch, n int, now time.Time) error {
	rb, ok, err := h.store.ResendUnknown(ctx, job.ID, batch, now)
	if err != nil {
		return fmt.Errorf("dispatcher: reconcile %s/%d: %w", job.ID, batch, err)
	}
	if !ok {
		return nil // settled meanwhile, or the job was cancelled or failed
	}
	h.m.Numbers.WithLabelValues("resent").Add(float64(n))
	log.Info("unknown numbers resent", zap.Int("resend_batch", rb.Batch), zap.Int("numbers", n))
	if err := h.enq.send(ctx, kindResend, job.ID, rb.Batch, job.Priority, rb.At); err != nil {
		log.Error("resend batch not enqueued; the sweeper will enqueue it", zap.Int("resend_batch", rb.Batch), zap.Error(err))
	}
	return nil
}

// findEvidence looks for a receipt of each unknown number. byPhone enables the lookup by number.
// It returns what it found, and an error that stopped the lookup early (what was found is still
// good).
func (h *ReconcileHandler) findEvidence(ctx context.Context, job store.Job, batch int, unknowns []store.UnknownNumber,
	now time.Time, byPhone bool) ([]evidence, error) {
	var found []evidence
	used := map[string]bool{} // serials already taken as evidence
	for _, u := range unknowns {
		since := u.SentAt.Add(-h.slack)
		session := store.SessionContext(job.ID, batch, u.Attempt)
		recs, err := h.store.UnmatchedReceipts(ctx, u.Number, since)
		if err != nil {
			return found, fmt.Errorf("dispatcher: reconcile %s/%d: %w", job.ID, batch, err)
		}
		if r, ok := pick(recs, session, since, used); ok {
			found = append(found, evidence{u: u, receipt: r, source: "receipt"})
			continue
		}
		if !byPhone {
			continue
		}
		if err := h.limiter.Wait(ctx); err != nil {
			return found, retryAfter(time.Second, "rate-limit wait ended", err)
		}
		pulled, err := h.puller.PullSendStatusByPhoneNumber(ctx, tencentsms.PullByPhoneRequest{
			AppID: job.AppID, PhoneNumber: u.Number, Begin: since, End: now, Limit: tencentsms.MaxPullLimit,
		})
		if err != nil {
			var apiErr *tencentsms.Error
			if errors.As(err, &apiErr) && retry.Classify(apiErr.Code) == retry.ClassTransient {
				return found, retryAfter(time.Second, "number lookup throttled", err)
			}
			return found, fmt.Errorf("dispatcher: reconcile %s/%d: lookup %s: %w", job.ID, batch, tencentsms.MaskPhone(u.Number), err)
		}
		recs = make([]store.Receipt, 0, len(pulled))
		for _, r := range pulled {
			recs = append(recs, fromTencent(r, time.Time{}))
		}
		if r, ok := pick(recs, session, since, used); ok {
			found = append(found, evidence{u: u, receipt: r, source: "phone"})
		}
	}
	return found, nil
}

// pick returns the earliest receipt that is evidence for the attempt: one carrying the attempt's
// SessionContext, or, when receipts carry none, one received at or after since (a receipt without
// a time came from a query over the window, which bounds it already). Serials in used are skipped.
func pick(recs []store.Receipt, session string, since time.Time, used map[string]bool) (store.Receipt, bool) {
	for _, r := range recs {
		if r.SerialNo != "" && used[r.SerialNo] {
			continue
		}
		if r.SessionContext != "" && r.SessionContext != session {
			continue
		}
		if r.SessionContext == "" && !r.ReceivedAt.IsZero() && r.ReceivedAt.Before(since) {
			continue
		}
		if r.SerialNo != "" {
			used[r.SerialNo] = true
		}
		return r, true
	}
	return store.Receipt{}, false
}

// apply settles the numbers with evidence. Receipts with a SerialNo and a status are indexed to
// their numbers and applied as a receipt page, so they count as delivered or undelivered too;
// then every number with evidence that is still unknown (no status, or a receipt the page could
// not match) is settled as sent. Both steps are idempotent.
func (h *ReconcileHandler) apply(ctx context.Context, log *zap.Logger, job store.Job, batch int, found []evidence) error {
	if len(found) == 0 {
		return nil
	}
	var index, settle []store.NumberResult
	var page []store.Receipt
	for _, e := range found {
		r := store.NumberResult{Index: e.u.Index, State: store.Sent, SerialNo: e.receipt.SerialNo}
		settle = append(settle, r)
		if e.receipt.SerialNo != "" && e.receipt.Status != "" {
			index = append(index, r)
			page = append(page, e.receipt)
		}
		log.Debug("evidence found for an unknown number", zap.String("number", tencentsms.MaskPhone(e.u.Number)),
			zap.String("source", e.source), zap.String("serial_no", e.receipt.SerialNo))
	}
	op := fmt.Sprintf("dispatcher: reconcile %s/%d", job.ID, batch)
	if len(page) > 0 {
		if err := h.store.IndexSerials(ctx, job.ID, batch, index); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		id, err := h.store.SaveReceiptPage(ctx, job.AppID, page)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if _, err := h.store.ApplyReceiptPage(ctx, job.AppID, store.SavedPage{ID: id, Receipts: page}); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if err := h.store.SettleUnknown(ctx, job.ID, batch, settle); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	h.m.Numbers.WithLabelValues("settled").Add(float64(len(found)))
	return nil
}

// fromTencent converts a pulled receipt. A receipt without a receive time gets fallback.
func fromTencent(r tencentsms.Receipt, fallback time.Time) store.Receipt {
	at := r.UserReceiveTime
	if at.IsZero() {
		at = fallback
	}
	phone := r.PhoneNumber
	if phone == "" && r.CountryCode != "" && r.SubscriberNumber != "" {
		phone = "+" + r.CountryCode + r.SubscriberNumber
	}
	if phone != "" && !strings.HasPrefix(phone, "+") {
		phone = "+" + phone
	}
	return store.Receipt{
		SerialNo:       r.SerialNo,
		PhoneNumber:    phone,
		Status:         r.ReportStatus,
		Description:    r.Description,
		SessionContext: r.SessionContext,
		ReceivedAt:     at,
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
