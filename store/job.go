package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Job is a job's spec, as written by CreateJob.
type Job struct {
	ID, AppID, SignName, TemplateID, SenderID, ExtendCode string
	Priority                                              string    // "otp" | "normal" | "bulk"
	SendAt                                                time.Time // zero = now
	ExpiresAt                                             time.Time // zero = never (otp default 10 min is set by the producer)
	CreatedAt                                             time.Time
	DeferDailyLimit                                       bool
	// Fingerprint is the producer's digest of the request that created the job (package client
	// compares it when a job id is sent again). The store keeps it as given, opaque; "" for jobs
	// created without one.
	Fingerprint string
	// Window is the job's send window (zero: none). It does not apply to otp jobs, which send at
	// once whatever it says (see SendWindow).
	Window Window
	// TemplateType is the type of the job's template as Tencent reports it: "otp",
	// "notification", "marketing", or "" when not looked up. A marketing job without a window is
	// given MarketingWindow by the producer (package client).
	TemplateType string
}

// Template types of Job.TemplateType.
const (
	TemplateOTP          = "otp"
	TemplateNotification = "notification"
	TemplateMarketing    = "marketing"
)

// SendWindow returns the window the job's numbers are sent in: Window, except for otp jobs,
// which ignore windows (zero: send at any time).
func (j Job) SendWindow() Window {
	if j.Priority == PriorityOTP {
		return Window{}
	}
	return j.Window
}

// NewBatch is one batch given to CreateJob or CreateJobStream. Its numbers are given either as
// E.164 strings (Numbers) or packed (Packed: the digits as an integer, the form the batch record
// stores, so they are written without building strings); Packed is used when Numbers is empty.
type NewBatch struct {
	ParamSet int      // index into paramSets
	Intl     bool     // international numbers (never mixed with +86 in one batch)
	Numbers  []string // E.164 with '+', 1..200, already deduplicated by the producer
	Packed   []uint64 // or: the E.164 digits as integers (+8613800000000 -> 8613800000000), 1..200
}

// Batch is a batch that still needs its send task run (PendingBatches).
type Batch struct {
	Index     int
	NotBefore time.Time // zero: no constraint (the job's SendAt still applies)
}

// Status is a job's progress. JSON field names are the `enqueue status --json` contract.
type Status struct {
	ID          string   `json:"id"`
	State       JobState `json:"state"`      // see JobState
	Final       bool     `json:"final"`      // State.Final(): the state no longer changes
	FatalCode   string   `json:"fatal_code"` // the job-fatal code that stopped the job's unsent numbers; "" if none
	Total       int64    `json:"total"`
	Sent        int64    `json:"sent"`
	Failed      int64    `json:"failed"`
	Cancelled   int64    `json:"cancelled"`
	Unknown     int64    `json:"unknown"`
	Suppressed  int64    `json:"suppressed"` // not sent: on the suppression list when its batch was claimed (not failed)
	Pending     int64    `json:"pending"`    // total - sent - failed - cancelled - suppressed
	Delivered   int64    `json:"delivered"`
	Undelivered int64    `json:"undelivered"`
	Rejected    int64    `json:"rejected"`
	Fee         int64    `json:"fee"`
	// SentFeeUnknown counts sent numbers settled by evidence (a receipt or a by-number record
	// instead of SendSms's lost reply): their fee is not known per number, so Fee leaves them
	// out. The billed total is Fee plus about SentFeeUnknown times the message's segments.
	SentFeeUnknown int64            `json:"sent_fee_unknown"`
	FailedByCode   map[string]int64 `json:"failed_by_code"`
	Batches        int64            `json:"batches"`
	AppID          string           `json:"app_id"`
	Priority       string           `json:"priority"`
	CreatedAt      time.Time        `json:"created_at"`

	// Window is the job's send window as "HH:MM-HH:MM Zone" ("" for none, and for otp jobs,
	// which ignore it); NextOpen, set only while numbers are pending and the window is closed,
	// is when it opens next: until then no batch is sent.
	Window   string    `json:"window,omitempty"`
	NextOpen time.Time `json:"next_open,omitzero"`
}

// JobState is a job's state. It is not stored: Status derives it from the job's counters each
// time, with pending = total - sent - failed - cancelled - suppressed (the numbers not settled
// yet: waiting, in flight, due for a retry or unknown). The first row whose condition holds is
// the state; a final state no longer changes (delivered and undelivered may still grow with late
// receipts).
// Rejected input lines are not part of total and do not count. A number's outcome is a NumberState
// (Sent, Failed, Unknown, Retry, Suppressed), a different type: the two do not mix.
//
//	state       final  condition
//	cancelling  no     cancel requested and pending > 0: nothing new is sent, the numbers in
//	                   flight finish and the rest are cancelled
//	failing     no     a job-fatal code was recorded (fatal_code) and pending > 0: nothing new is
//	                   sent, the numbers in flight finish and the rest fail with that code
//	paused      no     the app is halted and pending > 0: batches wait for a probe or enqueue resume
//	scheduled   no     pending > 0, send_at is in the future or the send window is closed
//	                   (next_open), and nothing was tried yet (sent = failed = unknown = 0)
//	running     no     pending > 0 otherwise
//	cancelled   yes    pending = 0 and cancelled > 0
//	failed      yes    pending = 0, sent = 0 and failed > 0: no number was accepted
//	delivering  no     pending = 0, sent > 0, delivered + undelivered < sent and the receipt window
//	                   (SMS_RECEIPT_WINDOW after the last commit) is open: sending finished,
//	                   receipts still arriving
//	partial     yes    pending = 0, sent > 0 and failed > 0: some numbers accepted, the others
//	                   failed (by number, by expiry, or with the job-fatal code in fatal_code)
//	done        yes    pending = 0 otherwise (sent + suppressed = total): every number accepted,
//	                   or suppressed (on the suppression list, never sent)
//
// So a job ends done, partial, failed or cancelled; failed_by_code says why numbers failed.
type JobState string

// Job states reported by Status, in the order of the JobState table.
const (
	StateCancelling JobState = "cancelling"
	StateFailing    JobState = "failing"
	StatePaused     JobState = "paused"
	StateScheduled  JobState = "scheduled"
	StateRunning    JobState = "running"
	StateCancelled  JobState = "cancelled"
	StateFailed     JobState = "failed"
	StateDelivering JobState = "delivering"
	StatePartial    JobState = "partial"
	StateDone       JobState = "done"
)

// Final reports whether s is final: done, partial, failed or cancelled.
func (s JobState) Final() bool {
	switch s {
	case StateDone, StatePartial, StateFailed, StateCancelled:
		return true
	}
	return false
}

// JobStateInfo is one row of the JobState table.
type JobStateInfo struct {
	State     JobState
	Final     bool
	Condition string
}

// JobStates is the JobState table, row by row in the order the conditions are tested (for help
// texts; the doc comment of JobState and the README show the same rows).
var JobStates = []JobStateInfo{
	{StateCancelling, false, "cancel requested and pending > 0: nothing new is sent, the numbers in flight finish and the rest are cancelled"},
	{StateFailing, false, "a job-fatal code was recorded (fatal_code) and pending > 0: nothing new is sent, the numbers in flight finish and the rest fail with that code"},
	{StatePaused, false, "the app is halted and pending > 0: batches wait for a probe or enqueue resume"},
	{StateScheduled, false, "pending > 0, send_at is in the future or the send window is closed (next_open), and nothing was tried yet (sent = failed = unknown = 0)"},
	{StateRunning, false, "pending > 0 otherwise"},
	{StateCancelled, true, "pending = 0 and cancelled > 0"},
	{StateFailed, true, "pending = 0, sent = 0 and failed > 0: no number was accepted"},
	{StateDelivering, false, "pending = 0, sent > 0, delivered + undelivered < sent and the receipt window (SMS_RECEIPT_WINDOW after the last commit) is open: sending finished, receipts still arriving"},
	{StatePartial, true, "pending = 0, sent > 0 and failed > 0: some numbers accepted, the others failed (by number, by expiry, or with the job-fatal code in fatal_code)"},
	{StateDone, true, "pending = 0 otherwise (sent + suppressed = total): every number accepted, or suppressed (on the suppression list, never sent)"},
}

// stateInput is what a job's state is derived from: its counters, its flags, the app's halt and
// two comparisons with the clock.
type stateInput struct {
	Total, Sent, Failed, Cancelled, Suppressed, Unknown, Delivered, Undelivered int64

	CancelRequested bool   // the cancel flag
	FatalCode       string // the fail flag (job-fatal code)
	Halted          bool   // the job's app is halted
	BeforeSendAt    bool   // now is before the job's send_at
	WindowClosed    bool   // the job has a send window and now is outside it
	ReceiptsOpen    bool   // now is before the last commit plus the receipt window
}

// deriveState applies the JobState table.
func deriveState(in stateInput) JobState {
	pending := in.Total - in.Sent - in.Failed - in.Cancelled - in.Suppressed
	if pending > 0 || in.Unknown > 0 {
		switch {
		case in.CancelRequested:
			return StateCancelling
		case in.FatalCode != "":
			return StateFailing
		case in.Halted:
			return StatePaused
		case (in.BeforeSendAt || in.WindowClosed) && in.Sent == 0 && in.Failed == 0 && in.Unknown == 0:
			return StateScheduled
		default:
			return StateRunning
		}
	}
	switch {
	case in.Cancelled > 0:
		return StateCancelled
	case in.Sent == 0 && in.Failed > 0:
		return StateFailed
	case in.Sent > 0 && in.Delivered+in.Undelivered < in.Sent && in.ReceiptsOpen:
		return StateDelivering
	case in.Failed > 0:
		return StatePartial
	default:
		return StateDone
	}
}

// Priorities of a job; package tasks aliases them and maps each to its queue.
const (
	PriorityOTP    = "otp"
	PriorityNormal = "normal"
	PriorityBulk   = "bulk"
)

// sweepChunk is how many batches one Cancel/FailJob script visits. Each visit is a few string
// operations on at most 200 state bytes, so a chunk stays well under a millisecond of script time.
const sweepChunk = 256

// specFields are the job hash's spec fields in the order the claim script returns them.
var specFields = []string{"send_at", "expires_at", "app", "sign", "tpl", "sender", "ext", "prio", "created", "defer_daily",
	"win", "tz", "ttype"}

func jobFromSpec(id string, f map[string]string) Job {
	return Job{
		ID:              id,
		AppID:           f["app"],
		SignName:        f["sign"],
		TemplateID:      f["tpl"],
		SenderID:        f["sender"],
		ExtendCode:      f["ext"],
		Priority:        f["prio"],
		SendAt:          parseMs(f["send_at"]),
		ExpiresAt:       parseMs(f["expires_at"]),
		CreatedAt:       parseMs(f["created"]),
		DeferDailyLimit: f["defer_daily"] == "1",
		Fingerprint:     f["fp"],
		Window:          decodeWindow(f["win"], f["tz"]),
		TemplateType:    f["ttype"],
	}
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// readJob returns the job hash of a ready job, or ErrNotFound.
func (s *Store) readJob(ctx context.Context, id string) (map[string]string, error) {
	if err := checkID("job id", id); err != nil {
		return nil, err
	}
	h, err := s.rdb.HGetAll(ctx, jobKey(id)).Result()
	if err != nil {
		return nil, wrap("read job "+id, err)
	}
	if h["ready"] != "1" {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return h, nil
}

// Job returns a job's spec. ErrNotFound when it does not exist.
func (s *Store) Job(ctx context.Context, id string) (Job, error) {
	h, err := s.readJob(ctx, id)
	if err != nil {
		return Job{}, err
	}
	return jobFromSpec(id, h), nil
}

// deriveStatus computes a Status from the job hash. halted reports whether the app is halted.
func (s *Store) deriveStatus(id string, h map[string]string, halted bool) Status {
	st := Status{
		ID:             id,
		Total:          parseInt(h["total"]),
		Sent:           parseInt(h["sent"]),
		Failed:         parseInt(h["failed"]),
		Cancelled:      parseInt(h["cancelled"]),
		Unknown:        parseInt(h["unknown"]),
		Suppressed:     parseInt(h["suppressed"]),
		Delivered:      parseInt(h["delivered"]),
		Undelivered:    parseInt(h["undelivered"]),
		Rejected:       parseInt(h["rejected"]),
		Fee:            parseInt(h["fee"]),
		SentFeeUnknown: parseInt(h["nofee"]),
		Batches:        parseInt(h["batches"]),
		AppID:          h["app"],
		Priority:       h["prio"],
		CreatedAt:      parseMs(h["created"]),
		FailedByCode:   map[string]int64{},
	}
	st.Pending = st.Total - st.Sent - st.Failed - st.Cancelled - st.Suppressed
	for k, v := range h {
		if code, ok := strings.CutPrefix(k, "fc:"); ok {
			st.FailedByCode[code] = parseInt(v)
		}
	}
	now := s.now()
	st.FatalCode = h["fail"]
	win := Job{Priority: h["prio"], Window: decodeWindow(h["win"], h["tz"])}.SendWindow()
	st.Window = win.String()
	windowClosed := st.Pending > 0 && !win.Open(now)
	// The next opening that matters is the first one at or after send_at.
	at := now
	if sa := parseMs(h["send_at"]); sa.After(at) {
		at = sa
	}
	if st.Pending > 0 && !win.Open(at) {
		st.NextOpen = win.NextOpen(at)
	}
	st.State = deriveState(stateInput{
		Total: st.Total, Sent: st.Sent, Failed: st.Failed, Cancelled: st.Cancelled, Suppressed: st.Suppressed,
		Unknown:   st.Unknown,
		Delivered: st.Delivered, Undelivered: st.Undelivered,
		CancelRequested: h["cancel"] == "1",
		FatalCode:       st.FatalCode,
		Halted:          halted,
		BeforeSendAt:    parseMs(h["send_at"]).After(now),
		WindowClosed:    windowClosed,
		ReceiptsOpen:    now.Before(parseMs(h["lc"]).Add(s.opts.ReceiptWindow)),
	})
	st.Final = st.State.Final()
	return st
}

// Status returns a job's counters and state (see JobState). A job whose state is final gets its
// retention TTL (ExpireSettled) and is removed from the active set. ErrNotFound when the job does
// not exist.
func (s *Store) Status(ctx context.Context, id string) (Status, error) {
	h, err := s.readJob(ctx, id)
	if err != nil {
		return Status{}, err
	}
	halted := false
	pending := parseInt(h["total"]) - parseInt(h["sent"]) - parseInt(h["failed"]) - parseInt(h["cancelled"]) -
		parseInt(h["suppressed"])
	if h["fail"] == "" && h["cancel"] != "1" && pending > 0 { // only then can the state be paused
		halt, err := s.HaltOf(ctx, h["app"])
		if err != nil {
			return Status{}, err
		}
		halted = halt != nil
	}
	st := s.deriveStatus(id, h, halted)
	if st.Final {
		if err := s.expireSettled(ctx, id, h); err != nil {
			return Status{}, err
		}
		if err := s.rdb.ZRem(ctx, activeKey, id).Err(); err != nil {
			return Status{}, wrap("status "+id+": deactivate", err)
		}
	}
	return st, nil
}

// ActiveJobs returns the jobs whose state is not final, oldest first (for the sweeper). Jobs found
// gone are removed from the active set on the way, and so are jobs found final, once their keys
// have their retention TTL (ExpireSettled): the sweeper thus starts every settled job's retention.
// A ready job whose hash still carries a TTL (its creator died before removing the creation
// TTLs, or an older version wrote it) loses its TTLs. When that fails for some jobs, the list is
// still returned whole (non-nil) with their errors joined; a final job whose TTLs failed stays in
// the active set for the next call.
func (s *Store) ActiveJobs(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, activeKey, 0, -1).Result()
	if err != nil {
		return nil, wrap("active jobs", err)
	}
	var out, gone []string
	var jobErrs []error
	const chunk = 500
	for from := 0; from < len(ids); from += chunk {
		part := ids[from:min(from+chunk, len(ids))]
		cmds := make([]*redis.MapStringStringCmd, len(part))
		ttls := make([]*redis.DurationCmd, len(part))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				cmds[i] = p.HGetAll(ctx, jobKey(id))
				ttls[i] = p.PTTL(ctx, jobKey(id))
			}
			return nil
		}); err != nil {
			return nil, wrap("active jobs", err)
		}
		for i, id := range part {
			h := cmds[i].Val()
			switch {
			case len(h) == 0:
				gone = append(gone, id) // expired (or deleted)
			case h["ready"] != "1":
				out = append(out, id) // being created (or its creator died): keep visible
			case s.deriveStatus(id, h, false).Final:
				if err := s.expireSettled(ctx, id, h); err != nil {
					jobErrs = append(jobErrs, err) // stays active: the next call tries again
					continue
				}
				gone = append(gone, id)
			default:
				if ttls[i].Val() >= 0 {
					if err := s.persistJob(ctx, id, int(parseInt(h["batches"]))); err != nil {
						jobErrs = append(jobErrs, err) // listed all the same; the next call tries again
					}
				}
				out = append(out, id)
			}
		}
	}
	if len(gone) > 0 {
		members := make([]any, len(gone))
		for i, g := range gone {
			members[i] = g
		}
		if err := s.rdb.ZRem(ctx, activeKey, members...).Err(); err != nil {
			return nil, wrap("active jobs: deactivate", err)
		}
	}
	if len(jobErrs) > 0 && out == nil {
		out = []string{}
	}
	return out, errors.Join(jobErrs...)
}

// PendingBatches returns the batches that still need their send task run: those whose record
// says pending (not claimed, not done), and those in flight whose claim has expired (their holder
// died; running the task again turns them into Unknown so reconcile takes over).
func (s *Store) PendingBatches(ctx context.Context, job string) ([]Batch, error) {
	h, err := s.readJob(ctx, job)
	if err != nil {
		return nil, err
	}
	n := int(parseInt(h["batches"]))
	now := s.now()
	var out []Batch
	const chunk = 1000
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		cmds := make([]*redis.SliceCmd, to-from)
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := from; i < to; i++ {
				cmds[i-from] = p.HMGet(ctx, batchKey(job, i), "s", "nb", "at")
			}
			return nil
		}); err != nil {
			return nil, wrap("pending batches of "+job, err)
		}
		for i, c := range cmds {
			v := c.Val()
			state, nb, at := replyString(v[0]), replyString(v[1]), replyString(v[2])
			switch {
			case state == "pending":
				out = append(out, Batch{Index: from + i, NotBefore: parseMs(nb)})
			case state == "inflight" && !now.Before(parseMs(at).Add(s.opts.ClaimLease)):
				out = append(out, Batch{Index: from + i})
			}
		}
	}
	return out, nil
}

// UnknownBatches returns batches of a job whose record holds unknown numbers (sweeper), in index
// order. ErrNotFound when the job does not exist.
func (s *Store) UnknownBatches(ctx context.Context, job string) ([]int, error) {
	h, err := s.readJob(ctx, job)
	if err != nil {
		return nil, err
	}
	if parseInt(h["unknown"]) <= 0 {
		return nil, nil // the job counter says none: skip reading every batch
	}
	n := int(parseInt(h["batches"]))
	var out []int
	const chunk = 1000
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		cmds := make([]*redis.StringCmd, to-from)
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := from; i < to; i++ {
				cmds[i-from] = p.HGet(ctx, batchKey(job, i), "s")
			}
			return nil
		}); err != nil && !isNil(err) {
			return nil, wrap(fmt.Sprintf("unknown batches of %s", job), err)
		}
		for i, c := range cmds {
			if c.Val() == "unknown" {
				out = append(out, from+i)
			}
		}
	}
	return out, nil
}

// Cancel cancels a job: the cancel flag is set first (so no new claim succeeds), then the pending
// numbers of every batch are counted cancelled, a chunk of batches per script. Batches in flight
// finish; their retry numbers are cancelled when committed. Cancel is idempotent and resumable:
// calling it again after an error finishes the sweep. Cancelling a job with nothing pending
// changes nothing.
func (s *Store) Cancel(ctx context.Context, job string) (Status, error) {
	if err := s.sweep(ctx, job, "c", ""); err != nil {
		return Status{}, err
	}
	return s.Status(ctx, job)
}

// FailJob marks a job failed with a job-fatal code: the code is recorded first (the first code
// wins; claims then fail their batches with it), then every pending number is counted failed with
// it, a chunk of batches per script. Idempotent and resumable like Cancel.
func (s *Store) FailJob(ctx context.Context, job, code string) error {
	if code == "" {
		return invalidf("job %s: FailJob needs a code", job)
	}
	return s.sweep(ctx, job, "f", code)
}

func (s *Store) sweep(ctx context.Context, job, mode, code string) error {
	if err := checkID("job id", job); err != nil {
		return err
	}
	op := "cancel " + job
	if mode == "f" {
		op = "fail " + job
	}
	ttl := s.retentionArg()
	n, err := flagScript.Run(ctx, s.rdb, []string{jobKey(job)}, mode, code, ttl).Int()
	if err != nil {
		return wrap(op, err)
	}
	if n < 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, job)
	}
	jk := jobKey(job)
	for from := 0; from < n; from += sweepChunk {
		to := min(from+sweepChunk, n)
		keys := make([]string, 0, to-from+1)
		keys = append(keys, jk)
		for i := from; i < to; i++ {
			keys = append(keys, batchKey(job, i))
		}
		if err := sweepScript.Run(ctx, s.rdb, keys, mode, code, ttl).Err(); err != nil {
			return wrap(fmt.Sprintf("%s: batches %d..%d", op, from, to-1), err)
		}
	}
	return nil
}

// MemoryPerNumber returns MEMORY USAGE of the job's keys divided by its total numbers (for
// benchmarks). On Redis every nested value is counted (SAMPLES 0); miniredis approximates.
func (s *Store) MemoryPerNumber(ctx context.Context, job string) (bytes float64, err error) {
	h, err := s.readJob(ctx, job)
	if err != nil {
		return 0, err
	}
	total := parseInt(h["total"])
	if total == 0 {
		return 0, nil
	}
	keys := []string{jobKey(job), paramsKey(job), codesKey(job)}
	for i := 0; i < int(parseInt(h["batches"])); i++ {
		keys = append(keys, batchKey(job, i))
	}
	sum, err := s.memoryUsage(ctx, keys, true)
	if err != nil {
		// miniredis does not accept SAMPLES.
		if sum, err = s.memoryUsage(ctx, keys, false); err != nil {
			return 0, wrap("memory usage of "+job, err)
		}
	}
	return float64(sum) / float64(total), nil
}

func (s *Store) memoryUsage(ctx context.Context, keys []string, samples bool) (int64, error) {
	cmds := make([]*redis.IntCmd, len(keys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			if samples {
				cmds[i] = p.MemoryUsage(ctx, k, 0)
			} else {
				cmds[i] = p.MemoryUsage(ctx, k)
			}
		}
		return nil
	})
	var sum int64
	for _, c := range cmds {
		v, cerr := c.Result()
		switch {
		case errors.Is(cerr, redis.Nil):
		case cerr != nil:
			return 0, cerr
		default:
			sum += v
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	return sum, nil
}
