package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Recipient states of a report row (RecipientRecord.State): a number's state byte by name.
const (
	RecipientPending     = "pending"     // not sent yet (or given back after a call that sent nothing)
	RecipientInFlight    = "inflight"    // claimed by a send attempt now
	RecipientSent        = "sent"        // accepted by Tencent, no receipt yet
	RecipientFailed      = "failed"      // refused (Code says why) or failed without a call (expiry, job-fatal code)
	RecipientUnknown     = "unknown"     // the send's outcome is not known yet (reconcile decides)
	RecipientCancelled   = "cancelled"   // cancelled before it was sent
	RecipientDelivered   = "delivered"   // a receipt said delivered
	RecipientUndelivered = "undelivered" // a receipt said not delivered
	RecipientSuppressed  = "suppressed"  // on the suppression list: never sent
)

// RecipientStates lists the recipient states in the order of the state bytes' table.
var RecipientStates = []string{RecipientPending, RecipientInFlight, RecipientSent, RecipientFailed,
	RecipientUnknown, RecipientCancelled, RecipientDelivered, RecipientUndelivered, RecipientSuppressed}

// recipientState names a state byte; "" for 'r' (the number moved to a retry batch, where it has
// its row).
func recipientState(b byte) string {
	switch b {
	case 'p':
		return RecipientPending
	case 'i':
		return RecipientInFlight
	case 's':
		return RecipientSent
	case 'f':
		return RecipientFailed
	case 'u':
		return RecipientUnknown
	case 'c':
		return RecipientCancelled
	case 'D':
		return RecipientDelivered
	case 'U':
		return RecipientUndelivered
	case byte(Suppressed):
		return RecipientSuppressed
	}
	return ""
}

// RecipientRecord is what the store knows about one recipient of a job (one row of a report).
type RecipientRecord struct {
	Number string // E.164
	Batch  int    // the batch record that holds the number's current state
	Index  int    // its position in that batch
	State  string // one of RecipientStates
	// SerialNo is Tencent's serial of the send ("" when not sent, or settled without one).
	SerialNo string
	// Code is the send code: "Ok" for an accepted number, the failure code of a failed one (an
	// expiry is ExpiredCode), the code of an unknown outcome when the call gave one, else "".
	Code string
	// Fee is the billed segments of an accepted number; FeeKnown is false when it is not known
	// (not sent, or settled by evidence without the send's reply).
	Fee      int64
	FeeKnown bool
	// ReceiptStatus is the receipt's ReportStatus (SUCCESS, FAIL, ...; "" without a receipt) and
	// ReceiptDescription its Description.
	ReceiptStatus, ReceiptDescription string
	SentAt                            time.Time // launch of the attempt that sent it; zero when not sent
	ReceivedAt                        time.Time // the receipt's UserReceiveTime; zero without one
}

// recipientChunk is how many batch records Recipients reads per round trip: about 64 x 200
// numbers, so a report of any size holds at most that many records in memory.
const recipientChunk = 64

// Recipients calls fn with every recipient of a job, batch by batch in index order, reading
// recipientChunk batch records per round trip, so memory stays bounded whatever the job's size.
// A number moved to a retry batch is reported once, in the batch that holds its latest state.
// fn's error stops the iteration and is returned. ErrNotFound when the job does not exist.
func (s *Store) Recipients(ctx context.Context, job string, fn func(RecipientRecord) error) error {
	if err := checkID("job id", job); err != nil {
		return err
	}
	h, err := s.rdb.HMGet(ctx, jobKey(job), "ready", "batches", "fail").Result()
	if err != nil {
		return wrap("recipients of "+job, err)
	}
	if replyString(h[0]) != "1" {
		return fmt.Errorf("%w: %s", ErrNotFound, job)
	}
	n := int(parseInt(replyString(h[1])))
	jobFail := replyString(h[2])
	var lines []string
	var rcs []string
	for from := 0; from < n; from += recipientChunk {
		to := min(from+recipientChunk, n)
		cmds := make([]*redis.SliceCmd, to-from)
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := from; i < to; i++ {
				cmds[i-from] = p.HMGet(ctx, batchKey(job, i), "num", "st", "at", "fd", "fc", "sr", "rc")
			}
			return nil
		}); err != nil {
			return wrap(fmt.Sprintf("recipients of %s: batches %d..%d", job, from, to-1), err)
		}
		codes, err := s.failureCodes(ctx, job, from, cmds)
		if err != nil {
			return err
		}
		for i, c := range cmds {
			v := c.Val()
			blob, st := replyString(v[0]), replyString(v[1])
			at, fd, fc := parseMs(replyString(v[2])), replyString(v[3]), replyString(v[4])
			lines = splitLines(lines, replyString(v[5]))
			rcs = splitLines(rcs, replyString(v[6]))
			batch := from + i
			for idx := 0; idx < len(st) && (idx+1)*packedSize <= len(blob); idx++ {
				state := recipientState(st[idx])
				if state == "" {
					continue
				}
				r := RecipientRecord{Number: unpackAt(blob, idx), Batch: batch, Index: idx, State: state}
				var sr, rc string
				if idx < len(lines) {
					sr = lines[idx]
				}
				if idx < len(rcs) {
					rc = rcs[idx]
				}
				fillRecipient(&r, at, fd, sr, rc)
				if r.State == RecipientFailed {
					r.Code = firstOf(codes[codeRef(batch, idx)], fc, jobFail)
				}
				if err := fn(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fillRecipient fills r's send and receipt columns from its batch's launch time at, common fee
// fd and the number's sr and rc lines (see results.go).
func fillRecipient(r *RecipientRecord, at time.Time, fd, sr, rc string) {
	sent := r.State == RecipientSent || r.State == RecipientDelivered || r.State == RecipientUndelivered
	r.SerialNo = part(sr, 0)
	switch r.State {
	case RecipientSent, RecipientDelivered, RecipientUndelivered, RecipientUnknown:
		r.Code = part(sr, 2)
	}
	if sent {
		if r.Code == "" {
			r.Code = okCode
		}
		fee := part(sr, 1)
		if fee == "" {
			fee = fd
		}
		if v, err := strconv.ParseInt(fee, 10, 64); err == nil {
			r.Fee, r.FeeKnown = v, true
		}
		r.SentAt = at
	}
	if r.State == RecipientUnknown {
		r.SentAt = at
	}
	if rc == "" && r.State != RecipientDelivered && r.State != RecipientUndelivered {
		return
	}
	r.ReceivedAt = receivedAt(part(rc, 0), at)
	r.ReceiptDescription = part(rc, 1)
	switch status := part(rc, 2); {
	case status == "-":
	case status != "":
		r.ReceiptStatus = status
	case r.State == RecipientDelivered:
		r.ReceiptStatus = ReceiptSuccess
	case r.State == RecipientUndelivered:
		r.ReceiptStatus = receiptFail
	}
	if r.SerialNo == "" {
		r.SerialNo = part(rc, 3)
	}
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func codeRef(batch, idx int) string { return strconv.Itoa(batch) + ":" + strconv.Itoa(idx) }

// failureCodes reads the codes hash entries of the failed numbers of a chunk of batch records
// (first batch from) that have no batch-wide code: one HMGET, none when there is nothing to read.
func (s *Store) failureCodes(ctx context.Context, job string, from int, cmds []*redis.SliceCmd) (map[string]string, error) {
	var refs []string
	for i, c := range cmds {
		v := c.Val()
		if replyString(v[4]) != "" {
			continue
		}
		for idx := range numbersIn(replyString(v[1]), Failed) {
			refs = append(refs, codeRef(from+i, idx))
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, codesKey(job), refs...).Result()
	if err != nil {
		return nil, wrap("recipients of "+job+": failure codes", err)
	}
	out := make(map[string]string, len(refs))
	for i, ref := range refs {
		if c := replyString(vals[i]); c != "" {
			out[ref] = c
		}
	}
	return out, nil
}
