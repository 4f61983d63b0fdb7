package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// jobKeysOf lists every key of a job that exists: job hash, params, codes and batches 0..n-1 (a
// batch that is missing is reported).
func (e *env) jobKeysOf(t *testing.T, job string) []string {
	t.Helper()
	ctx := context.Background()
	n, err := e.rdb.HGet(ctx, jobKey(job), "batches").Int()
	if err != nil {
		t.Fatalf("batches of %s: %v", job, err)
	}
	keys := []string{jobKey(job), paramsKey(job)}
	if e.rdb.Exists(ctx, codesKey(job)).Val() == 1 {
		keys = append(keys, codesKey(job))
	}
	for i := range n {
		keys = append(keys, batchKey(job, i))
	}
	return keys
}

// wantNoTTL fails unless every key exists and has no TTL.
func (e *env) wantNoTTL(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if ttl := e.rdb.PTTL(context.Background(), k).Val(); ttl != -1 {
			t.Errorf("key %s: PTTL %v, want no TTL (-1ns; -2ns means it is gone)", k, ttl)
		}
	}
}

// wantTTL fails unless every key exists with a TTL in (lo, hi].
func (e *env) wantTTL(t *testing.T, lo, hi time.Duration, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if ttl := e.rdb.PTTL(context.Background(), k).Val(); ttl <= lo || ttl > hi {
			t.Errorf("key %s: TTL %v, want (%v, %v]", k, ttl, lo, hi)
		}
	}
}

func (e *env) wantGone(t *testing.T, keys ...string) {
	t.Helper()
	if n := e.rdb.Exists(context.Background(), keys...).Val(); n != 0 {
		t.Errorf("%d of %d keys still exist: %v", n, len(keys), keys)
	}
}

func (e *env) active(t *testing.T) []string {
	t.Helper()
	ids, err := e.s.ActiveJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestRunningJobOutlivesRetention: no key of a job that has not settled expires. A job still
// running several retentions after its creation keeps its param sets (a claim gets them), its
// batches and its codes.
func TestRunningJobOutlivesRetention(t *testing.T) {
	t.Parallel()
	const ret = time.Hour
	backendsOpts(t, Options{Retention: ret}, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 10, 4) // batches 0..2
		sched := testJob("sched")
		sched.SendAt = redistest.T0.Add(30 * 24 * time.Hour)
		e.create(t, sched, 3, 3)
		c := e.mustClaim(t, "j", 0, "t")
		rs := allSent("j", 0, c)
		rs[1] = NumberResult{Index: 1, State: Failed, Code: "F"}
		rs[2] = NumberResult{Index: 2, State: Retry, RetryAt: redistest.T0.Add(time.Minute)} // retry batch 3
		e.commit(t, "j", 0, "t", rs)
		keys := e.jobKeysOf(t, "j")
		if len(keys) != 7 {
			t.Fatalf("keys = %v", keys)
		}
		e.wantNoTTL(t, keys...)
		e.wantNoTTL(t, e.jobKeysOf(t, "sched")...)
		e.wantNoTTL(t, activeKey)

		for range 4 { // four retentions pass; the sweeper looks now and then
			e.advance(ret)
			if a := e.active(t); !slices.Equal(a, []string{"j", "sched"}) {
				t.Fatalf("active = %v", a)
			}
		}
		e.wantNoTTL(t, keys...)
		c1 := e.mustClaim(t, "j", 1, "t1")
		if !slices.Equal(c1.Params, []string{"1234"}) {
			t.Fatalf("claim after 4 retentions: params %q, want [1234]", c1.Params)
		}
		e.commit(t, "j", 1, "t1", allSent("j", 1, c1))
		e.mustClaim(t, "j", 3, "t3") // the retry batch
		e.wantNoTTL(t, keys...)
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 10, Sent: 6, Failed: 1, Pending: 3})
	})
}

// TestAbandonedCreationExpires: a creation that never finished leaves keys that expire after
// Retention; a finished one leaves none with a TTL.
func TestAbandonedCreationExpires(t *testing.T) {
	t.Parallel()
	const ret = time.Hour
	backendsOpts(t, Options{Retention: ret}, func(t *testing.T, e *env) {
		ctx := context.Background()
		batches := batchesOf(nums(0, createChunk+100), 1)
		boom := errors.New("producer died")
		_, err := e.s.CreateJobStream(ctx, testJob("j"), [][]string{{"x"}}, len(batches), func(i int) (NewBatch, error) {
			// The write pass, after its first chunk.
			if i == createChunk+50 && e.rdb.Exists(ctx, batchKey("j", 0)).Val() == 1 {
				return NewBatch{}, boom
			}
			return batches[i], nil
		}, 0)
		if !errors.Is(err, boom) {
			t.Fatalf("CreateJobStream = %v, want the batch error", err)
		}
		keys := []string{jobKey("j"), paramsKey("j")}
		for i := range createChunk {
			keys = append(keys, batchKey("j", i))
		}
		e.wantTTL(t, ret-time.Minute, ret, keys...)
		if e.real() {
			return
		}
		e.advance(ret + time.Second)
		all := e.allKeys(t)
		if slices.ContainsFunc(all, func(k string) bool { return strings.Contains(k, "{j}") }) {
			t.Fatalf("keys of the abandoned creation left: %v", all)
		}
	})
}

// TestPersistRepair: a ready job whose keys still carry a TTL (its creator died between making
// it ready and removing the creation TTL, or it was written by an older version) loses the TTL
// at the next sweep.
func TestPersistRepair(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 10, 4)
		keys := e.jobKeysOf(t, "j")
		for _, k := range keys {
			e.rdb.PExpire(ctx, k, time.Hour)
		}
		e.active(t)
		e.wantNoTTL(t, keys...)
	})
}

// TestHaltLongerThanRetention: while an app is halted with parked batches, neither the halt, nor
// the parked set, nor the batch records expire; once nothing is parked the halt expires as before.
func TestHaltLongerThanRetention(t *testing.T) {
	t.Parallel()
	const ret = time.Hour
	backendsOpts(t, Options{Retention: ret}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 12, 4) // batches 0..2
		if err := e.s.Halt(ctx, testApp, "H", redistest.T0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		e.wantTTL(t, ret-time.Minute, ret, haltKey(testApp)) // nothing parked yet
		for b := range 3 {
			if err := e.s.Park(ctx, testApp, "j", b); err != nil {
				t.Fatal(err)
			}
		}
		e.wantNoTTL(t, haltKey(testApp), parkedKey(testApp), haltAppsKey)
		for i := range 5 {
			e.advance(ret)
			if i%2 == 0 { // a failed probe halts again
				if err := e.s.Halt(ctx, testApp, "H", e.clock.Now().Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			e.active(t)
		}
		e.wantNoTTL(t, haltKey(testApp), parkedKey(testApp))
		e.wantNoTTL(t, e.jobKeysOf(t, "j")...)
		if hs, err := e.s.Halts(ctx); err != nil || len(hs) != 1 || hs[0].App != testApp {
			t.Fatalf("Halts = %+v, %v", hs, err)
		}
		ref, ok, err := e.s.PopParked(ctx, testApp)
		if err != nil || !ok {
			t.Fatalf("PopParked = %v, %v, %v", ref, ok, err)
		}
		c := e.mustClaim(t, "j", ref.Batch, "t")
		if len(c.Numbers) != 4 || !slices.Equal(c.Params, []string{"1234"}) {
			t.Fatalf("claim of parked batch %d: %+v", ref.Batch, c)
		}
		for range 2 {
			if _, ok, err := e.s.PopParked(ctx, testApp); err != nil || !ok {
				t.Fatalf("PopParked = %v, %v", ok, err)
			}
		}
		// Nothing parked any more: the halt expires after Retention unless renewed.
		e.wantTTL(t, ret-time.Minute, ret, haltKey(testApp))
		if err := e.s.Park(ctx, testApp, "j", 1); err != nil {
			t.Fatal(err)
		}
		e.wantNoTTL(t, haltKey(testApp), parkedKey(testApp))
		refs, err := e.s.Resume(ctx, testApp)
		if err != nil || len(refs) != 1 {
			t.Fatalf("Resume = %v, %v", refs, err)
		}
		e.wantGone(t, haltKey(testApp), parkedKey(testApp))
	})
}

// TestRetentionFromSettle: a job's keys get Retention once it has settled and the sweeper (or
// Status) saw it, and expire Retention after that, not after their creation.
func TestRetentionFromSettle(t *testing.T) {
	t.Parallel()
	const ret = 2 * time.Hour
	backendsOpts(t, Options{Retention: ret, ReceiptWindow: time.Hour}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 10, 4)
		e.create(t, testJob("k"), 3, 3)
		e.sendAll(t, "j", 2)
		c := e.mustClaim(t, "j", 2, "t")
		rs := allSent("j", 2, c)
		rs[0] = NumberResult{Index: 0, State: Failed, Code: "F"} // a codes key
		e.commit(t, "j", 2, "t", rs)
		e.sendAll(t, "k", 1)
		jk, kk := e.jobKeysOf(t, "j"), e.jobKeysOf(t, "k")
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 10, Sent: 9, Failed: 1})
		e.wantNoTTL(t, jk...)

		// k settles through its receipts; Status sees it first.
		var page []Receipt
		for i, n := range nums(0, 3) {
			page = append(page, receiptFor("k", 0, i, n, "SUCCESS"))
		}
		e.saveAndApply(t, page)
		e.wantCounts(t, "k", counts{State: StateDone, Total: 3, Sent: 3, Delivered: 3})
		e.wantTTL(t, ret-time.Minute, ret, kk...)

		// j settles when its receipt window has passed, long after its creation; the sweeper
		// sees it later still.
		e.advance(3 * ret)
		e.wantNoTTL(t, jk...)
		if a := e.active(t); len(a) != 0 {
			t.Fatalf("active = %v, want none", a)
		}
		e.wantTTL(t, ret-time.Minute, ret, jk...)
		if e.real() {
			return
		}
		// Seeing it again changes nothing.
		e.advance(time.Minute)
		e.wantCounts(t, "j", counts{State: StatePartial, Total: 10, Sent: 9, Failed: 1})
		e.wantTTL(t, ret-2*time.Minute, ret-time.Minute, jk...)
		e.advance(ret - 2*time.Minute) // retention after the sweep, but a minute
		if _, err := e.s.Status(ctx, "j"); err != nil {
			t.Fatalf("Status before retention has passed: %v", err)
		}
		e.advance(time.Minute + time.Second)
		if _, err := e.s.Status(ctx, "j"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Status after retention = %v, want ErrNotFound", err)
		}
		e.wantGone(t, append(jk, kk...)...)
	})
}

// TestExpireSettled: ExpireSettled refuses a job that has not settled and sets Retention on
// every key of one that has, including its retry batches.
func TestExpireSettled(t *testing.T) {
	t.Parallel()
	const ret = time.Hour
	backendsOpts(t, Options{Retention: ret}, func(t *testing.T, e *env) {
		ctx := context.Background()
		// More batches than one expiry script visits.
		e.create(t, testJob("j"), expireChunk+10, 1)
		ok, err := e.s.ExpireSettled(ctx, "j")
		if err != nil || ok {
			t.Fatalf("ExpireSettled of a running job = %v, %v", ok, err)
		}
		e.wantNoTTL(t, e.jobKeysOf(t, "j")...)
		if err := e.s.FailJob(ctx, "j", "Fatal"); err != nil {
			t.Fatal(err)
		}
		if ok, err = e.s.ExpireSettled(ctx, "j"); err != nil || !ok {
			t.Fatalf("ExpireSettled of a failed job = %v, %v", ok, err)
		}
		e.wantTTL(t, ret-time.Minute, ret, e.jobKeysOf(t, "j")...)
		if _, err := e.s.ExpireSettled(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ExpireSettled of a missing job = %v", err)
		}
	})
}
