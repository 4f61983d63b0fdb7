package store

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
)

// ClaimOutcome is what Claim found.
type ClaimOutcome int

// Claim outcomes. The scripts return them as codes passed from Go (outcomeCodeArgs), so their
// order here is free.
const (
	Claimed    ClaimOutcome = iota // you hold the batch: send Numbers, then Commit (or Release)
	Done                           // already committed or settled: nothing to do
	Busy                           // another live attempt holds the claim: try again later (RetryAt)
	Cancelled                      // job cancelled: the batch's pending numbers are now counted cancelled
	Expired                        // job expired (otp): pending numbers failed with code "Expired"
	NotYet                         // send-at / not-before is in the future: run again at RetryAt
	Unresolved                     // an earlier attempt's numbers are unknown (its claim expired without commit, or its commit said unknown): schedule reconcile
	JobFailed                      // job failed (job-fatal code): pending numbers failed with that code
)

var outcomeNames = [...]string{"Claimed", "Done", "Busy", "Cancelled", "Expired", "NotYet", "Unresolved", "JobFailed"}

// outcomeCodeArgs are ARGV[5..12] of claimScript and launchScript: the code each outcome is
// answered with, in the order the scripts' outcomeCodes chunk reads them.
var outcomeCodeArgs = []any{int(Claimed), int(Done), int(Busy), int(Cancelled), int(Expired), int(NotYet),
	int(Unresolved), int(JobFailed)}

func (o ClaimOutcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "ClaimOutcome(" + strconv.Itoa(int(o)) + ")"
}

// ExpiredCode is the failure code of numbers whose job expired before they were sent.
const ExpiredCode = "Expired"

// ClaimResult is the result of Claim.
type ClaimResult struct {
	Outcome ClaimOutcome
	Attempt int      // this claim's attempt number once launched (1-based)
	Numbers []string // E.164, the batch's numbers that were pending (now in flight)
	Indexes []int    // position of each number in the batch record
	Params  []string
	Intl    bool
	Job     Job
	RetryAt time.Time // Busy, NotYet
}

// Claim atomically (one Lua script): checks cancel / job failed / expiry / send-at / not-before /
// batch state, then reserves the batch's pending numbers for token (in flight, not launched yet).
// A missing job/batch is ErrNotFound.
//
// A claim has two steps. Claim reserves (before the rate-limiter wait); Launch, called once the
// limiter grants the call and just before SendSms, makes it the durable record of an attempt.
// While a claim is live (younger than Options.ClaimLease, counted from the reservation and again
// from the launch) every other Claim of the batch gets Busy. Once it is older and not committed,
// the next Claim gives a reservation's numbers back to pending (nothing left the process) and
// claims them, but turns a launched claim's in-flight numbers into unknown and gets Unresolved:
// nobody resends them until reconcile decides. A batch that was committed gets Done (or Unresolved while
// it has unknown numbers, so a lost reconcile task is scheduled again). Calling Claim again with the token that holds a live claim returns the same
// claim (so a Claim retried after a network error is safe).
func (s *Store) Claim(ctx context.Context, job string, batch int, token string) (ClaimResult, error) {
	if err := checkJobBatch(job, batch); err != nil {
		return ClaimResult{}, err
	}
	if token == "" {
		return ClaimResult{}, invalidf("job %s batch %d: empty claim token", job, batch)
	}
	now := s.now()
	v, err := claimScript.Run(ctx, s.rdb, []string{jobKey(job), batchKey(job, batch), paramsKey(job)},
		append([]any{now.UnixMilli(), token, s.opts.ClaimLease.Milliseconds(), s.retentionArg()}, outcomeCodeArgs...)...).Slice()
	if err != nil {
		return ClaimResult{}, wrap(fmt.Sprintf("claim %s/%d", job, batch), err)
	}
	code := replyInt(v[0])
	switch code {
	case -1:
		return ClaimResult{}, fmt.Errorf("%w: %s", ErrNotFound, job)
	case -2:
		return ClaimResult{}, fmt.Errorf("%w: %s batch %d", ErrNotFound, job, batch)
	}
	if len(v) < 8 {
		return ClaimResult{}, fmt.Errorf("store: claim %s/%d: short script reply", job, batch)
	}
	res := ClaimResult{
		Outcome: ClaimOutcome(code),
		Attempt: int(replyInt(v[1])),
		Intl:    replyString(v[5]) == "1",
	}
	if ms := replyInt(v[6]); ms > 0 {
		res.RetryAt = time.UnixMilli(ms)
	}
	if jf, ok := v[7].([]any); ok && len(jf) == len(specFields) {
		spec := make(map[string]string, len(specFields))
		for i, f := range specFields {
			spec[f] = replyString(jf[i])
		}
		res.Job = jobFromSpec(job, spec)
	}
	if res.Outcome != Claimed {
		return res, nil
	}
	blob, st := replyString(v[2]), replyString(v[3])
	n := strings.Count(st, string(inFlight))
	res.Indexes = make([]int, 0, n)
	res.Numbers = make([]string, 0, n)
	for i := range numbersIn(st, inFlight) {
		res.Indexes = append(res.Indexes, i)
		res.Numbers = append(res.Numbers, unpackAt(blob, i))
	}
	if p := replyString(v[4]); p != "" {
		if err := json.Unmarshal([]byte(p), &res.Params); err != nil {
			return ClaimResult{}, fmt.Errorf("store: claim %s/%d: param set: %w", job, batch, err)
		}
	}
	return res, nil
}

// Launch turns a reservation made by Claim into a launched claim, the moment before the request
// may leave the process (after the rate limiter granted the call): the attempt count grows by one,
// and the claim's lease and the evidence window of its numbers start now. It checks the job
// again: a job cancelled, failed or expired while the reservation waited settles the reserved
// numbers so (Cancelled, JobFailed, Expired) and nothing may be sent. Busy means the token no
// longer holds the batch (the reservation outlived Options.ClaimLease and another run took it):
// send nothing. Launching a launched claim again with its token returns Claimed.
func (s *Store) Launch(ctx context.Context, job string, batch int, token string) (LaunchResult, error) {
	if err := checkJobBatch(job, batch); err != nil {
		return LaunchResult{}, err
	}
	if token == "" {
		return LaunchResult{}, invalidf("job %s batch %d: empty claim token", job, batch)
	}
	v, err := launchScript.Run(ctx, s.rdb, []string{jobKey(job), batchKey(job, batch)},
		append([]any{s.now().UnixMilli(), token, s.retentionArg(), ExpiredCode}, outcomeCodeArgs...)...).Slice()
	if err != nil {
		return LaunchResult{}, wrap(fmt.Sprintf("launch %s/%d", job, batch), err)
	}
	switch code := replyInt(v[0]); code {
	case -1:
		return LaunchResult{}, fmt.Errorf("%w: %s", ErrNotFound, job)
	case -2:
		return LaunchResult{}, fmt.Errorf("%w: %s batch %d", ErrNotFound, job, batch)
	default:
		if len(v) < 2 {
			return LaunchResult{}, fmt.Errorf("store: launch %s/%d: short script reply", job, batch)
		}
		return LaunchResult{Outcome: ClaimOutcome(code), Attempt: int(replyInt(v[1]))}, nil
	}
}

// LaunchResult is the result of Launch.
type LaunchResult struct {
	Outcome ClaimOutcome // Claimed (launched), Busy, Cancelled, JobFailed or Expired
	Attempt int          // the attempt count after the launch
}

// Release gives a claim back when nothing was sent (e.g. ctx ended while waiting on the rate
// limiter, a halt was found, or Tencent answered with a halting code): numbers back to pending,
// and a launched claim's attempt is not counted. No-op when the token does not hold the claim. If
// the claim had already expired into unknown, Release is believed (nothing was sent) and the
// numbers return to pending too.
func (s *Store) Release(ctx context.Context, job string, batch int, token string) error {
	return s.release(ctx, job, batch, token, false)
}

// Requeue gives a launched claim back after Tencent refused the call as a whole (nothing was
// accepted, e.g. a throttling code): numbers back to pending like Release, but the attempt stays
// counted against the retry budget.
func (s *Store) Requeue(ctx context.Context, job string, batch int, token string) error {
	return s.release(ctx, job, batch, token, true)
}

func (s *Store) release(ctx context.Context, job string, batch int, token string, keepAttempt bool) error {
	if err := checkJobBatch(job, batch); err != nil {
		return err
	}
	if token == "" {
		return nil
	}
	keep := "0"
	if keepAttempt {
		keep = "1"
	}
	err := releaseScript.Run(ctx, s.rdb, []string{jobKey(job), batchKey(job, batch)}, token, s.retentionArg(), keep).Err()
	return wrap(fmt.Sprintf("release %s/%d", job, batch), err)
}

// NumberState is a per-number outcome given to Commit and SettleUnknown.
type NumberState byte

// Number outcomes.
const (
	Sent    NumberState = 's'
	Failed  NumberState = 'f'
	Unknown NumberState = 'u'
	Retry   NumberState = 'r'
	// Suppressed is a number on the suppression list when its batch was claimed: it was not
	// sent and never will be in this job; the job counts it in Status.Suppressed (not failed).
	Suppressed NumberState = 'x'
)

// inFlight is the state byte of a claimed number (the other state bytes: see scripts.go).
const inFlight NumberState = 'i'

// numbersIn yields the indexes of the numbers whose state byte is state in st, the 'st' field of
// a batch record (one state byte per number, index 0 first). It is the one way Go code reads
// that field; scripts read it with st_bytes (scripts.go).
func numbersIn(st string, state NumberState) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i < len(st); i++ {
			if st[i] == byte(state) && !yield(i) {
				return
			}
		}
	}
}

// NumberResult is the outcome of one number of a claimed batch.
type NumberResult struct {
	Index    int         // position in the batch record (ClaimResult.Indexes)
	State    NumberState // Sent, Failed, Unknown, Retry or Suppressed
	Code     string      // Tencent code for Failed (and informational otherwise)
	SerialNo string      // for Sent
	Fee      int64       // for Sent
	RetryAt  time.Time   // for Retry
}

// RetryBatch is a batch created for retried numbers: enqueue its send task at At.
type RetryBatch struct {
	Batch int
	At    time.Time
}

// CommitResult is the result of Commit.
type CommitResult struct {
	Applied      bool         // false: the token no longer holds the claim; nothing written
	RetryBatches []RetryBatch // new batches created for Retry numbers (grouped by RetryAt second); enqueue them
	HasUnknown   bool         // some numbers are unknown: schedule a reconcile task
}

func checkResults(job string, batch int, results []NumberResult, allowed string) error {
	seen := make(map[int]bool, len(results))
	for i, r := range results {
		if r.Index < 0 || r.Index >= MaxBatchSize {
			return invalidf("job %s batch %d: result %d: index %d out of range", job, batch, i, r.Index)
		}
		if seen[r.Index] {
			return invalidf("job %s batch %d: result %d: index %d given twice", job, batch, i, r.Index)
		}
		seen[r.Index] = true
		if !strings.ContainsRune(allowed, rune(r.State)) || r.State == 0 {
			return invalidf("job %s batch %d: result %d: state %q not allowed here", job, batch, i, rune(r.State))
		}
		if r.State == Failed && r.Code == "" {
			return invalidf("job %s batch %d: result %d: Failed needs a Code", job, batch, i)
		}
		if r.Fee < 0 {
			return invalidf("job %s batch %d: result %d: negative fee %d", job, batch, i, r.Fee)
		}
	}
	return nil
}

// retryGroup is the not-before of a retry number: RetryAt rounded up to the second (never
// earlier than asked), so numbers retried at about the same time share a batch.
func retryGroup(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	ms := t.UnixMilli()
	return (ms + 999) / 1000 * 1000
}

// commitArgs encodes results for commitScript (see there): ARGV[1..5] are left for the caller,
// then the results by position, the common fee of sent numbers, their sr lines by position, and
// the results that need more than their state.
func commitArgs(results []NumberResult) []any {
	n := 0
	fee, haveFee := int64(0), false
	for _, r := range results {
		n = max(n, r.Index+1)
		if r.State == Sent && !haveFee {
			fee, haveFee = r.Fee, true
		}
	}
	res := make([]byte, n)
	for i := range res {
		res[i] = '.'
	}
	lines := make([]string, n)
	args := make([]any, 8, 8+4)
	for _, r := range results {
		res[r.Index] = byte(r.State)
		lines[r.Index] = sendLine(r, fee, false)
		if r.State == Failed || r.State == Retry || (r.State == Sent && r.Fee != fee) {
			args = append(args, r.Index, r.Code, r.Fee, retryGroup(r.RetryAt))
		}
	}
	args[5], args[6], args[7] = string(res), fee, strings.Join(lines, "\n")
	return args
}

// Commit atomically applies per-number results and the job counters, only for the attempt whose
// token holds the claim (also accepted when that attempt's claim had already expired into unknown:
// a late reply is the best evidence). Batch becomes done (or "unknown" while unknowns remain).
//
// Numbers of the claim that have no result become unknown. Suppressed numbers (not sent: on the
// suppression list) are final and counted suppressed; a reservation that sends nothing (every
// number suppressed) may be committed without Launch. Retry numbers move ('r') into new
// batches of the same param set, one per RetryAt second, not before that time (when the job was
// cancelled or failed meanwhile they are counted cancelled/failed instead). Committing again with
// the same token returns the first commit's result and writes nothing.
func (s *Store) Commit(ctx context.Context, job string, batch int, token string, results []NumberResult) (CommitResult, error) {
	if err := checkJobBatch(job, batch); err != nil {
		return CommitResult{}, err
	}
	if token == "" {
		return CommitResult{}, invalidf("job %s batch %d: empty claim token", job, batch)
	}
	if err := checkResults(job, batch, results, "sfurx"); err != nil {
		return CommitResult{}, err
	}
	args := commitArgs(results)
	args[0], args[1], args[2], args[3], args[4] = s.now().UnixMilli(), token, s.retentionArg(), batchPrefix(job), batch
	op := fmt.Sprintf("commit %s/%d", job, batch)
	v, err := commitScript.Run(ctx, s.rdb, []string{jobKey(job), batchKey(job, batch), codesKey(job)}, args...).Slice()
	if err != nil {
		return CommitResult{}, wrap(op, err)
	}
	switch replyInt(v[0]) {
	case 0:
		return CommitResult{}, nil
	case -2:
		return CommitResult{}, fmt.Errorf("%w: %s batch %d", ErrNotFound, job, batch)
	case -3:
		return CommitResult{}, invalidf("%s: index %d is beyond the batch's numbers", op, replyInt(v[1]))
	}
	res := CommitResult{Applied: true, HasUnknown: replyInt(v[2]) == 1}
	if rb := replyString(v[1]); rb != "" {
		for _, part := range strings.Split(rb, ",") {
			n, at, _ := strings.Cut(part, ":")
			res.RetryBatches = append(res.RetryBatches, RetryBatch{Batch: int(parseInt(n)), At: parseMs(at)})
		}
	}
	return res, nil
}

// UnknownNumber is a number whose send outcome is unknown.
type UnknownNumber struct {
	Index   int
	Number  string
	Attempt int
	SentAt  time.Time // when the attempt was claimed (the send window starts here)
}

// Unknowns returns the batch's numbers whose outcome is unknown (for reconcile).
func (s *Store) Unknowns(ctx context.Context, job string, batch int) ([]UnknownNumber, error) {
	if err := checkJobBatch(job, batch); err != nil {
		return nil, err
	}
	v, err := s.rdb.HMGet(ctx, batchKey(job, batch), "num", "st", "a", "at").Result()
	if err != nil {
		return nil, wrap(fmt.Sprintf("unknowns of %s/%d", job, batch), err)
	}
	if v[0] == nil {
		return nil, fmt.Errorf("%w: %s batch %d", ErrNotFound, job, batch)
	}
	blob, st := replyString(v[0]), replyString(v[1])
	attempt, at := int(parseInt(replyString(v[2]))), parseMs(replyString(v[3]))
	var out []UnknownNumber
	for i := range numbersIn(st, Unknown) {
		out = append(out, UnknownNumber{Index: i, Number: unpackAt(blob, i), Attempt: attempt, SentAt: at})
	}
	return out, nil
}

// SettleUnknown applies evidence: unknown -> Sent (with SerialNo) or Failed (with Code). Idempotent:
// numbers that are no longer unknown are left alone. Serial numbers are indexed first, only where
// they are not indexed yet (IndexEvidenceSerials): a serial indexed to another number keeps
// pointing there, and the number is settled all the same (the caller vouches for the evidence;
// reconcile checks serials with IndexEvidenceSerials itself and passes none here).
func (s *Store) SettleUnknown(ctx context.Context, job string, batch int, results []NumberResult) error {
	if err := checkJobBatch(job, batch); err != nil {
		return err
	}
	if err := checkResults(job, batch, results, "sf"); err != nil {
		return err
	}
	if len(results) == 0 {
		return nil
	}
	if _, err := s.IndexEvidenceSerials(ctx, job, batch, results); err != nil {
		return err
	}
	args := make([]any, 0, 3+5*len(results))
	args = append(args, s.now().UnixMilli(), s.retentionArg(), batch)
	for _, r := range results {
		args = append(args, r.Index, string(rune(r.State)), r.Code, r.Fee, sendLine(r, 0, true))
	}
	n, err := settleScript.Run(ctx, s.rdb, []string{jobKey(job), batchKey(job, batch), codesKey(job)}, args...).Int()
	if err != nil {
		return wrap(fmt.Sprintf("settle %s/%d", job, batch), err)
	}
	if n == -2 {
		return fmt.Errorf("%w: %s batch %d", ErrNotFound, job, batch)
	}
	return nil
}

// ResendUnknown moves the batch's remaining unknown numbers into a new batch (not before at).
// ok=false when there are none (already resent or settled); when the job was cancelled or failed
// meanwhile they are counted cancelled/failed instead and ok=false.
func (s *Store) ResendUnknown(ctx context.Context, job string, batch int, at time.Time) (rb RetryBatch, ok bool, err error) {
	if err := checkJobBatch(job, batch); err != nil {
		return RetryBatch{}, false, err
	}
	v, err := resendScript.Run(ctx, s.rdb, []string{jobKey(job), batchKey(job, batch)},
		s.retentionArg(), batchPrefix(job), msOf(at)).Slice()
	if err != nil {
		return RetryBatch{}, false, wrap(fmt.Sprintf("resend unknowns of %s/%d", job, batch), err)
	}
	switch replyInt(v[0]) {
	case -2:
		return RetryBatch{}, false, fmt.Errorf("%w: %s batch %d", ErrNotFound, job, batch)
	case 0:
		return RetryBatch{}, false, nil
	}
	return RetryBatch{Batch: int(replyInt(v[1])), At: at}, true, nil
}
