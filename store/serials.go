package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// SerialRef is where the serial index (IndexSerials) points a SerialNo: number Index of a job's
// batch.
type SerialRef struct {
	BatchRef
	Index int
}

func (r SerialRef) value() string {
	return r.Job + "|" + strconv.Itoa(r.Batch) + "|" + strconv.Itoa(r.Index)
}

// ParseSessionContext parses a SessionContext made by SessionContext. ok is false for anything
// else (another sender's SessionContext, garbage).
func ParseSessionContext(s string) (job string, batch, attempt int, ok bool) {
	return splitRef(s)
}

// SerialRefs returns where each of serials is indexed. Serials that are not indexed (never
// learned, or expired) are absent from the map; empty serials are skipped. A serial whose index
// entry does not parse maps to the zero SerialRef: indexed, but to nothing anybody can match
// (treat it as taken).
//
// Reconcile uses it to tell a receipt of its own lost send from another send's receipt: a receipt
// whose serial is indexed elsewhere belongs to that send and is no evidence. The index is read at
// call time, so a serial indexed after its receipt was filed as unmatched is seen.
func (s *Store) SerialRefs(ctx context.Context, serials []string) (map[string]SerialRef, error) {
	cmds := make(map[string]*redis.StringCmd, len(serials))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, sn := range serials {
			if sn == "" {
				continue
			}
			if _, ok := cmds[sn]; !ok {
				cmds[sn] = p.Get(ctx, serialKey(sn))
			}
		}
		return nil
	})
	if err != nil && !isNil(err) {
		return nil, wrap("serial refs", err)
	}
	out := make(map[string]SerialRef, len(cmds))
	for sn, c := range cmds {
		v, err := c.Result()
		if isNil(err) {
			continue
		}
		if err != nil {
			return nil, wrap("serial refs", err)
		}
		job, batch, idx, ok := splitRef(v)
		if !ok {
			out[sn] = SerialRef{}
			continue
		}
		out[sn] = SerialRef{BatchRef: BatchRef{Job: job, Batch: batch}, Index: idx}
	}
	return out, nil
}

// indexEvidenceScript indexes a serial only when it is not indexed yet (or already points to the
// same number, whose TTL it extends). KEYS[1] serial key. ARGV[1] "<job>|<batch>|<idx>", ARGV[2]
// ttl ms. Returns "" when the key now holds ARGV[1], else the value it holds.
var indexEvidenceScript = redis.NewScript(prelude + `
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ''
end
if v == ARGV[1] then
  touch(KEYS[1], ARGV[2])
  return ''
end
return v
`)

// IndexEvidenceSerials indexes the SerialNo of each result to job/batch/result.Index like
// IndexSerials, but only where the serial is not indexed yet (set if absent, atomically per
// serial): a receipt taken as reconcile evidence must never take over a serial that another send
// owns. A serial already indexed to this very number counts as indexed (its TTL is extended).
// It returns the serials that are indexed elsewhere, with where they point (see SerialRefs for
// entries that do not parse); those receipts are no evidence for this batch. Results without a
// SerialNo are skipped.
//
// IndexSerials (the send path) still overwrites: a SendSms reply is the authority on its serials.
func (s *Store) IndexEvidenceSerials(ctx context.Context, job string, batch int, results []NumberResult) (map[string]SerialRef, error) {
	if err := checkJobBatch(job, batch); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("index evidence serials of %s/%d", job, batch)
	type pending struct {
		serial string
		cmd    *redis.Cmd
	}
	var cmds []pending
	// One script call per serial (serial keys carry no hash tag: each is its own slot). Eval, not
	// EvalSha: a pipeline cannot fall back on NOSCRIPT.
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, r := range results {
			if r.SerialNo == "" {
				continue
			}
			ref := SerialRef{BatchRef: BatchRef{Job: job, Batch: batch}, Index: r.Index}
			cmds = append(cmds, pending{r.SerialNo,
				indexEvidenceScript.Eval(ctx, p, []string{serialKey(r.SerialNo)}, ref.value(), s.retentionArg())})
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	conflicts := map[string]SerialRef{}
	for _, c := range cmds {
		v, err := c.cmd.Text()
		if err != nil {
			return nil, wrap(op, err)
		}
		if v == "" {
			continue
		}
		if j, b, idx, ok := splitRef(v); ok {
			conflicts[c.serial] = SerialRef{BatchRef: BatchRef{Job: j, Batch: b}, Index: idx}
		} else {
			conflicts[c.serial] = SerialRef{}
		}
	}
	return conflicts, nil
}
