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

// ReconcileHandler is the asynq handler of tasks.TypeReconcile. It settles the numbers of a batch
// whose send outcome is unknown: with evidence (a receipt kept as unmatched for the number, or
// PullSmsSendStatusByPhoneNumber over the send window) they count as sent; without evidence after
// ReconcileWindow they are resent in a new batch. otp jobs (not expired) are resent at once: a
// second code is harmless, a missing one is not.
//
// A receipt is evidence for a number only when it can be this batch's: its SerialNo is not indexed
// to another number (another send's receipt), its SessionContext, if any, names this job and batch,
// and it was received no earlier than the attempt's claim time minus EvidenceSlack. Its serial is
// then indexed to the number only if nobody indexed it meanwhile (store.IndexEvidenceSerials).
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
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
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
	settled, taken, err := h.apply(ctx, log, job, batch, found)
	if err != nil {
		return errors.Join(lookupErr, err)
	}
	if lookupErr != nil {
		return lookupErr
	}
	remaining := len(unknowns) - settled
	if remaining == 0 {
		log.Info("unknown numbers settled by evidence", zap.Int("numbers", settled))
		return nil
	}
	if !windowOver {
		return retryAfter(windowEnd.Sub(now), "reconcile window open", nil)
	}
	if taken > 0 {
		// Evidence lost its serial to another send between the lookup and the indexing: look
		// again (that receipt is now filtered out) before deciding to resend.
		return retryAfter(time.Second, "evidence serial indexed elsewhere meanwhile", nil)
	}
	log.Info("no evidence for unknown numbers after the window, resending", zap.Int("settled", settled),
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

// findEvidence looks for a receipt of each unknown number: first among the receipts kept as
// unmatched, then (byPhone) by PullSmsSendStatusByPhoneNumber for the numbers still without one.
// It returns what it found, and an error that stopped the lookup early (what was found is still
// good).
func (h *ReconcileHandler) findEvidence(ctx context.Context, job store.Job, batch int, unknowns []store.UnknownNumber,
	now time.Time, byPhone bool) ([]evidence, error) {
	op := fmt.Sprintf("dispatcher: reconcile %s/%d", job.ID, batch)
	var found []evidence
	used := map[string]bool{} // serials already taken as evidence
	recs := make([][]store.Receipt, len(unknowns))
	all := make([]int, len(unknowns))
	for i, u := range unknowns {
		all[i] = i
		r, err := h.store.UnmatchedReceipts(ctx, u.Number, h.since(job, u))
		if err != nil {
			return found, fmt.Errorf("%s: %w", op, err)
		}
		recs[i] = r
	}
	missing, err := h.choose(ctx, job, batch, unknowns, all, recs, "receipt", used, &found)
	if err != nil {
		return found, fmt.Errorf("%s: %w", op, err)
	}
	if !byPhone || len(missing) == 0 {
		return found, nil
	}

	recs = make([][]store.Receipt, len(unknowns))
	var looked []int
	var lookupErr error
	for _, i := range missing {
		u := unknowns[i]
		if err := h.limiter.Wait(ctx); err != nil {
			lookupErr = retryAfter(time.Second, "rate-limit wait ended", err)
			break
		}
		pulled, err := h.puller.PullSendStatusByPhoneNumber(ctx, tencentsms.PullByPhoneRequest{
			AppID: job.AppID, PhoneNumber: u.Number, Begin: h.since(job, u), End: now, Limit: tencentsms.MaxPullLimit,
		})
		if err != nil {
			var apiErr *tencentsms.Error
			if errors.As(err, &apiErr) && retry.Classify(apiErr.Code) == retry.ClassTransient {
				lookupErr = retryAfter(time.Second, "number lookup throttled", err)
			} else {
				lookupErr = fmt.Errorf("%s: lookup %s: %w", op, tencentsms.MaskPhone(u.Number), err)
			}
			break
		}
		looked = append(looked, i)
		for _, r := range pulled {
			recs[i] = append(recs[i], fromTencent(r, time.Time{}))
		}
	}
	if _, err := h.choose(ctx, job, batch, unknowns, looked, recs, "phone", used, &found); err != nil {
		return found, errors.Join(lookupErr, fmt.Errorf("%s: %w", op, err))
	}
	return found, lookupErr
}

// since is the start of the evidence window of an unknown number: its attempt's claim time minus
// the clock-skew margin.
func (h *ReconcileHandler) since(job store.Job, u store.UnknownNumber) time.Time {
	at := u.SentAt
	if at.IsZero() {
		at = job.CreatedAt
	}
	return at.Add(-h.slack)
}

// choose picks evidence for unknowns[i], i in idxs, among recs[i] (appending it to found), after one
// lookup of where the candidates' serials are indexed. It returns the idxs left without evidence.
func (h *ReconcileHandler) choose(ctx context.Context, job store.Job, batch int, unknowns []store.UnknownNumber, idxs []int,
	recs [][]store.Receipt, source string, used map[string]bool, found *[]evidence) ([]int, error) {
	var serials []string
	for _, i := range idxs {
		for _, r := range recs[i] {
			if r.SerialNo != "" {
				serials = append(serials, r.SerialNo)
			}
		}
	}
	var refs map[string]store.SerialRef
	if len(serials) > 0 {
		var err error
		if refs, err = h.store.SerialRefs(ctx, serials); err != nil {
			return idxs, err
		}
	}
	var missing []int
	for _, i := range idxs {
		u := unknowns[i]
		w := want{job: job.ID, batch: batch, index: u.Index, attempt: u.Attempt, since: h.since(job, u), refs: refs}
		if r, ok := pick(recs[i], w, used); ok {
			*found = append(*found, evidence{u: u, receipt: r, source: source})
		} else {
			missing = append(missing, i)
		}
	}
	return missing, nil
}

// want is what makes a receipt evidence for one unknown number.
type want struct {
	job     string
	batch   int
	index   int                        // the number's position in the batch
	attempt int                        // the batch's attempt whose outcome is unknown
	since   time.Time                  // the attempt's claim time minus the clock-skew margin
	refs    map[string]store.SerialRef // where the candidates' serials are indexed (absent: nowhere)
}

// accepts reports whether r can be a receipt of the number's send:
//   - its SerialNo is not indexed to another number (then it is that send's receipt; a serial
//     indexed to this very number is ours);
//   - its SessionContext, when it carries one, names this job and batch (any attempt up to the
//     unknown one: an earlier attempt was given back as not sent, but a receipt proves otherwise);
//   - it was received at or after since (receive times follow the send). A receipt without a time
//     came from a query over the window, which bounds it already.
func (w want) accepts(r store.Receipt) bool {
	if r.SerialNo != "" {
		if ref, ok := w.refs[r.SerialNo]; ok && ref != (store.SerialRef{BatchRef: store.BatchRef{Job: w.job, Batch: w.batch}, Index: w.index}) {
			return false
		}
	}
	if r.SessionContext != "" {
		job, batch, attempt, ok := store.ParseSessionContext(r.SessionContext)
		if !ok || job != w.job || batch != w.batch || attempt < 1 || attempt > w.attempt {
			return false
		}
	}
	return r.ReceivedAt.IsZero() || !r.ReceivedAt.Before(w.since)
}

// pick returns the first receipt of recs that w accepts (recs from UnmatchedReceipts come oldest
// first). Serials in used are skipped; the picked serial is added to used.
func pick(recs []store.Receipt, w want, used map[string]bool) (store.Receipt, bool) {
	for _, r := range recs {
		if r.SerialNo != "" && used[r.SerialNo] {
			continue
		}
		if !w.accepts(r) {
			continue
		}
		if r.SerialNo != "" {
			used[r.SerialNo] = true
		}
		return r, true
	}
	return store.Receipt{}, false
}

// apply settles the numbers with evidence. It returns how many were settled, and how many lost
// their evidence because the receipt's serial was indexed to another send meanwhile.
//
// Evidence serials are indexed first, only where nobody indexed them (store.IndexEvidenceSerials);
// evidence whose serial is taken is dropped. Receipts with a SerialNo and a status are then applied
// as a receipt page, so they count as delivered or undelivered too; then every number with evidence
// that is still unknown (no status, or a receipt the page could not match) is settled as sent.
// Each step is idempotent.
func (h *ReconcileHandler) apply(ctx context.Context, log *zap.Logger, job store.Job, batch int, found []evidence) (settled, taken int, err error) {
	if len(found) == 0 {
		return 0, 0, nil
	}
	op := fmt.Sprintf("dispatcher: reconcile %s/%d", job.ID, batch)
	var index []store.NumberResult
	for _, e := range found {
		if e.receipt.SerialNo != "" {
			index = append(index, store.NumberResult{Index: e.u.Index, State: store.Sent, SerialNo: e.receipt.SerialNo})
		}
	}
	if len(index) > 0 {
		conflicts, err := h.store.IndexEvidenceSerials(ctx, job.ID, batch, index)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", op, err)
		}
		if len(conflicts) > 0 {
			kept := make([]evidence, 0, len(found))
			for _, e := range found {
				ref, ok := conflicts[e.receipt.SerialNo]
				if e.receipt.SerialNo == "" || !ok {
					kept = append(kept, e)
					continue
				}
				taken++
				log.Warn("evidence dropped: its serial number is indexed to another send",
					zap.String("number", tencentsms.MaskPhone(e.u.Number)), zap.String("serial_no", e.receipt.SerialNo),
					zap.String("indexed_job", ref.Job), zap.Int("indexed_batch", ref.Batch))
			}
			found = kept
		}
	}
	var settle []store.NumberResult
	var page []store.Receipt
	for _, e := range found {
		// No SerialNo here: it is indexed above (SettleUnknown would only try again, set if
		// absent, for nothing).
		settle = append(settle, store.NumberResult{Index: e.u.Index, State: store.Sent})
		if e.receipt.SerialNo != "" && e.receipt.Status != "" {
			page = append(page, e.receipt)
		}
		log.Debug("evidence found for an unknown number", zap.String("number", tencentsms.MaskPhone(e.u.Number)),
			zap.String("source", e.source), zap.String("serial_no", e.receipt.SerialNo))
	}
	if len(settle) == 0 {
		return 0, taken, nil
	}
	if len(page) > 0 {
		id, err := h.store.SaveReceiptPage(ctx, job.AppID, page)
		if err != nil {
			return 0, taken, fmt.Errorf("%s: %w", op, err)
		}
		if _, err := h.store.ApplyReceiptPage(ctx, job.AppID, store.SavedPage{ID: id, Receipts: page}); err != nil {
			return 0, taken, fmt.Errorf("%s: %w", op, err)
		}
	}
	if err := h.store.SettleUnknown(ctx, job.ID, batch, settle); err != nil {
		return 0, taken, fmt.Errorf("%s: %w", op, err)
	}
	h.m.Numbers.WithLabelValues("settled").Add(float64(len(settle)))
	return len(settle), taken, nil
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
