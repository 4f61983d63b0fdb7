package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The serial index maps a Tencent SerialNo to the number it was sent to ("<job>|<batch>|<idx>"),
// so that receipts find their number. It is written once per accepted number, so its layout is
// chosen for the send path: the serials a worker learns on one day go to that day's buckets
// (UTC days), spread over serialShards hashes by a hash of the serial,
//
//	sms:sn:{sn<shard>}:<yyyymmdd>   hash  SerialNo -> "<job>|<batch>|<idx>"
//
// so that the ~200 serials of a SendSms reply are written with at most serialShards HSETs (and
// as many PEXPIREs), one pipeline, instead of a key per serial. A bucket expires at the end of
// its day + Options.Retention: an entry lives at least Retention and at most one day longer.
//
// A lookup knows the shard from the serial but not the day it was indexed, so it probes the
// shard's buckets that can still exist (the newest entry wins: the send path overwrites, so a
// later write is the later word), bounded by the receipt's time when it is known: a serial is
// indexed before its receipt, so nothing after the receipt's day (+1 for clock skew) can hold it.
// The probes of a whole page go out in pipelines of HMGETs, one per bucket: first the receipt's
// day and the next, then, for the serials not found there, the older days.
//
// The hash tag is the shard alone, so every day of one shard shares a slot: IndexEvidenceSerials
// checks all of them and writes in one script (set if absent across days, Cluster-safe), and the
// index spreads over serialShards slots of a Cluster.

// serialShards is the number of hashes one day of the serial index is spread over: the most
// HSETs one batch's serials cost. Changing it moves every serial to another key (the index of
// the old layout is no longer found): it is part of the layout.
const serialShards = 16

// dayMs is one UTC day in milliseconds (the serial index's bucket width).
const dayMs = int64(24 * time.Hour / time.Millisecond)

// serialShard is the shard of a serial: FNV-1a (32 bit) of its bytes modulo serialShards.
func serialShard(serial string) int {
	h := uint32(2166136261)
	for i := 0; i < len(serial); i++ {
		h ^= uint32(serial[i])
		h *= 16777619
	}
	return int(h % serialShards)
}

// dayOf is the UTC day number of t (days since the Unix epoch).
func dayOf(t time.Time) int64 {
	ms := t.UnixMilli()
	d := ms / dayMs
	if ms < 0 && ms%dayMs != 0 {
		d--
	}
	return d
}

// serialTTL is the TTL that makes a bucket of day expire at the end of that day + Retention.
func (s *Store) serialTTL(day int64, now time.Time) time.Duration {
	ms := (day+1)*dayMs + s.opts.Retention.Milliseconds() - now.UnixMilli()
	return time.Duration(max(ms, 1)) * time.Millisecond
}

// serialDays is the range of day buckets [lo, hi] that may hold a serial whose receipt came at
// at (zero: unknown): from at's day + 1 (a worker clock ahead of Tencent's) or, at most, tomorrow,
// down to the oldest bucket that has not expired. hi < lo means none can.
func (s *Store) serialDays(now, at time.Time) (lo, hi int64) {
	lo = dayOf(now.Add(-s.opts.Retention))
	hi = dayOf(now) + 1
	if !at.IsZero() {
		hi = min(hi, dayOf(at)+1)
	}
	return lo, hi
}

// SerialRef is where the serial index (IndexSerials) points a SerialNo: number Index of a job's
// batch.
type SerialRef struct {
	BatchRef
	Index int
}

func (r SerialRef) value() string {
	return r.Job + "|" + strconv.Itoa(r.Batch) + "|" + strconv.Itoa(r.Index)
}

// parseSerialRef parses an index entry; an entry that does not parse is the zero SerialRef.
func parseSerialRef(v string) SerialRef {
	job, batch, idx, ok := splitRef(v)
	if !ok {
		return SerialRef{}
	}
	return SerialRef{BatchRef: BatchRef{Job: job, Batch: batch}, Index: idx}
}

// ParseSessionContext parses a SessionContext made by SessionContext. ok is false for anything
// else (another sender's SessionContext, garbage).
func ParseSessionContext(s string) (job string, batch, attempt int, ok bool) {
	return splitRef(s)
}

// indexSerialsScript writes serials into one bucket of the serial index and sets the bucket's
// TTL in the same step, so that a bucket is never left without its TTL (one key, so one slot).
// The HSETs take 500 pairs at a time (unpack's limit on the Lua stack).
//
// Input:
// KEYS[1] -> sms:sn:{sn<shard>}:<yyyymmdd>, today's bucket of the shard
// ARGV[1] -> TTL ms of the bucket
// ARGV[2..] -> pairs: serial, "<job>|<batch>|<idx>"
// Output:
// Returns the number of serials new to the bucket
var indexSerialsScript = redis.NewScript(`
local n = 0
for i = 2, #ARGV, 1000 do
  n = n + redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`)

// IndexSerials writes SerialNo -> job/batch/index for receipts (call before Commit): into today's
// buckets of the serial index (see the layout above), one script per shard touched (an HSET and
// its PEXPIRE, atomic per bucket), in one pipeline: one round trip per node of a Cluster, whose
// buckets lie in several slots. It overwrites: a SendSms reply is the authority on its serials.
// Idempotent; results without SerialNo are skipped.
func (s *Store) IndexSerials(ctx context.Context, job string, batch int, results []NumberResult) error {
	if err := checkJobBatch(job, batch); err != nil {
		return err
	}
	op := fmt.Sprintf("index serials of %s/%d", job, batch)
	var shards [serialShards][]any
	prefix := job + "|" + strconv.Itoa(batch) + "|"
	n := 0
	for _, r := range results {
		if r.SerialNo == "" {
			continue
		}
		sh := serialShard(r.SerialNo)
		if shards[sh] == nil {
			shards[sh] = make([]any, 1, 1+4*len(results)/serialShards+4)
		}
		shards[sh] = append(shards[sh], r.SerialNo, prefix+strconv.Itoa(r.Index))
		n++
	}
	if n == 0 {
		return nil
	}
	now := s.now()
	day := dayOf(now)
	ttl := strconv.FormatInt(s.serialTTL(day, now).Milliseconds(), 10)
	type call struct {
		key  string
		args []any // ttl, then the shard's pairs
		cmd  *redis.Cmd
	}
	calls := make([]call, 0, serialShards)
	for sh, args := range shards {
		if len(args) > 0 {
			args[0] = ttl
			calls = append(calls, call{key: serialKey(sh, day), args: args})
		}
	}
	// EVALSHA first (the send path: the script's body is not sent with every batch). A pipeline
	// cannot fall back on NOSCRIPT by itself: the calls a node answered NOSCRIPT (its script
	// cache is empty: a restart, a failover) go again as EVAL, safely (the script is idempotent).
	for _, eval := range []bool{false, true} {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range calls {
				c := &calls[i]
				switch {
				case !eval:
					c.cmd = indexSerialsScript.EvalSha(ctx, p, []string{c.key}, c.args...)
				case isNoScript(c.cmd.Err()):
					c.cmd = indexSerialsScript.Eval(ctx, p, []string{c.key}, c.args...)
				}
			}
			return nil
		})
		if err == nil {
			return nil
		}
		for _, c := range calls {
			if err := c.cmd.Err(); err != nil && !isNoScript(err) {
				return wrap(op, err)
			}
		}
		if eval {
			return wrap(op, err)
		}
	}
	return nil
}

// isNoScript reports whether err is Redis's NOSCRIPT (the digest of an EVALSHA is not cached).
func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}

// serialEntry is the index entry found for a serial: ok is false when it is not indexed.
type serialEntry struct {
	value string
	ok    bool
}

// lookupSerials returns the index entry of each serial (at[i] is the time of its receipt, zero
// when unknown; at may be nil). Empty serials are not looked up. The newest entry of a serial
// wins. Two rounds, each one pipeline of HMGETs (one per bucket, with every serial that may be in
// it): first the two newest days of each serial's range (the receipt's day and the next, where
// nearly every serial is: receipts come within minutes of the send), then the older days of the
// serials not found.
func (s *Store) lookupSerials(ctx context.Context, serials []string, at []time.Time) ([]serialEntry, error) {
	type want struct {
		i       int // index in serials
		shard   int
		lo, hi  int64
		bestDay int64
	}
	type bucket struct {
		shard int
		day   int64
	}
	type probe struct {
		bucket
		fields []string
		who    []int // index in wants of each field
		cmd    *redis.SliceCmd
	}
	now := s.now()
	out := make([]serialEntry, len(serials))
	wants := make([]want, 0, len(serials))
	for i, sn := range serials {
		if sn == "" {
			continue
		}
		var t time.Time
		if i < len(at) {
			t = at[i]
		}
		lo, hi := s.serialDays(now, t)
		if hi >= lo {
			wants = append(wants, want{i: i, shard: serialShard(sn), lo: lo, hi: hi})
		}
	}
	todo := make([]int, len(wants))
	for k := range todo {
		todo[k] = k
	}
	for round := 0; round < 2 && len(todo) > 0; round++ {
		pos := map[bucket]int{}
		var probes []*probe
		for _, k := range todo {
			w := &wants[k]
			top, bottom := w.hi, max(w.lo, w.hi-1)
			if round == 1 {
				top, bottom = w.hi-2, w.lo
			}
			for d := top; d >= bottom; d-- {
				b := bucket{w.shard, d}
				j, ok := pos[b]
				if !ok {
					j = len(probes)
					pos[b] = j
					probes = append(probes, &probe{bucket: b})
				}
				p := probes[j]
				p.fields = append(p.fields, serials[w.i])
				p.who = append(p.who, k)
			}
		}
		if len(probes) == 0 {
			break
		}
		if _, err := s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for _, p := range probes {
				p.cmd = pl.HMGet(ctx, serialKey(p.shard, p.day), p.fields...)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		for _, p := range probes {
			for j, v := range p.cmd.Val() {
				if v == nil {
					continue
				}
				w := &wants[p.who[j]]
				if e := &out[w.i]; !e.ok || p.day > w.bestDay {
					*e, w.bestDay = serialEntry{value: replyString(v), ok: true}, p.day
				}
			}
		}
		// Round 2: the serials not found whose range has older days.
		next := todo[:0]
		for _, k := range todo {
			if w := wants[k]; !out[w.i].ok && w.hi-2 >= w.lo {
				next = append(next, k)
			}
		}
		todo = next
	}
	return out, nil
}

// SerialRefs returns where each of serials is indexed. Serials that are not indexed (never
// learned, or expired) are absent from the map; empty serials are skipped. A serial whose index
// entry does not parse maps to the zero SerialRef: indexed, but to nothing anybody can match
// (treat it as taken).
//
// Reconcile uses it to tell a receipt of its own lost send from another send's receipt: a receipt
// whose serial is indexed elsewhere belongs to that send and is no evidence. The index is read at
// call time, so a serial indexed after its receipt was filed as unmatched is seen. Every bucket
// within retention is probed (no receipt time bounds them).
func (s *Store) SerialRefs(ctx context.Context, serials []string) (map[string]SerialRef, error) {
	entries, err := s.lookupSerials(ctx, serials, nil)
	if err != nil {
		return nil, wrap("serial refs", err)
	}
	out := make(map[string]SerialRef, len(serials))
	for i, e := range entries {
		if e.ok {
			out[serials[i]] = parseSerialRef(e.value)
		}
	}
	return out, nil
}

// indexEvidenceScript indexes serials of one shard only where they are not indexed yet, in any
// day bucket that still exists (or already point to the same number: the entry is written again
// into today's bucket, which extends its life).
//
// Input:
// KEYS[1..] -> sms:sn:{sn<shard>}:<yyyymmdd>, the shard's day buckets, newest first
// ARGV[1] -> position in KEYS of today's bucket
// ARGV[2] -> TTL ms of today's bucket
// ARGV[3..] -> pairs: serial, "<job>|<batch>|<idx>"
// Output:
// Returns one reply per pair, in order: "" if the serial now points to that number, else the entry
// it points to
var indexEvidenceScript = redis.NewScript(`
local today = KEYS[tonumber(ARGV[1])]
local out, wrote = {}, false
for i = 3, #ARGV, 2 do
  local cur = false
  for k = 1, #KEYS do
    cur = redis.call('HGET', KEYS[k], ARGV[i])
    if cur then break end
  end
  if cur and cur ~= ARGV[i + 1] then
    out[#out + 1] = cur
  else
    redis.call('HSET', today, ARGV[i], ARGV[i + 1])
    wrote = true
    out[#out + 1] = ''
  end
end
if wrote then redis.call('PEXPIRE', today, ARGV[2]) end
return out
`)

// IndexEvidenceSerials indexes the SerialNo of each result to job/batch/result.Index like
// IndexSerials, but only where the serial is not indexed yet in any day bucket (set if absent,
// atomically per shard: one script over the shard's buckets): a receipt taken as reconcile
// evidence must never take over a serial that another send owns. A serial already indexed to
// this very number counts as indexed (its entry is written again today, extending its life).
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
	var shards [serialShards][]string // serial, ref pairs
	for _, r := range results {
		if r.SerialNo == "" {
			continue
		}
		sh := serialShard(r.SerialNo)
		ref := SerialRef{BatchRef: BatchRef{Job: job, Batch: batch}, Index: r.Index}
		shards[sh] = append(shards[sh], r.SerialNo, ref.value())
	}
	now := s.now()
	today := dayOf(now)
	lo, hi := s.serialDays(now, time.Time{})
	ttl := strconv.FormatInt(s.serialTTL(today, now).Milliseconds(), 10)
	type pending struct {
		pairs []string
		cmd   *redis.Cmd
	}
	var cmds []pending
	// One script call per shard touched (each shard is its own slot). Eval, not EvalSha: a
	// pipeline cannot fall back on NOSCRIPT (and this path is rare).
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for sh, pairs := range shards {
			if len(pairs) == 0 {
				continue
			}
			keys := make([]string, 0, hi-lo+1)
			for d := hi; d >= lo; d-- {
				keys = append(keys, serialKey(sh, d))
			}
			args := make([]any, 0, 2+len(pairs))
			args = append(args, hi-today+1, ttl)
			for _, v := range pairs {
				args = append(args, v)
			}
			cmds = append(cmds, pending{pairs, indexEvidenceScript.Eval(ctx, p, keys, args...)})
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	conflicts := map[string]SerialRef{}
	for _, c := range cmds {
		vs, err := c.cmd.StringSlice()
		if err != nil {
			return nil, wrap(op, err)
		}
		for i, v := range vs {
			if v != "" && 2*i < len(c.pairs) {
				conflicts[c.pairs[2*i]] = parseSerialRef(v)
			}
		}
	}
	return conflicts, nil
}
