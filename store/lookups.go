package store

// Receipt lookups by number: the recovery of receipts whose pulled page was lost (a kill -9
// between PullSmsSendStatus's reply and the save of its page). Numbers sent some minutes ago that
// still have no receipt are looked up by number (PullSmsSendStatusByPhoneNumber, which does not
// consume), a few rounds at most. Each round's progress is kept in the batch record, so every
// number costs one lookup per round, even across crashes:
//
//	sms:{J}:b:<n>          hash  lr: lookup rounds done; lx: numbers before this index are looked
//	                             up in the round under way; ln: when the next round is due (unix
//	                             ms), -1 when none is (absent: the first round is due Age after
//	                             the send, the caller's sentBefore)

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AwaitingBatch is a batch with numbers sent and still without a receipt, due for a lookup round
// (AwaitingReceipts).
type AwaitingBatch struct {
	BatchRef
	App     string
	Attempt int       // the attempt that sent them (SessionContext "<job>|<batch>|<attempt>")
	SentAt  time.Time // the batch's send (claim) time, "at"
	// Round is the lookup round due (1 for the first).
	Round int
	// Numbers are the sent numbers without a receipt that the round has not looked up yet, in
	// index order (none when the round got past every one of them but was not marked done).
	// UnknownNumber.Attempt and SentAt are the batch's.
	Numbers []UnknownNumber
	// Partial is true when Numbers was cut short by the caller's bound: the round is not over
	// after them.
	Partial bool
}

// AwaitingReceipts returns, oldest send first, the batches of active jobs holding numbers sent
// (state 's': accepted, no receipt yet) whose lookup round is due: the first round for batches
// sent at or before sentBefore, a later one once its time (RecordLookup) has come. At most
// maxNumbers numbers in all (the last batch is cut short, and Partial); at least one batch when
// any is due. A batch whose round was interrupted after its last number is listed without
// numbers, for the round to be marked done. Jobs whose counters say every sent number has its receipt are skipped unread.
func (s *Store) AwaitingReceipts(ctx context.Context, sentBefore time.Time, maxNumbers int) ([]AwaitingBatch, error) {
	if maxNumbers <= 0 {
		return nil, invalidf("awaiting receipts: maxNumbers %d, want at least 1", maxNumbers)
	}
	ids, err := s.rdb.ZRange(ctx, activeKey, 0, -1).Result()
	if err != nil {
		return nil, wrap("awaiting receipts: active jobs", err)
	}
	type jobInfo struct {
		app     string
		batches int
	}
	jobs := map[string]jobInfo{}
	var order []string
	const jobChunk = 500
	for from := 0; from < len(ids); from += jobChunk {
		part := ids[from:min(from+jobChunk, len(ids))]
		cmds := make([]*redis.SliceCmd, len(part))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				cmds[i] = p.HMGet(ctx, jobKey(id), "ready", "app", "batches", "sent", "delivered", "undelivered")
			}
			return nil
		}); err != nil {
			return nil, wrap("awaiting receipts: jobs", err)
		}
		for i, id := range part {
			v := cmds[i].Val()
			if len(v) < 6 || replyString(v[0]) != "1" {
				continue
			}
			waiting := parseInt(replyString(v[3])) - parseInt(replyString(v[4])) - parseInt(replyString(v[5]))
			if waiting <= 0 {
				continue
			}
			jobs[id] = jobInfo{app: replyString(v[1]), batches: int(parseInt(replyString(v[2])))}
			order = append(order, id)
		}
	}

	// Phase 1: the batches due, from two small fields of each.
	type cand struct {
		job   string
		batch int
		at    int64
	}
	var due []cand
	now := s.now().UnixMilli()
	cutoff := sentBefore.UnixMilli()
	const batchChunk = 1000
	for _, id := range order {
		n := jobs[id].batches
		for from := 0; from < n; from += batchChunk {
			to := min(from+batchChunk, n)
			cmds := make([]*redis.SliceCmd, to-from)
			if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for b := from; b < to; b++ {
					cmds[b-from] = p.HMGet(ctx, batchKey(id, b), "at", "ln")
				}
				return nil
			}); err != nil {
				return nil, wrap("awaiting receipts: batches of "+id, err)
			}
			for i, c := range cmds {
				v := c.Val()
				at, ln := replyString(v[0]), replyString(v[1])
				if at == "" {
					continue // never sent
				}
				atMs := parseInt(at)
				if ln == "" && atMs > cutoff {
					continue // the first round is not due yet
				}
				if ln != "" && (parseInt(ln) < 0 || parseInt(ln) > now) {
					continue // no more rounds, or the next is not due yet
				}
				due = append(due, cand{job: id, batch: from + i, at: atMs})
			}
		}
	}
	slices.SortStableFunc(due, func(a, b cand) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})

	// Phase 2: the numbers of the due batches, oldest first, until the bound.
	var out []AwaitingBatch
	left := maxNumbers
	const readChunk = 100
	for from := 0; from < len(due) && left > 0; from += readChunk {
		part := due[from:min(from+readChunk, len(due))]
		cmds := make([]*redis.SliceCmd, len(part))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range part {
				cmds[i] = p.HMGet(ctx, batchKey(c.job, c.batch), "num", "st", "a", "lr", "lx")
			}
			return nil
		}); err != nil {
			return nil, wrap("awaiting receipts: batch records", err)
		}
		for i, c := range part {
			if left == 0 {
				break
			}
			v := cmds[i].Val()
			blob, st := replyString(v[0]), replyString(v[1])
			attempt := int(parseInt(replyString(v[2])))
			rounds, next := int(parseInt(replyString(v[3]))), int(parseInt(replyString(v[4])))
			sentAt := time.UnixMilli(c.at)
			ab := AwaitingBatch{BatchRef: BatchRef{Job: c.job, Batch: c.batch}, App: jobs[c.job].app,
				Attempt: attempt, SentAt: sentAt, Round: rounds + 1}
			anySent := false
			for idx := range numbersIn(st, Sent) {
				anySent = true
				if idx < next {
					continue // looked up in this round already
				}
				if left == 0 {
					ab.Partial = true
					break
				}
				ab.Numbers = append(ab.Numbers, UnknownNumber{Index: idx, Number: unpackAt(blob, idx), Attempt: attempt, SentAt: sentAt})
				left--
			}
			// A batch with nothing awaited is left out; one whose round got past every number it
			// awaits is listed without numbers, so that the round is marked done.
			if len(ab.Numbers) > 0 || (anySent && !ab.Partial) {
				out = append(out, ab)
			}
		}
	}
	return out, nil
}

// LookupMark is how far a batch's lookup round got (RecordLookup).
type LookupMark struct {
	// Round is the round (AwaitingBatch.Round).
	Round int
	// Next: the numbers at indexes below Next are looked up in this round.
	Next int
	// Done is true when the round is over; NextDue is then when the next round is due (zero:
	// no more rounds).
	Done    bool
	NextDue time.Time
}

// recordLookupScript records a batch's lookup progress.
//
// Input:
// KEYS[1] -> sms:{<job>}:b:<n>, the batch record
// ARGV[1] -> the round
// ARGV[2] -> mode: 'd' round done, 'p' progress
// ARGV[3] -> next index (mode 'p'), or next due unix ms, -1 for none (mode 'd')
// Output:
// Returns 1 if recorded
// Returns 0 if the batch is gone or the round was already done (a stale mark)
var recordLookupScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local done = tonumber(redis.call('HGET', KEYS[1], 'lr') or '0')
local round = tonumber(ARGV[1])
if done >= round then return 0 end
if ARGV[2] == 'd' then
  redis.call('HSET', KEYS[1], 'lr', ARGV[1], 'ln', ARGV[3])
  redis.call('HDEL', KEYS[1], 'lx')
else
  redis.call('HSET', KEYS[1], 'lx', ARGV[3])
end
return 1
`)

// RecordLookup records how far the lookup round m.Round of a batch got. It is idempotent, and a
// mark of a round already done changes nothing; it never creates a batch record that expired.
// (It leaves TTLs alone: a lookup is no progress of the job.)
func (s *Store) RecordLookup(ctx context.Context, job string, batch int, m LookupMark) error {
	if err := checkJobBatch(job, batch); err != nil {
		return err
	}
	if m.Round < 1 || m.Next < 0 {
		return invalidf("lookup mark of %s/%d: round %d, next %d", job, batch, m.Round, m.Next)
	}
	mode, arg := "p", strconv.Itoa(m.Next)
	if m.Done {
		mode, arg = "d", "-1"
		if !m.NextDue.IsZero() {
			arg = strconv.FormatInt(m.NextDue.UnixMilli(), 10)
		}
	}
	if err := recordLookupScript.Run(ctx, s.rdb, []string{batchKey(job, batch)}, m.Round, mode, arg).Err(); err != nil {
		return wrap(fmt.Sprintf("record lookup of %s/%d", job, batch), err)
	}
	return nil
}
