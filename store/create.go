package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/numset"
)

// createChunk is how many batch records one pipeline round trip of CreateJob writes.
const createChunk = 500

// maxFingerprintLen bounds Job.Fingerprint (it is one field of the job hash).
const maxFingerprintLen = 4096

// maxPacked is the largest packed E.164 number: 15 digits.
const maxPacked = 999_999_999_999_999

// pendingStates holds the state bytes of a new batch (sliced to its size).
var pendingStates = strings.Repeat("p", MaxBatchSize)

// errAlreadyCreated stops a creation that found the job ready (another creator finished it).
var errAlreadyCreated = errors.New("store: job already created")

// CreateJob writes the job, its param sets and batches 0..len(batches)-1 (pipelined in chunks) and
// registers it as active. created=false, err=nil when a job with this ID already exists: nothing is
// written. rejected = invalid input lines, stored for Status.
//
// Every batch is validated before the first write (1..MaxBatchSize numbers, a param set index
// within paramSets, E.164 numbers, no number twice in the job); an error wraps ErrInvalid and
// names the batch and number.
//
// Creation is resumable: the job hash is written first with ready=0, then params and batches,
// then ready=1 (only then can batches be claimed). A creator that died midway leaves a job that
// is not ready; calling CreateJob again with the same input completes it. Until it is ready the
// job's keys expire after Options.Retention (a creation nobody completes leaves nothing behind);
// then they carry no TTL until the job settles (see ExpireSettled).
//
// CreateJob is CreateJobStream over a slice; for very large jobs, prefer CreateJobStream with
// packed numbers, which does not need every batch in memory at once.
func (s *Store) CreateJob(ctx context.Context, job Job, paramSets [][]string, batches []NewBatch, rejected int) (created bool, err error) {
	return s.CreateJobStream(ctx, job, paramSets, len(batches), func(i int) (NewBatch, error) { return batches[i], nil }, rejected)
}

// CreateJobStream is CreateJob for batches pulled one at a time: batch(i) returns batch i,
// 0 <= i < count, and the job's records are the ones CreateJob writes for the slice of those
// batches (same validation before the first write, same idempotence and resumption). Only one
// pipeline chunk of batches is held at a time, plus about 1.3 bytes per number for the
// duplicate check (a Bloom filter and the numbers it could not rule out).
//
// batch is called several times for each index, in increasing order within each pass
// (validation, duplicate check, write), never concurrently. It must return the same batch for the
// same index every time (a difference found between passes is an error, and the job is then left
// not ready), and it may reuse the memory of the slices it returned before: the store keeps
// nothing from one call to the next. An error from batch ends the creation and is returned
// wrapped; if it came after the first write, calling CreateJobStream again completes the job.
func (s *Store) CreateJobStream(ctx context.Context, job Job, paramSets [][]string, count int, batch func(i int) (NewBatch, error), rejected int) (created bool, err error) {
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
	if count < 0 {
		return false, invalidf("job %s: negative batch count %d", job.ID, count)
	}
	if count > 0 && batch == nil {
		return false, invalidf("job %s: %d batches but no batch function", job.ID, count)
	}
	now := s.now()
	if job.CreatedAt.IsZero() {
		job.CreatedAt = now
	}
	for _, t := range []struct {
		what string
		t    time.Time
	}{{"send time", job.SendAt}, {"expiry", job.ExpiresAt}, {"creation time", job.CreatedAt}} {
		if err := checkTime(job.ID, t.what, t.t); err != nil {
			return false, err
		}
	}
	if err := job.Window.Validate(); err != nil {
		return false, fmt.Errorf("job %s: %w", job.ID, err)
	}
	switch job.TemplateType {
	case "", TemplateOTP, TemplateNotification, TemplateMarketing:
	default:
		return false, invalidf("job %s: template type %q is not otp, notification or marketing", job.ID, job.TemplateType)
	}
	if len(job.Fingerprint) > maxFingerprintLen {
		return false, invalidf("job %s: fingerprint of %d bytes, longer than %d", job.ID, len(job.Fingerprint), maxFingerprintLen)
	}

	// Validate everything before the first write.
	src := &createSource{job: job.ID, count: count, nparams: len(paramSets), batch: batch}
	total, sum, err := src.scan(ctx, nil)
	if err != nil {
		return false, err
	}
	if err := src.checkDuplicates(ctx, total, sum); err != nil {
		return false, err
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

	// While the job is being created its keys expire after Retention, so that a creation nobody
	// completes leaves nothing behind; once it is ready they carry no TTL until it settles.
	ttlArg := s.retentionArg()

	jk := jobKey(job.ID)
	nonce := newToken()
	begin, err := createBeginScript.Run(ctx, s.rdb, []string{jk}, ttlArg, nonce,
		"app", job.AppID, "sign", job.SignName, "tpl", job.TemplateID, "sender", job.SenderID,
		"ext", job.ExtendCode, "prio", job.Priority, "send_at", msOf(job.SendAt),
		"expires_at", msOf(job.ExpiresAt), "created", msOf(job.CreatedAt),
		"defer_daily", boolArg(job.DeferDailyLimit), "fp", job.Fingerprint,
		"win", job.Window.encode(), "tz", job.Window.TZ, "ttype", job.TemplateType).Int()
	if err != nil {
		return false, wrap("create job "+job.ID, err)
	}
	if begin == 0 {
		return false, nil
	}

	// Params and batches, in chunks; every chunk is refused once another creator took over or
	// the job became ready (so a record already claimed is never overwritten).
	w := &createWriter{s: s, job: job.ID, jk: jk, pk: paramsKey(job.ID), nonce: nonce, ttl: ttlArg,
		params: params, pmode: "d",
		blob: make([]byte, 0, min(count, createChunk)*MaxBatchSize*packedSize)}
	written, wsum, err := src.scan(ctx, func(i int, b *NewBatch, nums []uint64) error {
		w.add(i, b, nums)
		if len(w.bkeys) == createChunk {
			return w.flush(ctx)
		}
		return nil
	})
	for err == nil && (len(w.bkeys) > 0 || w.pfrom < len(params) || w.pmode == "d") {
		err = w.flush(ctx)
	}
	switch {
	case errors.Is(err, errAlreadyCreated):
		return false, nil // another creator finished it
	case err != nil:
		return false, err
	case written != total || wsum != sum:
		return false, src.changed()
	}

	// Register as active before the job becomes ready, so a crash in between leaves it visible
	// to the sweeper rather than invisible.
	if err := touchAddScript.Run(ctx, s.rdb, []string{activeKey}, addZSet, job.ID, msOf(job.CreatedAt), "0").Err(); err != nil {
		return false, wrap("create job "+job.ID+": register active", err)
	}
	if err := s.registerRecent(ctx, job); err != nil {
		return false, err
	}
	lastUse := now
	if job.SendAt.After(lastUse) {
		lastUse = job.SendAt
	}
	if err := touchAddScript.Run(ctx, s.rdb, []string{appsKey}, raiseZSet, job.AppID, lastUse.UnixMilli(), ttlArg).Err(); err != nil {
		return false, wrap("create job "+job.ID+": register app", err)
	}
	fin, err := createFinishScript.Run(ctx, s.rdb, []string{jk}, nonce, total, count, rejected).Int()
	if err != nil {
		return false, wrap("create job "+job.ID+": finish", err)
	}
	if fin < 0 {
		return false, fmt.Errorf("%w: job %s", ErrCreateConflict, job.ID)
	}
	if fin == 1 {
		// The job is ready: its keys lose the creation TTL. An error here is not the caller's:
		// the job exists and runs, and the sweeper (ActiveJobs) removes the TTLs it finds left.
		_ = s.persistJob(ctx, job.ID, count)
	}
	return fin == 1, nil
}

// createSource pulls and checks the batches of a job being created.
type createSource struct {
	job     string
	count   int
	nparams int
	batch   func(i int) (NewBatch, error)
	buf     []uint64 // the parsed numbers of the current batch given as strings
}

// scan pulls every batch in order, checks it (see numbers) and calls fn (when not nil) with it
// and its numbers. It returns how many numbers it saw and a checksum of every batch's param set,
// intl flag and numbers in order, so that passes can tell they saw the same batches.
func (src *createSource) scan(ctx context.Context, fn func(i int, b *NewBatch, nums []uint64) error) (total int, sum uint64, err error) {
	for i := range src.count {
		if i%createChunk == 0 {
			if err := ctx.Err(); err != nil {
				return 0, 0, fmt.Errorf("store: create job %s: %w", src.job, err)
			}
		}
		b, err := src.batch(i)
		if err != nil {
			return 0, 0, fmt.Errorf("store: create job %s: batch %d: %w", src.job, i, err)
		}
		nums, err := src.numbers(i, &b)
		if err != nil {
			return 0, 0, err
		}
		sum = numset.Mix(sum ^ uint64(b.ParamSet)<<1 ^ uint64(len(nums))<<40)
		if b.Intl {
			sum = numset.Mix(sum ^ 1)
		}
		for _, v := range nums {
			sum = numset.Mix(sum ^ v)
		}
		if fn != nil {
			if err := fn(i, &b, nums); err != nil {
				return 0, 0, err
			}
		}
		total += len(nums)
	}
	return total, sum, nil
}

// numbers checks batch i (1..MaxBatchSize numbers given one way, a param set index within the
// param sets, every number E.164) and returns its numbers as E.164 digits. The slice is valid
// until the next call.
func (src *createSource) numbers(i int, b *NewBatch) ([]uint64, error) {
	n, packed := len(b.Numbers), false
	switch {
	case n > 0 && len(b.Packed) > 0:
		return nil, invalidf("job %s: batch %d has both Numbers (%d) and Packed (%d)", src.job, i, n, len(b.Packed))
	case n == 0:
		n, packed = len(b.Packed), true
	}
	if n == 0 || n > MaxBatchSize {
		return nil, invalidf("job %s: batch %d has %d numbers, want 1..%d", src.job, i, n, MaxBatchSize)
	}
	if b.ParamSet < 0 || (b.ParamSet >= src.nparams && !(src.nparams == 0 && b.ParamSet == 0)) {
		return nil, invalidf("job %s: batch %d refers to param set %d, have %d", src.job, i, b.ParamSet, src.nparams)
	}
	if packed {
		for j, v := range b.Packed {
			if err := checkPacked(v); err != nil {
				return nil, fmt.Errorf("job %s: batch %d number %d: %w", src.job, i, j, err)
			}
		}
		return b.Packed, nil
	}
	out := src.buf[:0]
	for j, s := range b.Numbers {
		v, err := ParseE164(s)
		if err != nil {
			return nil, fmt.Errorf("job %s: batch %d number %d: %w", src.job, i, j, err)
		}
		out = append(out, v)
	}
	src.buf = out
	return out, nil
}

// checkPacked checks that v is the digits of an E.164 number (1..15 digits, no leading zero).
func checkPacked(v uint64) error {
	if v != 0 && v <= maxPacked {
		return nil
	}
	if _, err := ParseE164(FormatE164(v)); err != nil {
		return err // the same words as for the string form
	}
	return invalidf("number %s is not E.164", MaskNumber(FormatE164(v)))
}

// checkDuplicates fails when a number occurs more than once in the job, in one or two more passes
// over the batches: a Bloom filter of every number finds the numbers that may have occurred
// before (every repeat, and a fraction of a percent of the others); a number found so twice has
// certainly occurred twice, and otherwise a last pass counts the occurrences of the suspects
// exactly. total and sum are those of the validation pass.
func (src *createSource) checkDuplicates(ctx context.Context, total int, sum uint64) error {
	seen := numset.NewBloom(total)
	var suspects numset.Set
	n, s, err := src.scan(ctx, func(_ int, _ *NewBatch, nums []uint64) error {
		for _, v := range nums {
			if seen.Add(v) && !suspects.Add(v) {
				return src.duplicate(v)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != total || s != sum {
		return src.changed()
	}
	if suspects.Len() == 0 {
		return nil
	}
	var counted numset.Set // the suspects met once in this pass
	n, s, err = src.scan(ctx, func(_ int, _ *NewBatch, nums []uint64) error {
		for _, v := range nums {
			if suspects.Has(v) && !counted.Add(v) {
				return src.duplicate(v)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != total || s != sum {
		return src.changed()
	}
	return nil
}

func (src *createSource) duplicate(v uint64) error {
	return invalidf("job %s: number %s appears more than once", src.job, MaskNumber(FormatE164(v)))
}

func (src *createSource) changed() error {
	return invalidf("job %s: the batch function returned different batches on different passes (it must return the same batch for the same index)", src.job)
}

// createWriter gathers batch records into chunks and writes each chunk (with the next chunk of
// param sets) in one createWriteScript call.
type createWriter struct {
	s                 *Store
	job, jk, pk       string
	nonce, ttl, pmode string
	params            []any
	pfrom, from       int // next param set to write; first batch of the gathered chunk
	bkeys             []string
	bargs             []any
	args              []any
	blob              []byte // packed numbers of the gathered chunk (reused once it is written)
}

// add gathers batch i, whose checked numbers are nums.
func (w *createWriter) add(i int, b *NewBatch, nums []uint64) {
	start := len(w.blob)
	for _, v := range nums {
		w.blob = packNumber(w.blob, v)
	}
	w.bkeys = append(w.bkeys, batchKey(w.job, i))
	w.bargs = append(w.bargs, w.blob[start:len(w.blob):len(w.blob)], pendingStates[:len(nums)], b.ParamSet, boolArg(b.Intl))
}

// flush writes the gathered batches and the next chunk of param sets. errAlreadyCreated: the job
// is ready (another creator finished it); ErrCreateConflict: another creator took over.
func (w *createWriter) flush(ctx context.Context) error {
	pto := min(w.pfrom+createChunk, len(w.params))
	to := w.from + len(w.bkeys)
	keys := make([]string, 0, 2+len(w.bkeys))
	keys = append(append(keys, w.jk, w.pk), w.bkeys...)
	w.args = append(w.args[:0], w.nonce, w.ttl, w.pmode, pto-w.pfrom)
	w.args = append(w.args, w.params[w.pfrom:pto]...)
	w.args = append(w.args, w.bargs...)
	res, err := createWriteScript.Run(ctx, w.s.rdb, keys, w.args...).Int()
	if err != nil {
		return wrap(fmt.Sprintf("create job %s: batches %d..%d", w.job, w.from, to-1), err)
	}
	switch res {
	case 0:
		return errAlreadyCreated
	case -1:
		return fmt.Errorf("%w: job %s", ErrCreateConflict, w.job)
	}
	w.pmode, w.pfrom, w.from = "a", pto, to
	clear(w.args) // drop the references to this chunk's values
	clear(w.bargs)
	w.bkeys, w.bargs, w.blob = w.bkeys[:0], w.bargs[:0], w.blob[:0]
	return nil
}
