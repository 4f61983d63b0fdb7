package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
}

// NewBatch is one batch given to CreateJob.
type NewBatch struct {
	ParamSet int      // index into paramSets
	Intl     bool     // international numbers (never mixed with +86 in one batch)
	Numbers  []string // E.164 with '+', 1..200, already deduplicated by the producer
}

// Batch is a batch that still needs its send task run (PendingBatches).
type Batch struct {
	Index     int
	NotBefore time.Time // zero: no constraint (the job's SendAt still applies)
}

// Status is a job's progress. JSON field names are the `enqueue status --json` contract.
type Status struct {
	ID           string           `json:"id"`
	State        string           `json:"state"` // scheduled|running|paused|done|cancelled|failed
	Total        int64            `json:"total"`
	Sent         int64            `json:"sent"`
	Failed       int64            `json:"failed"`
	Cancelled    int64            `json:"cancelled"`
	Unknown      int64            `json:"unknown"`
	Pending      int64            `json:"pending"` // total - sent - failed - cancelled
	Delivered    int64            `json:"delivered"`
	Undelivered  int64            `json:"undelivered"`
	Rejected     int64            `json:"rejected"`
	Fee          int64            `json:"fee"`
	FailedByCode map[string]int64 `json:"failed_by_code"`
	Batches      int64            `json:"batches"`
	AppID        string           `json:"app_id"`
	Priority     string           `json:"priority"`
	CreatedAt    time.Time        `json:"created_at"`
}

// Job states reported by Status.
const (
	StateScheduled = "scheduled"
	StateRunning   = "running"
	StatePaused    = "paused"
	StateDone      = "done"
	StateCancelled = "cancelled"
	StateFailed    = "failed"
)

// Priorities.
const (
	PriorityOTP    = "otp"
	PriorityNormal = "normal"
	PriorityBulk   = "bulk"
)

// createChunk is how many batch records one pipeline round trip of CreateJob writes.
const createChunk = 500

// sweepChunk is how many batches one Cancel/FailJob script visits. Each visit is a few string
// operations on at most 200 state bytes, so a chunk stays well under a millisecond of script time.
const sweepChunk = 256

// specFields are the job hash's spec fields in the order the claim script returns them.
var specFields = []string{"send_at", "expires_at", "app", "sign", "tpl", "sender", "ext", "prio", "created", "defer_daily"}

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
	}
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// CreateJob writes the job, its param sets and batches 0..len(batches)-1 (pipelined in chunks) and
// registers it as active. created=false, err=nil when a job with this ID already exists: nothing is
// written. rejected = invalid input lines, stored for Status.
//
// Creation is resumable: the job hash is written first with ready=0, then params and batches,
// then ready=1 (only then can batches be claimed). A creator that died midway leaves a job that
// is not ready; calling CreateJob again with the same input completes it.
func (s *Store) CreateJob(ctx context.Context, job Job, paramSets [][]string, batches []NewBatch, rejected int) (created bool, err error) {
	if err := checkID("job id", job.ID); err != nil {
		return false, err
	}
	if err := checkID("app id", job.AppID); err != nil {
		return false, fmt.Errorf("job %s: %w", job.ID, err)
	}
	switch job.Priority {
	case "":
		job.Priority = PriorityNormal
	case PriorityOTP, PriorityNormal, PriorityBulk:
	default:
		return false, invalidf("job %s: priority %q is not otp, normal or bulk", job.ID, job.Priority)
	}
	if rejected < 0 {
		return false, invalidf("job %s: negative rejected count %d", job.ID, rejected)
	}
	now := s.now()
	if job.CreatedAt.IsZero() {
		job.CreatedAt = now
	}

	// Validate and pack everything before the first write.
	packed := make([][]byte, len(batches))
	all := make([]uint64, 0, len(batches)*MaxBatchSize)
	for i, b := range batches {
		if len(b.Numbers) == 0 || len(b.Numbers) > MaxBatchSize {
			return false, invalidf("job %s: batch %d has %d numbers, want 1..%d", job.ID, i, len(b.Numbers), MaxBatchSize)
		}
		if b.ParamSet < 0 || (b.ParamSet >= len(paramSets) && !(len(paramSets) == 0 && b.ParamSet == 0)) {
			return false, invalidf("job %s: batch %d refers to param set %d, have %d", job.ID, i, b.ParamSet, len(paramSets))
		}
		buf := make([]byte, 0, len(b.Numbers)*packedSize)
		for j, n := range b.Numbers {
			v, err := ParseE164(n)
			if err != nil {
				return false, fmt.Errorf("job %s: batch %d number %d: %w", job.ID, i, j, err)
			}
			buf = packNumber(buf, v)
			all = append(all, v)
		}
		packed[i] = buf
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			return false, invalidf("job %s: number %s appears more than once", job.ID, MaskNumber(FormatE164(all[i])))
		}
	}
	params := make([]any, len(paramSets))
	for i, ps := range paramSets {
		if ps == nil {
			ps = []string{}
		}
		b, err := json.Marshal(ps)
		if err != nil {
			return false, fmt.Errorf("store: job %s: param set %d: %w", job.ID, i, err)
		}
		params[i] = string(b)
	}

	// Keys of a scheduled job must outlive its send time.
	ttl := s.opts.Retention
	if d := job.SendAt.Sub(now); d > 0 {
		ttl += d
	}
	ttlArg := strconv.FormatInt(ttl.Milliseconds(), 10)

	jk := jobKey(job.ID)
	nonce := newToken()
	begin, err := createBeginScript.Run(ctx, s.rdb, []string{jk}, ttlArg, nonce,
		"app", job.AppID, "sign", job.SignName, "tpl", job.TemplateID, "sender", job.SenderID,
		"ext", job.ExtendCode, "prio", job.Priority, "send_at", msOf(job.SendAt),
		"expires_at", msOf(job.ExpiresAt), "created", msOf(job.CreatedAt),
		"defer_daily", boolArg(job.DeferDailyLimit)).Int()
	if err != nil {
		return false, wrap("create job "+job.ID, err)
	}
	if begin == 0 {
		return false, nil
	}

	// Params and batches, in chunks; every chunk is refused once another creator took over or
	// the job became ready (so a record already claimed is never overwritten).
	pk := paramsKey(job.ID)
	total := 0
	pmode := "d"
	for from, pfrom := 0, 0; from < len(batches) || pfrom < len(params) || pmode == "d"; {
		pto := min(pfrom+createChunk, len(params))
		to := min(from+createChunk, len(batches))
		keys := []string{jk, pk}
		args := []any{nonce, ttlArg, pmode, pto - pfrom}
		args = append(args, params[pfrom:pto]...)
		for i := from; i < to; i++ {
			b := batches[i]
			keys = append(keys, batchKey(job.ID, i))
			args = append(args, packed[i], strings.Repeat("p", len(b.Numbers)), b.ParamSet, boolArg(b.Intl))
		}
		res, err := createWriteScript.Run(ctx, s.rdb, keys, args...).Int()
		if err != nil {
			return false, wrap(fmt.Sprintf("create job %s: batches %d..%d", job.ID, from, to-1), err)
		}
		switch res {
		case 0:
			return false, nil // another creator finished it
		case -1:
			return false, fmt.Errorf("%w: job %s", ErrCreateConflict, job.ID)
		}
		for i := from; i < to; i++ {
			total += len(batches[i].Numbers)
		}
		pmode = "a"
		from, pfrom = to, pto
	}

	// Register as active before the job becomes ready, so a crash in between leaves it visible
	// to the sweeper rather than invisible.
	if err := touchAddScript.Run(ctx, s.rdb, []string{activeKey}, "z", job.ID, msOf(job.CreatedAt), ttlArg).Err(); err != nil {
		return false, wrap("create job "+job.ID+": register active", err)
	}
	lastUse := now
	if job.SendAt.After(lastUse) {
		lastUse = job.SendAt
	}
	if err := touchAddScript.Run(ctx, s.rdb, []string{appsKey}, "g", job.AppID, lastUse.UnixMilli(), ttlArg).Err(); err != nil {
		return false, wrap("create job "+job.ID+": register app", err)
	}
	fin, err := createFinishScript.Run(ctx, s.rdb, []string{jk}, nonce, total, len(batches), rejected, ttlArg).Int()
	if err != nil {
		return false, wrap("create job "+job.ID+": finish", err)
	}
	if fin < 0 {
		return false, fmt.Errorf("%w: job %s", ErrCreateConflict, job.ID)
	}
	return fin == 1, nil
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
		ID:           id,
		Total:        parseInt(h["total"]),
		Sent:         parseInt(h["sent"]),
		Failed:       parseInt(h["failed"]),
		Cancelled:    parseInt(h["cancelled"]),
		Unknown:      parseInt(h["unknown"]),
		Delivered:    parseInt(h["delivered"]),
		Undelivered:  parseInt(h["undelivered"]),
		Rejected:     parseInt(h["rejected"]),
		Fee:          parseInt(h["fee"]),
		Batches:      parseInt(h["batches"]),
		AppID:        h["app"],
		Priority:     h["prio"],
		CreatedAt:    parseMs(h["created"]),
		FailedByCode: map[string]int64{},
	}
	st.Pending = st.Total - st.Sent - st.Failed - st.Cancelled
	for k, v := range h {
		if code, ok := strings.CutPrefix(k, "fc:"); ok {
			st.FailedByCode[code] = parseInt(v)
		}
	}
	now := s.now()
	settled := st.Pending == 0 && st.Unknown == 0
	switch {
	case h["fail"] != "":
		st.State = StateFailed
	case h["cancel"] == "1":
		st.State = StateCancelled
	case settled && (st.Delivered+st.Undelivered >= st.Sent ||
		!now.Before(parseMs(h["lc"]).Add(s.opts.ReceiptWindow))):
		st.State = StateDone
	case halted:
		st.State = StatePaused
	case parseMs(h["send_at"]).After(now) && st.Sent == 0 && st.Failed == 0 && st.Unknown == 0:
		st.State = StateScheduled
	default:
		st.State = StateRunning
	}
	return st
}

// finished reports whether a job needs no more work from the sweeper.
func finished(st Status) bool {
	switch st.State {
	case StateDone:
		return true
	case StateCancelled, StateFailed:
		return st.Pending == 0 && st.Unknown == 0
	}
	return false
}

// Status returns a job's counters and state. A job that is finished is removed from the active
// set. ErrNotFound when the job does not exist.
func (s *Store) Status(ctx context.Context, id string) (Status, error) {
	h, err := s.readJob(ctx, id)
	if err != nil {
		return Status{}, err
	}
	halted := false
	if h["fail"] == "" && h["cancel"] != "1" {
		halt, err := s.HaltOf(ctx, h["app"])
		if err != nil {
			return Status{}, err
		}
		halted = halt != nil
	}
	st := s.deriveStatus(id, h, halted)
	if finished(st) {
		if err := s.rdb.ZRem(ctx, activeKey, id).Err(); err != nil {
			return Status{}, wrap("status "+id+": deactivate", err)
		}
	}
	return st, nil
}

// ActiveJobs returns the jobs not yet finished, oldest first (for the sweeper). Jobs found
// finished or gone are removed from the active set on the way.
func (s *Store) ActiveJobs(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, activeKey, 0, -1).Result()
	if err != nil {
		return nil, wrap("active jobs", err)
	}
	var out, gone []string
	const chunk = 500
	for from := 0; from < len(ids); from += chunk {
		part := ids[from:min(from+chunk, len(ids))]
		cmds := make([]*redis.MapStringStringCmd, len(part))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				cmds[i] = p.HGetAll(ctx, jobKey(id))
			}
			return nil
		}); err != nil {
			return nil, wrap("active jobs", err)
		}
		for i, id := range part {
			h := cmds[i].Val()
			switch {
			case len(h) == 0:
				gone = append(gone, id) // expired
			case h["ready"] != "1":
				out = append(out, id) // being created (or its creator died): keep visible
			case finished(s.deriveStatus(id, h, false)):
				gone = append(gone, id)
			default:
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
	return out, nil
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
