package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// endOfDay is the end of t's UTC day.
func endOfDay(t time.Time) time.Time {
	return time.UnixMilli((dayOf(t) + 1) * dayMs)
}

func TestSerialKeyLayout(t *testing.T) {
	t.Parallel()
	if got := serialKey(7, dayOf(redistest.T0)); got != "sms:sn:{sn07}:20260301" {
		t.Errorf("serialKey(7, t0) = %q", got)
	}
	if got := serialKey(15, dayOf(redistest.T0.Add(24*time.Hour))); got != "sms:sn:{sn0f}:20260302" {
		t.Errorf("serialKey(15, t0+1d) = %q", got)
	}
	if d := dayOf(time.Date(2026, 3, 1, 23, 59, 59, 999e6, time.FixedZone("CST", 8*3600))); d != dayOf(redistest.T0) {
		t.Errorf("days are UTC days: %d, want %d", d, dayOf(redistest.T0))
	}
	if d := dayOf(time.UnixMilli(-1)); d != -1 {
		t.Errorf("dayOf(-1 ms) = %d", d)
	}
	// Every day of one shard shares the hash tag (IndexEvidenceSerials reads them in one script);
	// the shards have tags of their own (the index spreads over the slots of a Cluster).
	tags := map[string]bool{}
	for sh := range serialShards {
		tag := hashTag(serialKey(sh, dayOf(redistest.T0)))
		for d := range int64(10) {
			if got := hashTag(serialKey(sh, dayOf(redistest.T0)+d-5)); got != tag {
				t.Errorf("shard %d: day %d has tag %q, day 0 %q", sh, d, got, tag)
			}
		}
		tags[tag] = true
	}
	if len(tags) != serialShards {
		t.Errorf("%d distinct tags for %d shards", len(tags), serialShards)
	}
	// The shard function spreads serials evenly enough.
	var n [serialShards]int
	for i := range 16000 {
		n[serialShard(fmt.Sprintf("2433:%d", 600000000000+i*7919))]++
	}
	for sh, c := range n {
		if c < 700 || c > 1300 {
			t.Errorf("shard %d holds %d of 16000 serials", sh, c)
		}
	}
}

// TestIndexSerialsCommands: one batch's serials cost one HSET and one PEXPIRE per shard touched.
func TestIndexSerialsCommands(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		rs := make([]NumberResult, MaxBatchSize)
		for i := range rs {
			rs[i] = NumberResult{Index: i, State: Sent, SerialNo: fmt.Sprintf("2433:%019d", 5_000_000_000+i)}
		}
		rs[7].SerialNo = "" // no serial: skipped
		if err := e.s.IndexSerials(ctx, "j", 3, rs); err != nil {
			t.Fatal(err)
		}
		keys := e.allKeys(t)
		if len(keys) > serialShards {
			t.Fatalf("%d keys for one batch: %v", len(keys), keys)
		}
		total := int64(0)
		for _, k := range keys {
			total += e.rdb.HLen(ctx, k).Val()
			if ttl, want := e.rdb.PTTL(ctx, k).Val(), endOfDay(redistest.T0).Add(DefaultRetention).Sub(redistest.T0); ttl <= want-time.Second || ttl > want {
				t.Errorf("TTL of %s = %v, want %v", k, ttl, want)
			}
		}
		if total != MaxBatchSize-1 {
			t.Errorf("%d entries, want %d", total, MaxBatchSize-1)
		}
		for _, i := range []int{0, 99, 199} {
			if got := e.serialEntry(t, rs[i].SerialNo); got != fmt.Sprintf("j|3|%d", i) {
				t.Errorf("entry of %s = %q", rs[i].SerialNo, got)
			}
		}
		// The send path overwrites (the SendSms reply is the authority).
		if err := e.s.IndexSerials(ctx, "k", 0, []NumberResult{{Index: 5, State: Sent, SerialNo: rs[0].SerialNo}}); err != nil {
			t.Fatal(err)
		}
		if got := e.serialEntry(t, rs[0].SerialNo); got != "k|0|5" {
			t.Errorf("entry after an overwrite = %q", got)
		}
	})
}

// pipelineLog is a go-redis hook that records the command names of every pipeline but those of a
// connection's handshake (CLIENT SETINFO, HELLO, ...).
type pipelineLog struct {
	mu        sync.Mutex
	pipelines [][]string
}

func (l *pipelineLog) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (l *pipelineLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (l *pipelineLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		setup := true
		for i, c := range cmds {
			names[i] = c.Name()
			setup = setup && slices.Contains([]string{"client", "hello", "auth", "select", "ping", "readonly"}, names[i])
		}
		if !setup {
			l.mu.Lock()
			l.pipelines = append(l.pipelines, names)
			l.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

// take returns the pipelines recorded since the last take.
func (l *pipelineLog) take() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pipelines
	l.pipelines = nil
	return p
}

// TestIndexSerialsOnePipeline: IndexSerials is one pipeline of one script call per shard touched
// (no MULTI: the buckets lie in several slots of a Cluster), falls back on EVAL when the script
// cache is empty, and takes more pairs per bucket than one Lua unpack can.
func TestIndexSerialsOnePipeline(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		log := &pipelineLog{}
		e.rdb.AddHook(log)
		rs := make([]NumberResult, MaxBatchSize)
		touched := map[int]bool{}
		for i := range rs {
			rs[i] = NumberResult{Index: i, State: Sent, SerialNo: fmt.Sprintf("2433:%019d", 7_000_000_000+i)}
			touched[serialShard(rs[i].SerialNo)] = true
		}
		want := make([]string, len(touched))
		for i := range want {
			want[i] = "evalsha"
		}
		// An empty script cache: every EVALSHA answers NOSCRIPT and goes again as EVAL.
		if err := e.s.IndexSerials(ctx, "j", 1, rs); err != nil {
			t.Fatal(err)
		}
		evals := make([]string, len(touched))
		for i := range evals {
			evals[i] = "eval"
		}
		if got := log.take(); !slices.EqualFunc(got, [][]string{want, evals}, slices.Equal) {
			t.Errorf("pipelines with an empty script cache = %v, want %v then %v", got, want, evals)
		}
		// The script is cached now: one pipeline of EVALSHA.
		if err := e.s.IndexSerials(ctx, "j", 2, rs); err != nil {
			t.Fatal(err)
		}
		if got := log.take(); !slices.EqualFunc(got, [][]string{want}, slices.Equal) {
			t.Errorf("pipelines = %v, want %v", got, want)
		}
		for _, i := range []int{0, 57, 199} {
			if got := e.serialEntry(t, rs[i].SerialNo); got != fmt.Sprintf("j|2|%d", i) {
				t.Errorf("entry of %s = %q", rs[i].SerialNo, got)
			}
		}
		// 1,100 serials of one shard: 2,200 values for one HSET, more than unpack takes at once.
		var big []NumberResult
		for i := 0; len(big) < 1100; i++ {
			if sn := fmt.Sprintf("big-%d", i); serialShard(sn) == 3 {
				big = append(big, NumberResult{Index: len(big), State: Sent, SerialNo: sn})
			}
		}
		if err := e.s.IndexSerials(ctx, "k", 0, big); err != nil {
			t.Fatal(err)
		}
		k := serialKey(3, dayOf(redistest.T0))
		if n := e.rdb.HLen(ctx, k).Val(); n != int64(len(big))+int64(countShard(rs, 3)) {
			t.Errorf("HLEN %s = %d, want %d", k, n, len(big)+countShard(rs, 3))
		}
		if ttl, want := e.rdb.PTTL(ctx, k).Val(), endOfDay(redistest.T0).Add(DefaultRetention).Sub(redistest.T0); ttl <= want-time.Second || ttl > want {
			t.Errorf("TTL of %s = %v, want %v", k, ttl, want)
		}
		for _, i := range []int{0, 499, 500, 1099} {
			if got := e.serialEntry(t, big[i].SerialNo); got != fmt.Sprintf("k|0|%d", i) {
				t.Errorf("entry of %s = %q", big[i].SerialNo, got)
			}
		}
	})
}

// countShard is the number of results whose serial is in shard sh.
func countShard(rs []NumberResult, sh int) int {
	n := 0
	for _, r := range rs {
		if r.SerialNo != "" && serialShard(r.SerialNo) == sh {
			n++
		}
	}
	return n
}

// TestSerialIndexAcrossDays: serials indexed on different days are all found, the newest entry of
// a serial wins, and a receipt finds a serial indexed the day before.
func TestSerialIndexAcrossDays(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 3, 200)
		c := e.mustClaim(t, "j", 0, "t")
		rs := allSent("j", 0, c)
		if err := e.s.IndexSerials(ctx, "j", 0, rs); err != nil {
			t.Fatal(err)
		}
		e.commit(t, "j", 0, "t", rs)
		// A day and a half later (another day bucket) another send indexes its serials.
		e.advance(36 * time.Hour)
		if err := e.s.IndexSerials(ctx, "other", 1, []NumberResult{{Index: 4, State: Sent, SerialNo: "sn-day2"}}); err != nil {
			t.Fatal(err)
		}
		got, err := e.s.SerialRefs(ctx, []string{rs[0].SerialNo, "sn-day2", "sn-none"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]SerialRef{rs[0].SerialNo: ref("j", 0, 0), "sn-day2": ref("other", 1, 4)}; !maps.Equal(got, want) {
			t.Fatalf("SerialRefs = %v, want %v", got, want)
		}
		// Receipts of yesterday's send, received now; one with no time (every bucket is probed);
		// one whose time is a little before the send (a Tencent clock behind ours).
		n := nums(0, 3)
		page := []Receipt{
			{SerialNo: rs[0].SerialNo, PhoneNumber: n[0], Status: ReceiptSuccess, ReceivedAt: e.clock.Now()},
			{SerialNo: rs[1].SerialNo, PhoneNumber: n[1], Status: "FAIL"},
			{SerialNo: rs[2].SerialNo, PhoneNumber: n[2], Status: ReceiptSuccess, ReceivedAt: redistest.T0.Add(-10 * time.Hour)},
		}
		if st := e.saveAndApply(t, page); st != (ApplyStats{Applied: 3}) {
			t.Fatalf("apply = %+v, want 3 applied", st)
		}
		e.wantCounts(t, "j", counts{State: StateDone, Total: 3, Sent: 3, Delivered: 2, Undelivered: 1})
		// A newer entry of a serial wins over an older one (the send path overwrites, across days
		// too).
		if err := e.s.IndexSerials(ctx, "late", 2, []NumberResult{{Index: 1, State: Sent, SerialNo: rs[1].SerialNo}}); err != nil {
			t.Fatal(err)
		}
		if got := e.serialEntry(t, rs[1].SerialNo); got != "late|2|1" {
			t.Errorf("entry = %q, want the newest", got)
		}
	})
}

// TestSerialIndexRetention: an entry is found until the end of its day + Retention, then it is
// gone (miniredis: the bucket expired; every backend: the lookup no longer probes it).
func TestSerialIndexRetention(t *testing.T) {
	t.Parallel()
	backendsOpts(t, Options{Retention: 48 * time.Hour}, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.s.IndexSerials(ctx, "j", 0, []NumberResult{{Index: 0, State: Sent, SerialNo: "sn-old"}}); err != nil {
			t.Fatal(err)
		}
		expires := endOfDay(redistest.T0).Add(48 * time.Hour)
		e.advance(expires.Sub(redistest.T0) - time.Minute)
		if got := e.serialEntry(t, "sn-old"); got != "j|0|0" {
			t.Fatalf("a minute before expiry: entry %q", got)
		}
		// Indexed as evidence the day after: written again, so it lives a day longer.
		if _, err := e.s.IndexEvidenceSerials(ctx, "k", 0, []NumberResult{{Index: 0, State: Sent, SerialNo: "sn-fresh"}}); err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Minute)
		if got, err := e.s.SerialRefs(ctx, []string{"sn-old", "sn-fresh"}); err != nil || !maps.Equal(got, map[string]SerialRef{"sn-fresh": ref("k", 0, 0)}) {
			t.Fatalf("after expiry: SerialRefs = %v, %v; want only sn-fresh", got, err)
		}
		page := []Receipt{{SerialNo: "sn-old", PhoneNumber: "+8613800000000", Status: ReceiptSuccess, ReceivedAt: e.clock.Now()}}
		if st := e.saveAndApply(t, page); st != (ApplyStats{Unmatched: 1}) {
			t.Fatalf("receipt of an expired serial = %+v, want unmatched", st)
		}
		if !e.real() {
			if e.db.Mini.Exists(serialKey(serialShard("sn-old"), dayOf(redistest.T0))) {
				t.Error("the expired bucket still exists")
			}
		}
	})
}

// TestIndexEvidenceSerialsAcrossDays: evidence never takes over a serial indexed on an earlier
// day; an entry of this very number counts as indexed.
func TestIndexEvidenceSerialsAcrossDays(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.s.IndexSerials(ctx, "ja", 0, []NumberResult{{Index: 3, State: Sent, SerialNo: "sn-a"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.IndexEvidenceSerials(ctx, "jb", 1, []NumberResult{{Index: 2, State: Sent, SerialNo: "sn-b"}}); err != nil {
			t.Fatal(err)
		}
		e.advance(30 * time.Hour)
		conflicts, err := e.s.IndexEvidenceSerials(ctx, "jb", 1, []NumberResult{
			{Index: 0, State: Sent, SerialNo: "sn-a"}, // job A's, indexed yesterday
			{Index: 2, State: Sent, SerialNo: "sn-b"}, // ours since yesterday
			{Index: 4, State: Sent, SerialNo: "sn-c"}, // new
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]SerialRef{"sn-a": ref("ja", 0, 3)}; !maps.Equal(conflicts, want) {
			t.Fatalf("conflicts = %v, want %v", conflicts, want)
		}
		got, err := e.s.SerialRefs(ctx, []string{"sn-a", "sn-b", "sn-c"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]SerialRef{"sn-a": ref("ja", 0, 3), "sn-b": ref("jb", 1, 2), "sn-c": ref("jb", 1, 4)}; !maps.Equal(got, want) {
			t.Fatalf("index = %v, want %v", got, want)
		}
		// SettleUnknown indexes set-if-absent too: sn-a stays job A's.
		e.create(t, testJob("jc"), 2, 200)
		e.mustClaim(t, "jc", 0, "t")
		e.commit(t, "jc", 0, "t", nil)
		if err := e.s.SettleUnknown(ctx, "jc", 0, []NumberResult{{Index: 0, State: Sent, SerialNo: "sn-a"}, {Index: 1, State: Sent, SerialNo: "sn-d"}}); err != nil {
			t.Fatal(err)
		}
		e.wantCounts(t, "jc", counts{State: StateDelivering, Total: 2, Sent: 2})
		if got := e.serialEntry(t, "sn-a"); got != "ja|0|3" {
			t.Errorf("SettleUnknown overwrote sn-a: %q", got)
		}
		if got := e.serialEntry(t, "sn-d"); got != "jc|0|1" {
			t.Errorf("SettleUnknown did not index sn-d: %q", got)
		}
	})
}

// TestIndexEvidenceSerialsSingleSlot: the evidence script of every shard, over every day bucket
// it reads, stays in one slot (the tag checker fails the test at cleanup otherwise).
func TestIndexEvidenceSerialsSingleSlot(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		rs := make([]NumberResult, MaxBatchSize)
		for i := range rs {
			rs[i] = NumberResult{Index: i, State: Sent, SerialNo: fmt.Sprintf("sn-%d", i)}
		}
		for range 3 {
			if _, err := e.s.IndexEvidenceSerials(ctx, "j", 0, rs); err != nil {
				t.Fatal(err)
			}
			e.advance(24 * time.Hour)
		}
		if v := e.tags.violations(); len(v) > 0 {
			t.Fatalf("cross-slot scripts: %v", v)
		}
		got, err := e.s.SerialRefs(ctx, []string{"sn-0", "sn-199"})
		if err != nil || !maps.Equal(got, map[string]SerialRef{"sn-0": ref("j", 0, 0), "sn-199": ref("j", 0, 199)}) {
			t.Fatalf("SerialRefs = %v, %v", got, err)
		}
	})
}

func TestCivilDate(t *testing.T) {
	t.Parallel()
	for day := int64(-800_000); day < 800_000; day += 37 {
		want := time.UnixMilli(day * dayMs).UTC()
		y, m, d := civilDate(day)
		if y != int64(want.Year()) || m != int(want.Month()) || d != want.Day() {
			t.Fatalf("civilDate(%d) = %d-%d-%d, want %s", day, y, m, d, want.Format(time.DateOnly))
		}
	}
	if got := serialKey(0, dayOf(time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC))); got != "sms:sn:{sn00}:20240229" {
		t.Errorf("serialKey on a leap day = %q", got)
	}
}
