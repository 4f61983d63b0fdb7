package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// SendHandler is the asynq handler of tasks.TypeSendBatch: claim the batch, check the app's halt,
// wait on the rate limiter, call SendSms once, classify every outcome with the retry policy and
// commit the per-number results. It is safe for concurrent use; two runs of one task never send
// a number twice (the store's claim decides).
type SendHandler struct {
	store         SendStore
	sender        Sender
	supp          Suppressor // nil: no suppression list
	limiter       Limiter
	enq           *enqueuer
	log           *zap.Logger
	m             *Metrics
	policy        retry.Policy
	window        time.Duration
	commitTimeout time.Duration
	signName      string
	now           func() time.Time
	halts         haltCache
}

// NewSendHandler checks cfg, applies its defaults and returns the handler.
func NewSendHandler(cfg SendConfig) (*SendHandler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := orNew(cfg.Metrics)
	now := nowOrDefault(cfg.Now)
	return &SendHandler{
		store:         cfg.Store,
		sender:        cfg.Sender,
		supp:          cfg.Suppressor,
		limiter:       cfg.Limiter,
		enq:           &enqueuer{q: cfg.Enqueuer, m: m, now: now},
		log:           nopIfNil(cfg.Logger).Named("send"),
		m:             m,
		policy:        cfg.Policy,
		window:        cfg.ReconcileWindow,
		commitTimeout: cfg.CommitTimeout,
		signName:      cfg.SignName,
		now:           now,
		halts:         haltCache{ttl: cfg.HaltCacheTTL},
	}, nil
}

// ProcessTask runs one tasks.TypeSendBatch task. It returns nil when the batch needs nothing
// more from this task (sent and committed, parked, settled by someone else), a *RetryAfterError
// when the task should run again later without counting a failure, and any other error for a
// failure asynq should retry. A payload that does not parse is archived (asynq.SkipRetry).
func (h *SendHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseSendBatch(t)
	if err != nil {
		return fmt.Errorf("dispatcher: %w: %w", err, asynq.SkipRetry)
	}
	_, err = h.send(ctx, p.Job, p.Batch, sendOptions{})
	return err
}

// sendOptions are how a caller of the send path wants it run. The zero value is a send task's.
type sendOptions struct {
	// probe marks the ProbeHandler's batch: it skips the halt checks, being the one batch
	// allowed through its app's halt.
	probe bool
}

// sendResult says what one pass of the send path did, for the probe.
type sendResult struct {
	claimed  bool   // this pass claimed the batch
	answered bool   // Tencent answered SendSms (with per-number results or an API error)
	haltCode string // a halting or deferring code was seen: the app is halted again
}

// attempt is one pass of the send path over a batch it claimed: the claim and what the steps
// after it (parking, the call, classifying and committing its outcome) share.
type attempt struct {
	h     *SendHandler
	log   *zap.Logger // with the job and batch
	jobID string
	batch int
	token string            // the claim's token
	cr    store.ClaimResult // the claim; Attempt is the launched attempt once launched
	probe bool              // sendOptions.probe
	// suppressed are the claim's numbers found on the suppression list, taken out of cr and
	// committed with the attempt's results as store.Suppressed.
	suppressed []store.NumberResult

	// Inputs of retry.Policy.Decide, set once SendSms returned (see decide).
	n    int // attempt number (attemptOf)
	rjob retry.Job
	now  time.Time
}

// send is the send path shared by SendHandler and ProbeHandler.
func (h *SendHandler) send(ctx context.Context, jobID string, batch int, opts sendOptions) (sendResult, error) {
	var res sendResult
	log := h.log.With(zap.String("job", jobID), zap.Int("batch", batch))
	token := newToken()
	cr, err := h.store.Claim(ctx, jobID, batch, token)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("batch not found, nothing to send", zap.Error(err))
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("dispatcher: claim %s/%d: %w", jobID, batch, err)
	}
	now := h.now()
	switch cr.Outcome {
	case store.Claimed:
	case store.Done, store.Cancelled, store.Expired, store.JobFailed:
		log.Debug("batch needs no send", zap.Stringer("claim", cr.Outcome))
		return res, nil
	case store.Busy:
		return res, retryAfter(cr.RetryAt.Sub(now), "batch claimed by another run", nil)
	case store.NotYet:
		return res, retryAfter(cr.RetryAt.Sub(now), "batch not due yet", nil)
	case store.Unresolved:
		// An earlier attempt died holding the claim (or committed unknowns whose reconcile task
		// may be lost): reconcile decides, never a blind resend. The reconcile handler waits out
		// the window itself.
		log.Info("batch has numbers with an unknown outcome, reconciling", zap.Int("attempt", cr.Attempt))
		return res, h.enq.reconcile(ctx, kindReconcile, jobID, batch, cr.Attempt, cr.Job.Priority, 0)
	default:
		return res, fmt.Errorf("dispatcher: claim %s/%d: unexpected outcome %v", jobID, batch, cr.Outcome)
	}
	res.claimed = true
	a := &attempt{h: h, log: log, jobID: jobID, batch: batch, token: token, cr: cr, probe: opts.probe}
	job := a.cr.Job

	if closed, err := a.waitForWindow(ctx); closed || err != nil {
		return res, err
	}
	// Numbers on the suppression list never leave: take them out of the call. A batch of only
	// such numbers is committed here, without a launch, a rate-limit token or a call.
	if left, err := a.dropSuppressed(ctx); !left || err != nil {
		return sendResult{}, err
	}

	if parked, err := a.parkIfHalted(ctx); parked || err != nil {
		return res, err
	}

	waitStart := time.Now()
	err = h.limiter.Wait(ctx)
	h.m.RateLimitWait.WithLabelValues("SendSms").Observe(time.Since(waitStart).Seconds())
	if err != nil {
		if rerr := a.release(ctx); rerr != nil {
			return res, errors.Join(err, rerr)
		}
		if ctx.Err() != nil {
			return res, retryAfter(time.Second, "rate-limit wait ended", err)
		}
		return res, fmt.Errorf("dispatcher: rate limiter: %w", err)
	}

	// The app may have halted while this batch waited (another batch met the code): through the
	// cache, so this costs no round trip at the limit.
	if parked, err := a.parkIfHalted(ctx); parked || err != nil {
		return res, err
	}
	// The window may have closed while this batch waited: a reservation made just before it
	// closed is not launched after.
	if closed, err := a.waitForWindow(ctx); closed || err != nil {
		return res, err
	}

	// The request may leave from here on: launch the claim (the attempt counts from now, and its
	// lease and evidence window start now), checking the job again after the wait.
	lr, err := h.store.Launch(ctx, jobID, batch, token)
	if err != nil {
		return res, errors.Join(fmt.Errorf("dispatcher: launch %s/%d: %w", jobID, batch, err), a.release(ctx))
	}
	switch lr.Outcome {
	case store.Claimed:
		a.cr.Attempt = lr.Attempt
	case store.Busy:
		// Another run holds the batch now and sends it (for a probe: try the next batch).
		log.Info("reservation taken over while waiting on the rate limiter, nothing sent")
		return sendResult{}, nil
	default: // Cancelled, Expired, JobFailed: the reserved numbers were settled so
		log.Info("job ended while waiting on the rate limiter, nothing sent", zap.Stringer("launch", lr.Outcome))
		return sendResult{}, nil
	}

	req := tencentsms.SendRequest{
		AppID:          job.AppID,
		SignName:       job.SignName,
		TemplateID:     job.TemplateID,
		TemplateParams: a.cr.Params,
		PhoneNumbers:   a.cr.Numbers,
		SessionContext: store.SessionContext(jobID, batch, a.cr.Attempt),
		ExtendCode:     job.ExtendCode,
		SenderID:       job.SenderID,
	}
	if req.SignName == "" && !a.cr.Intl {
		req.SignName = h.signName
	}
	start := time.Now()
	reply, sendErr := h.sender.SendSms(ctx, req)
	h.m.SendLatency.Observe(time.Since(start).Seconds())

	// From here on something may have been sent: write what we know even if ctx has ended.
	pctx, cancel := detached(ctx, h.commitTimeout)
	defer cancel()
	a.n = attemptOf(ctx, a.cr.Attempt)
	a.rjob = retry.Job{Priority: job.Priority, ExpiresAt: job.ExpiresAt, DeferDailyLimit: job.DeferDailyLimit}
	a.now = h.now()
	if sendErr != nil {
		return a.callFailed(pctx, sendErr)
	}
	h.m.SendCalls.WithLabelValues("ok").Inc()
	res.answered = true
	code, err := a.perNumber(pctx, reply)
	res.haltCode = code
	return res, err
}

// dropSuppressed looks the claim's numbers up on the suppression list (one round trip) and
// takes those on it out of a.cr, to be committed as store.Suppressed with the attempt's results.
// left is false when no number is left to send: the batch is then committed already (or the
// lookup failed, err, and the claim was given back: nothing is sent without the lookup).
func (a *attempt) dropSuppressed(ctx context.Context) (left bool, err error) {
	h, cr := a.h, a.cr
	if h.supp == nil || len(cr.Numbers) == 0 {
		return true, nil
	}
	on, err := h.supp.Suppressed(ctx, cr.Numbers)
	if err == nil && len(on) != len(cr.Numbers) {
		err = fmt.Errorf("%d answers for %d numbers", len(on), len(cr.Numbers))
	}
	if err != nil {
		return false, errors.Join(fmt.Errorf("dispatcher: suppression list of %s/%d: %w", a.jobID, a.batch, err), a.release(ctx))
	}
	numbers, indexes := cr.Numbers[:0:0], cr.Indexes[:0:0]
	for i, n := range cr.Numbers {
		if on[i] {
			a.suppressed = append(a.suppressed, store.NumberResult{Index: cr.Indexes[i], State: store.Suppressed})
			continue
		}
		numbers, indexes = append(numbers, n), append(indexes, cr.Indexes[i])
	}
	if len(a.suppressed) == 0 {
		return true, nil
	}
	a.cr.Numbers, a.cr.Indexes = numbers, indexes
	a.log.Info("numbers on the suppression list left out of the call", zap.Int("suppressed", len(a.suppressed)),
		zap.Int("left", len(numbers)))
	if len(numbers) > 0 {
		return true, nil
	}
	pctx, cancel := detached(ctx, h.commitTimeout)
	defer cancel()
	return false, a.commit(pctx, nil)
}

// attemptOf is the attempt number given to retry.Decide: the batch's claim attempt, which grows
// with every claim (asynq's retry count does not grow for RetryAfterError waits), or asynq's
// count when that is higher.
func attemptOf(ctx context.Context, claimAttempt int) int {
	n, _ := asynq.GetRetryCount(ctx)
	return max(claimAttempt, n+1, 1)
}

// decide classifies an outcome of this attempt's SendSms call with the handler's policy.
func (a *attempt) decide(o retry.Outcome) retry.Decision {
	return a.h.policy.Decide(a.now, a.n, o, a.rjob)
}

// outcomeOf maps a SendSms error to a retry outcome.
func outcomeOf(err error) retry.Outcome {
	var apiErr *tencentsms.Error
	var te *tencentsms.TransportError
	switch {
	case errors.As(err, &apiErr):
		return retry.Outcome{Code: apiErr.Code}
	case errors.Is(err, tencentsms.ErrInvalidArgument):
		// Refused locally before any I/O: our request was malformed.
		return retry.Outcome{Code: "ClientError.InvalidParameter"}
	case errors.As(err, &te) && errors.Is(err, tencentsms.ErrNotSent):
		return retry.Outcome{Transport: retry.TransportNotSent}
	default:
		// Written, or an error we do not know: the safe reading is "maybe sent".
		return retry.Outcome{Transport: retry.TransportUnknown}
	}
}

// callFailed carries out the decision for a SendSms call that failed as a whole. It is the
// attempt's last step: the attempt's log gains the decision's fields for what it writes.
func (a *attempt) callFailed(ctx context.Context, sendErr error) (sendResult, error) {
	h, cr := a.h, a.cr
	res := sendResult{claimed: true}
	var apiErr *tencentsms.Error
	res.answered = errors.As(sendErr, &apiErr)
	d := a.decide(outcomeOf(sendErr))
	h.m.SendCalls.WithLabelValues(d.Class.String()).Inc()
	a.log = a.log.With(zap.String("code", d.Code), zap.Stringer("action", d.Action), zap.Int("attempt", a.n),
		zap.Int("numbers", len(cr.Numbers)))
	if apiErr != nil {
		a.log = a.log.With(zap.String("request_id", apiErr.RequestID))
	}

	all := func(state store.NumberState, code string) []store.NumberResult {
		out := make([]store.NumberResult, len(cr.Indexes))
		for i, idx := range cr.Indexes {
			out[i] = store.NumberResult{Index: idx, State: state, Code: code}
		}
		return out
	}
	switch d.Action {
	case retry.RetryCall:
		// Nothing was accepted: give the numbers back and run the task again after the backoff.
		// The call was made, so the attempt counts against the retry budget.
		if err := a.requeue(ctx); err != nil {
			return res, err
		}
		a.log.Info("send not accepted, retrying the call", zap.Duration("delay", d.Delay), zap.String("reason", d.Reason))
		return res, retryAfter(d.Delay, "send not accepted ("+d.Code+")", sendErr)
	case retry.FailNumber, retry.FailJob:
		code := failCode(d)
		a.log.Warn("send refused, numbers failed", zap.String("reason", d.Reason))
		if err := a.commit(ctx, all(store.Failed, code)); err != nil {
			return res, err
		}
		if d.Action == retry.FailJob {
			a.failJob(ctx, code)
		}
		return res, nil
	case retry.HaltApp, retry.DeferUntil:
		res.haltCode = d.Code
		return res, a.haltAndPark(ctx, d)
	default: // retry.Reconcile, and anything unexpected: the numbers may have been sent
		a.log.Warn("send outcome unknown, numbers wait for evidence", zap.Error(sendErr))
		return res, a.commit(ctx, all(store.Unknown, d.Code))
	}
}

// failCode is the code recorded for failed numbers: Expired when an otp job expired first.
func failCode(d retry.Decision) string {
	if d.Expired {
		return store.ExpiredCode
	}
	return d.Code
}

// perNumber classifies each number of a call Tencent answered and commits the results. It returns
// the halting code seen, if any.
func (a *attempt) perNumber(ctx context.Context, reply *tencentsms.SendResult) (string, error) {
	h, cr, log := a.h, a.cr, a.log
	statuses := reply.Match(cr.Numbers)
	results := make([]store.NumberResult, len(cr.Numbers))
	var failJobCode, haltCode string
	var halt retry.Decision
	var blacklisted []string // numbers Tencent refused as blocklisted: they join the suppression list
	// An accepted number's decision (Done) depends only on its code here, and involves no
	// randomness: it is reused for every number of the batch with the same code.
	var okCode string
	var okDecision retry.Decision
	haveOK := false
	for i, st := range statuses {
		r := store.NumberResult{Index: cr.Indexes[i]}
		if st == nil {
			// No entry for this number: its outcome is unknown.
			r.State, r.Code = store.Unknown, retry.CodeTransportUnknown
			results[i] = r
			continue
		}
		if st.Code == retry.CodePhoneNumberInBlacklist {
			blacklisted = append(blacklisted, cr.Numbers[i])
		}
		var d retry.Decision
		if haveOK && st.Code == okCode {
			d = okDecision
		} else {
			d = a.decide(retry.Outcome{Code: st.Code, PerNumber: true})
			if d.Action == retry.Done {
				okCode, okDecision, haveOK = st.Code, d, true
			}
		}
		r.Code = d.Code
		switch d.Action {
		case retry.Done:
			r.State, r.SerialNo, r.Fee = store.Sent, st.SerialNo, int64(st.Fee)
		case retry.RetryNumberAt, retry.RetryCall:
			r.State, r.RetryAt = store.Retry, d.At
		case retry.FailNumber:
			r.State, r.Code = store.Failed, failCode(d)
		case retry.FailJob:
			r.State = store.Failed
			if failJobCode == "" {
				failJobCode = d.Code
			}
		case retry.HaltApp, retry.DeferUntil:
			// E.g. the balance ran out mid-batch: the number goes out again after the halt.
			r.State, r.RetryAt = store.Retry, d.At
			if haltCode == "" || d.At.After(halt.At) {
				haltCode, halt = d.Code, d
			}
		default: // retry.Reconcile
			r.State = store.Unknown
		}
		results[i] = r
	}
	halted := false
	if haltCode != "" {
		// Halt first, so that other batches of the app stop as soon as possible. A failure is
		// logged and the results are still committed: the halted numbers' retry batch meets the
		// code again at its time and halts the app then.
		if err := h.store.Halt(ctx, cr.Job.AppID, haltCode, halt.At); err != nil {
			log.Error("app not halted after a per-number halting code", zap.String("app", cr.Job.AppID),
				zap.String("code", haltCode), zap.Error(err))
		} else {
			halted = true
			h.halts.put(cr.Job.AppID, &store.Halt{App: cr.Job.AppID, Code: haltCode, ProbeAt: halt.At})
			h.m.Halts.WithLabelValues(haltCode).Inc()
			log.Error("app halted by a per-number code", zap.String("app", cr.Job.AppID), zap.String("code", haltCode),
				zap.Time("probe_at", halt.At), zap.String("reason", halt.Reason))
		}
	}
	if err := a.commit(ctx, results); err != nil {
		return haltCode, err
	}
	a.suppressBlacklisted(ctx, blacklisted)
	if failJobCode != "" {
		a.failJob(ctx, failJobCode)
	}
	if halted {
		if err := h.enq.probe(ctx, kindProbe, cr.Job.AppID, halt.At); err != nil {
			log.Error("probe task not enqueued; the sweeper will enqueue it", zap.Error(err))
		}
	}
	return haltCode, nil
}

// suppressBlacklisted adds numbers Tencent answered with PhoneNumberInBlacklist to the
// suppression list (reason: the code), so later jobs leave them out; this job counts them failed.
// An error is logged: the next job meets the code again and adds them then.
func (a *attempt) suppressBlacklisted(ctx context.Context, numbers []string) {
	if a.h.supp == nil || len(numbers) == 0 {
		return
	}
	if err := a.h.supp.Suppress(ctx, numbers, retry.CodePhoneNumberInBlacklist); err != nil {
		a.log.Error("blocklisted numbers not added to the suppression list", zap.Int("numbers", len(numbers)), zap.Error(err))
		return
	}
	a.log.Info("blocklisted numbers added to the suppression list", zap.Int("numbers", len(numbers)))
}

// commit indexes serials, commits the results and enqueues the follow-up tasks. A commit refused
// because the claim was lost is logged, not retried: whoever holds the batch now decides.
//
// The numbers dropSuppressed took out of the call are committed with results, as suppressed.
func (a *attempt) commit(ctx context.Context, results []store.NumberResult) error {
	h, cr, log := a.h, a.cr, a.log
	results = append(results[:len(results):len(results)], a.suppressed...)
	if err := a.indexSerials(ctx, results); err != nil {
		// Without the index their receipts could not be matched: commit the sent numbers as
		// unknown instead, and reconcile settles them from their receipts. (This needs Redis
		// back for the commit after CommitTimeout of failed indexing: rare, and the commit then
		// likely fails too, leaving the claim to expire into unknown all the same.)
		log.Warn("serial numbers not indexed, sent numbers committed as unknown", zap.Error(err))
		results = sentAsUnknown(results)
	}
	var cres store.CommitResult
	err := h.persist(ctx, func(ctx context.Context) (err error) {
		cres, err = h.store.Commit(ctx, a.jobID, a.batch, a.token, results)
		return err
	})
	if err != nil {
		return fmt.Errorf("dispatcher: commit %s/%d: %w", a.jobID, a.batch, err)
	}
	if !cres.Applied {
		h.m.LostClaims.Inc()
		log.Warn("commit refused: this attempt no longer holds the batch", zap.Int("attempt", cr.Attempt))
		return nil
	}
	countStates(h.m, results)
	for _, rb := range cres.RetryBatches {
		if err := h.enq.send(ctx, kindRetry, a.jobID, rb.Batch, cr.Job.Priority, rb.At); err != nil {
			log.Error("retry batch not enqueued; the sweeper will enqueue it", zap.Int("retry_batch", rb.Batch), zap.Error(err))
		}
	}
	if cres.HasUnknown {
		delay := h.window
		if cr.Job.Priority == tasks.PriorityOTP {
			delay = 0
		}
		if err := h.enq.reconcile(ctx, kindReconcile, a.jobID, a.batch, cr.Attempt, cr.Job.Priority, delay); err != nil {
			log.Error("reconcile task not enqueued; the sweeper will enqueue it", zap.Error(err))
		}
	}
	return nil
}

// indexSerials indexes the serials of sent numbers, retrying a failure as long as the commit
// would (persist).
func (a *attempt) indexSerials(ctx context.Context, results []store.NumberResult) error {
	h := a.h
	if err := h.persist(ctx, func(ctx context.Context) error { return h.store.IndexSerials(ctx, a.jobID, a.batch, results) }); err != nil {
		return fmt.Errorf("dispatcher: index serials of %s/%d: %w", a.jobID, a.batch, err)
	}
	return nil
}

// sentAsUnknown returns results with every Sent number made Unknown: reconcile then finds its
// receipt by number and SessionContext.
func sentAsUnknown(results []store.NumberResult) []store.NumberResult {
	out := make([]store.NumberResult, len(results))
	for i, r := range results {
		if r.State == store.Sent {
			r = store.NumberResult{Index: r.Index, State: store.Unknown, Code: r.Code}
		}
		out[i] = r
	}
	return out
}

// failJob fails the job's remaining numbers with a job-fatal code. An error is logged: every
// other batch of the job meets the same code and tries again.
func (a *attempt) failJob(ctx context.Context, code string) {
	if err := a.h.store.FailJob(ctx, a.jobID, code); err != nil {
		a.log.Error("job not marked failed; its other batches will try", zap.String("job_code", code), zap.Error(err))
		return
	}
	a.log.Warn("job failed", zap.String("job_code", code))
}

// haltAndPark halts the app after a halting call-level code, gives the batch back and parks it,
// and asks for a probe at the decision's time.
func (a *attempt) haltAndPark(ctx context.Context, d retry.Decision) error {
	h, app := a.h, a.cr.Job.AppID
	if err := h.store.Halt(ctx, app, d.Code, d.At); err != nil {
		return errors.Join(fmt.Errorf("dispatcher: halt %s: %w", app, err), a.release(ctx))
	}
	h.halts.put(app, &store.Halt{App: app, Code: d.Code, ProbeAt: d.At})
	h.m.Halts.WithLabelValues(d.Code).Inc()
	a.log.Error("app halted", zap.String("app", app), zap.Time("probe_at", d.At), zap.String("reason", d.Reason))
	return a.parkHalted(ctx, &store.Halt{App: app, Code: d.Code, ProbeAt: d.At})
}

// waitForWindow gives the reservation back when the job's send window is closed now (closed =
// true) and asks for the task to run again when it next opens. Nothing was launched, so the
// attempt is not counted, and the wait is a RetryAfterError, which spends no retry. otp jobs
// have no window (store.Job.SendWindow); retry and resend batches share their job's window.
func (a *attempt) waitForWindow(ctx context.Context) (bool, error) {
	w := a.cr.Job.SendWindow()
	now := a.h.now()
	if w.Open(now) {
		return false, nil
	}
	if err := a.release(ctx); err != nil {
		return true, err
	}
	next := w.NextOpen(now)
	a.log.Info("send window closed, batch waits for it to open", zap.Stringer("window", w), zap.Time("next_open", next))
	return true, retryAfter(next.Sub(now), "send window closed", nil)
}

// parkIfHalted parks the reserved batch when its app is halted (parked = true), giving the
// reservation back on a lookup error. A probe's batch is never parked: it is the one allowed
// through the halt.
func (a *attempt) parkIfHalted(ctx context.Context) (bool, error) {
	if a.probe {
		return false, nil
	}
	halt, err := a.h.haltOf(ctx, a.cr.Job.AppID)
	if err != nil {
		return false, errors.Join(err, a.release(ctx))
	}
	if halt == nil {
		return false, nil
	}
	return true, a.parkHalted(ctx, halt)
}

// parkHalted gives a claimed batch back and parks it under the app's halt; Resume or a probe runs
// it again. The probe is (re)requested, since an earlier probe may have found nothing parked.
func (a *attempt) parkHalted(ctx context.Context, halt *store.Halt) error {
	h := a.h
	if err := a.release(ctx); err != nil {
		return err
	}
	err := h.store.Park(ctx, halt.App, a.jobID, a.batch)
	if errors.Is(err, store.ErrNotHalted) {
		h.halts.forget(halt.App)
		return retryAfter(0, "app resumed while parking", nil)
	}
	if err != nil {
		return fmt.Errorf("dispatcher: park %s/%d: %w", a.jobID, a.batch, err)
	}
	a.log.Info("batch parked while its app is halted", zap.String("app", halt.App), zap.String("code", halt.Code))
	if err := h.enq.probe(ctx, kindProbe, halt.App, halt.ProbeAt); err != nil {
		a.log.Error("probe task not enqueued; the sweeper will enqueue it", zap.Error(err))
	}
	return nil
}

// release gives the claim back (nothing was sent, the attempt does not count). It runs even after
// ctx ended, and keeps trying through a short Redis outage (see persist): a release that does not
// land leaves the batch reserved until its lease runs out.
func (a *attempt) release(ctx context.Context) error {
	h := a.h
	if err := h.persist(ctx, func(ctx context.Context) error { return h.store.Release(ctx, a.jobID, a.batch, a.token) }); err != nil {
		return fmt.Errorf("dispatcher: release %s/%d: %w", a.jobID, a.batch, err)
	}
	return nil
}

// requeue gives the launched claim back after Tencent refused the call as a whole; the attempt
// counts. It runs even after ctx ended, through a short Redis outage (see persist).
func (a *attempt) requeue(ctx context.Context) error {
	h := a.h
	if err := h.persist(ctx, func(ctx context.Context) error { return h.store.Requeue(ctx, a.jobID, a.batch, a.token) }); err != nil {
		return fmt.Errorf("dispatcher: requeue %s/%d: %w", a.jobID, a.batch, err)
	}
	return nil
}

// Backoff of persist between tries.
const (
	persistBaseDelay = 100 * time.Millisecond
	persistMaxDelay  = time.Second
)

// persist runs write, an idempotent store write that must land (a release, a requeue, a commit),
// until it succeeds, fails for a reason retrying cannot change (not found, invalid input), or
// CommitTimeout has passed since the first try, with backoff between tries. It ignores the end of
// ctx: what these writes record is already true (nothing was sent, or Tencent answered), and
// dropping them would leave the batch reserved or its numbers unknown.
func (h *SendHandler) persist(ctx context.Context, write func(ctx context.Context) error) error {
	pctx, cancel := detached(ctx, h.commitTimeout)
	defer cancel()
	wait := persistBaseDelay
	for {
		err := write(pctx)
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return err
		}
		select {
		case <-pctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, persistMaxDelay)
	}
}
