package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func TestClaimCommit(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 5, 200)
		c := e.mustClaim(t, "j", 0, "tok-1")
		if c.Attempt != 1 || !slices.Equal(c.Numbers, nums(0, 5)) || !slices.Equal(c.Indexes, []int{0, 1, 2, 3, 4}) ||
			!slices.Equal(c.Params, []string{"1234"}) || c.Intl {
			t.Fatalf("claim = %+v", c)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 5, Pending: 5})
		rs := []NumberResult{
			{Index: 0, State: Sent, SerialNo: "sn0", Fee: 1},
			{Index: 1, State: Sent, SerialNo: "sn1", Fee: 2},
			{Index: 2, State: Failed, Code: "InvalidParameterValue.IncorrectPhoneNumber"},
			{Index: 3, State: Failed, Code: "FailedOperation.PhoneNumberInBlacklist"},
			{Index: 4, State: Failed, Code: "FailedOperation.PhoneNumberInBlacklist"},
		}
		if err := e.s.IndexSerials(ctx, "j", 0, rs); err != nil {
			t.Fatal(err)
		}
		r := e.commit(t, "j", 0, "tok-1", rs)
		if !r.Applied || r.HasUnknown || len(r.RetryBatches) != 0 {
			t.Fatalf("commit = %+v", r)
		}
		st := e.wantCounts(t, "j", counts{State: StateDelivering, Total: 5, Sent: 2, Failed: 3})
		if st.Fee != 3 || fmt.Sprint(st.FailedByCode) != "map[FailedOperation.PhoneNumberInBlacklist:2 InvalidParameterValue.IncorrectPhoneNumber:1]" {
			t.Fatalf("fee %d, failed_by_code %v", st.Fee, st.FailedByCode)
		}
		if code := e.rdb.HGet(ctx, codesKey("j"), "0:3").Val(); code != "FailedOperation.PhoneNumberInBlacklist" {
			t.Fatalf("per-number code = %q", code)
		}
		if v := e.serialEntry(t, "sn1"); v != "j|0|1" {
			t.Fatalf("serial index = %q", v)
		}
		// Second run of the same task, and a stale second commit.
		if c := e.claim(t, "j", 0, "tok-2"); c.Outcome != Done {
			t.Fatalf("second claim = %v, want Done", c.Outcome)
		}
		if r := e.commit(t, "j", 0, "tok-2", rs); r.Applied {
			t.Fatalf("commit by a token without the claim was applied")
		}
		// The same commit again (a retried call) is a replay: applied, nothing counted twice.
		if r := e.commit(t, "j", 0, "tok-1", rs); !r.Applied {
			t.Fatalf("replayed commit not applied")
		}
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 5, Sent: 2, Failed: 3})
		if e.batchField(t, "j", 0, "s") != "done" || e.batchField(t, "j", 0, "st") != "ssfff" {
			t.Fatalf("batch record s=%q st=%q", e.batchField(t, "j", 0, "s"), e.batchField(t, "j", 0, "st"))
		}
		// Bad results are rejected before anything is written.
		for _, bad := range [][]NumberResult{
			{{Index: 0, State: Sent}, {Index: 0, State: Sent}},
			{{Index: -1, State: Sent}},
			{{Index: 0, State: 'z'}},
			{{Index: 0, State: Failed}},
		} {
			if _, err := e.s.Commit(ctx, "j", 0, "tok-1", bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("Commit(%v) err = %v, want ErrInvalid", bad, err)
			}
		}
	})
}

func TestCommitIndexOutOfRange(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 3, 200)
		e.mustClaim(t, "j", 0, "t")
		_, err := e.s.Commit(context.Background(), "j", 0, "t", []NumberResult{{Index: 0, State: Sent}, {Index: 3, State: Sent}})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 3, Pending: 3})
		if r := e.commit(t, "j", 0, "t", []NumberResult{{Index: 0, State: Sent}, {Index: 1, State: Sent}, {Index: 2, State: Sent}}); !r.Applied {
			t.Fatal("commit after a rejected one not applied")
		}
	})
}

func TestClaimBusyAndSameToken(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 3, 200)
		c := e.mustClaim(t, "j", 0, "a")
		e.clock.Add(10 * time.Second)
		b := e.claim(t, "j", 0, "b")
		if b.Outcome != Busy || !b.RetryAt.Equal(redistest.T0.Add(DefaultClaimLease)) {
			t.Fatalf("second claim = %v at %v, want Busy at %v", b.Outcome, b.RetryAt, redistest.T0.Add(DefaultClaimLease))
		}
		// The holder retrying its Claim call gets its claim back, not a new attempt.
		again := e.mustClaim(t, "j", 0, "a")
		if again.Attempt != c.Attempt || !slices.Equal(again.Numbers, c.Numbers) {
			t.Fatalf("re-claim = %+v, want %+v", again, c)
		}
	})
}

// TestConcurrentClaims: N runs of the same task at once: exactly one holds the batch.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 200, 200)
		const n = 32
		outcomes := make([]ClaimOutcome, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := e.s.Claim(context.Background(), "j", 0, fmt.Sprintf("tok-%d", i))
				if err != nil {
					t.Error(err)
				}
				outcomes[i] = r.Outcome
			})
		}
		wg.Wait()
		claimed, busy := 0, 0
		for _, o := range outcomes {
			switch o {
			case Claimed:
				claimed++
			case Busy:
				busy++
			}
		}
		if claimed != 1 || busy != n-1 {
			t.Fatalf("claimed %d, busy %d of %d: %v", claimed, busy, n, outcomes)
		}
	})
}

// TestConcurrentClaimCommit: many tasks over many batches at once, each batch sent exactly once.
func TestConcurrentClaimCommit(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 2000, 100) // 20 batches
		var mu sync.Mutex
		sentBy := map[string]int{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for b := range 20 {
					tok := fmt.Sprintf("w%d-b%d", w, b)
					c, err := e.s.Claim(context.Background(), "j", b, tok)
					if err != nil {
						t.Error(err)
						return
					}
					if c.Outcome != Claimed {
						continue
					}
					mu.Lock()
					for _, n := range c.Numbers {
						sentBy[n]++
					}
					mu.Unlock()
					if _, err := e.s.Commit(context.Background(), "j", b, tok, allSent("j", b, c)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if len(sentBy) != 2000 {
			t.Fatalf("%d numbers sent, want 2000", len(sentBy))
		}
		for n, k := range sentBy {
			if k != 1 {
				t.Fatalf("%s sent %d times", n, k)
			}
		}
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 2000, Sent: 2000})
	})
}

// TestExpiredClaim: the attempt died after claiming; the next run finds its claim expired: the
// numbers become unknown (never resent by Claim), another token cannot commit, the late commit of
// the dead attempt is accepted as evidence.
func TestExpiredClaim(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 4, 200)
		c := e.mustClaim(t, "j", 0, "dead")
		e.clock.Add(DefaultClaimLease)
		if r := e.claim(t, "j", 0, "next"); r.Outcome != Unresolved {
			t.Fatalf("claim after lease = %v, want Unresolved", r.Outcome)
		}
		if r := e.claim(t, "j", 0, "third"); r.Outcome != Unresolved {
			t.Fatalf("claim again = %v, want Unresolved", r.Outcome)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 4, Unknown: 4, Pending: 4})
		unk, err := e.s.Unknowns(context.Background(), "j", 0)
		if err != nil || len(unk) != 4 || unk[2].Number != nums(2, 1)[0] || unk[2].Attempt != 1 || !unk[2].SentAt.Equal(redistest.T0) {
			t.Fatalf("Unknowns = %+v, %v", unk, err)
		}
		if r := e.commit(t, "j", 0, "next", allSent("j", 0, c)); r.Applied {
			t.Fatal("commit by another token applied")
		}
		rs := allSent("j", 0, c)
		rs[3] = NumberResult{Index: 3, State: Failed, Code: "LimitExceeded.PhoneNumberDailyLimit"}
		r := e.commit(t, "j", 0, "dead", rs)
		if !r.Applied || r.HasUnknown {
			t.Fatalf("late commit = %+v", r)
		}
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 4, Sent: 3, Failed: 1})
		if s := e.batchField(t, "j", 0, "s"); s != "done" {
			t.Fatalf("batch state %q", s)
		}
	})
}

func TestRelease(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 3, 200)
		e.mustClaim(t, "j", 0, "a")
		if err := e.s.Release(ctx, "j", 0, "other"); err != nil {
			t.Fatal(err)
		}
		if r := e.claim(t, "j", 0, "b"); r.Outcome != Busy {
			t.Fatalf("release by another token freed the claim: %v", r.Outcome)
		}
		if err := e.s.Release(ctx, "j", 0, "a"); err != nil {
			t.Fatal(err)
		}
		// Release says nothing was sent: the launched attempt is not counted.
		c := e.mustClaim(t, "j", 0, "b")
		if c.Attempt != 1 || len(c.Numbers) != 3 {
			t.Fatalf("claim after release = %+v", c)
		}
		if r := e.commit(t, "j", 0, "a", allSent("j", 0, c)); r.Applied {
			t.Fatal("commit by the released token applied")
		}
		// A claim that expired into unknown and is then released: nothing was sent, back to pending.
		e.clock.Add(DefaultClaimLease)
		if r := e.claim(t, "j", 0, "c"); r.Outcome != Unresolved {
			t.Fatalf("claim = %v", r.Outcome)
		}
		if err := e.s.Release(ctx, "j", 0, "b"); err != nil {
			t.Fatal(err)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 3, Pending: 3})
		if c := e.mustClaim(t, "j", 0, "d"); c.Attempt != 1 {
			t.Fatalf("attempt = %d", c.Attempt)
		}
		// Requeue (Tencent refused the call) keeps the attempt counted.
		if err := e.s.Requeue(ctx, "j", 0, "d"); err != nil {
			t.Fatal(err)
		}
		if c := e.mustClaim(t, "j", 0, "e"); c.Attempt != 2 {
			t.Fatalf("attempt after requeue = %d, want 2", c.Attempt)
		}
	})
}

// TestReservationOutlivedGoesBackToPending: an attempt that died while it waited on the rate
// limiter (reserved, never launched) sent nothing: the next claim takes its numbers as pending,
// with no unknown and no reconcile, and the dead reservation can no longer launch.
func TestReservationOutlivedGoesBackToPending(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 4, 200)
		e.mustReserve(t, "j", 0, "dead")
		if r := e.claim(t, "j", 0, "early"); r.Outcome != Busy {
			t.Fatalf("claim of a live reservation = %v, want Busy", r.Outcome)
		}
		e.clock.Add(DefaultClaimLease)
		c := e.claim(t, "j", 0, "next")
		if c.Outcome != Claimed || len(c.Numbers) != 4 || c.Attempt != 1 {
			t.Fatalf("claim after the reservation's lease = %+v, want Claimed, 4 numbers, attempt 1", c)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 4, Pending: 4})
		if lr, err := e.s.Launch(ctx, "j", 0, "dead"); err != nil || lr.Outcome != Busy {
			t.Fatalf("Launch by the dead reservation = %+v, %v; want Busy", lr, err)
		}
		if lr, err := e.s.Launch(ctx, "j", 0, "next"); err != nil || lr.Outcome != Claimed || lr.Attempt != 1 {
			t.Fatalf("Launch = %+v, %v", lr, err)
		}
		// Launched again with the same token (a retried call): the same attempt.
		if lr, err := e.s.Launch(ctx, "j", 0, "next"); err != nil || lr.Outcome != Claimed || lr.Attempt != 1 {
			t.Fatalf("Launch again = %+v, %v", lr, err)
		}
		// The lease and the evidence window start at the launch, not at the claim.
		e.clock.Add(DefaultClaimLease / 2)
		if _, err := e.s.Launch(ctx, "j", 0, "next"); err != nil {
			t.Fatal(err)
		}
		unk, _ := e.s.Unknowns(ctx, "j", 0)
		if len(unk) != 0 {
			t.Fatalf("unknowns of a live launch: %+v", unk)
		}
		e.clock.Add(DefaultClaimLease / 2)
		if r := e.claim(t, "j", 0, "late"); r.Outcome != Unresolved {
			t.Fatalf("claim after the launched lease = %v, want Unresolved", r.Outcome)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 4, Unknown: 4, Pending: 4})
		unk, err := e.s.Unknowns(ctx, "j", 0)
		if err != nil || len(unk) != 4 || !unk[0].SentAt.Equal(redistest.T0.Add(DefaultClaimLease)) {
			t.Fatalf("Unknowns = %+v, %v; want SentAt at the launch", unk, err)
		}
	})
}

// TestLaunchChecksTheJobAgain: a job that expired (otp), was cancelled or failed while the
// reservation waited on the rate limiter sends nothing.
func TestLaunchChecksTheJobAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		apply func(t *testing.T, e *env)
		want  ClaimOutcome
		c     counts
	}{
		{"expired", func(t *testing.T, e *env) { e.clock.Add(2 * time.Minute) }, Expired,
			counts{State: StateFailed, Total: 3, Failed: 3}},
		{"cancelled", func(t *testing.T, e *env) {
			if _, err := e.s.Cancel(context.Background(), "j"); err != nil {
				t.Fatal(err)
			}
		}, Cancelled, counts{State: StateCancelled, Total: 3, Cancelled: 3}},
		{"failed", func(t *testing.T, e *env) {
			if err := e.s.FailJob(context.Background(), "j", "FailedOperation.TemplateUnapprovedOrNotExist"); err != nil {
				t.Fatal(err)
			}
		}, JobFailed, counts{State: StateFailed, Total: 3, Failed: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, e *env) {
				j := testJob("j")
				j.ExpiresAt = redistest.T0.Add(time.Minute)
				e.create(t, j, 3, 200)
				e.mustReserve(t, "j", 0, "w")
				tc.apply(t, e)
				lr, err := e.s.Launch(context.Background(), "j", 0, "w")
				if err != nil || lr.Outcome != tc.want {
					t.Fatalf("Launch = %+v, %v; want %v", lr, err, tc.want)
				}
				e.wantCounts(t, "j", tc.c)
				if r := e.claim(t, "j", 0, "again"); r.Outcome == Claimed {
					t.Fatalf("claim after a refused launch = %v", r.Outcome)
				}
			})
		})
	}
}

func TestRetryBatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		job := testJob("j")
		_, err := e.s.CreateJob(ctx, job, [][]string{{"p0"}, {"p1", "x"}}, []NewBatch{
			{ParamSet: 1, Intl: true, Numbers: []string{"+14155550100", "+14155550101", "+14155550102", "+14155550103", "+14155550104"}},
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		e.mustClaim(t, "j", 0, "t")
		at1 := redistest.T0.Add(30*time.Second + 200*time.Millisecond) // rounds up to +31s
		at2 := redistest.T0.Add(30*time.Second + 900*time.Millisecond) // same second
		at3 := redistest.T0.Add(5 * time.Minute)
		rs := []NumberResult{
			{Index: 0, State: Sent},
			{Index: 1, State: Retry, RetryAt: at3, Code: "LimitExceeded.PhoneNumberThirtySecondLimit"},
			{Index: 2, State: Retry, RetryAt: at1},
			{Index: 3, State: Retry, RetryAt: at2},
			// index 4: no result -> unknown
		}
		r := e.commit(t, "j", 0, "t", rs)
		want := []RetryBatch{{Batch: 1, At: redistest.T0.Add(31 * time.Second)}, {Batch: 2, At: at3}}
		if !r.Applied || !r.HasUnknown || fmt.Sprint(r.RetryBatches) != fmt.Sprint(want) {
			t.Fatalf("commit = %+v, want retry batches %v and unknowns", r, want)
		}
		if got := e.batchField(t, "j", 0, "st"); got != "srrru" {
			t.Fatalf("states %q", got)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 5, Sent: 1, Unknown: 1, Pending: 4})
		if r := e.claim(t, "j", 1, "t1"); r.Outcome != NotYet || !r.RetryAt.Equal(redistest.T0.Add(31*time.Second)) {
			t.Fatalf("early claim of retry batch = %v at %v", r.Outcome, r.RetryAt)
		}
		e.clock.Add(31 * time.Second)
		c1 := e.mustClaim(t, "j", 1, "t1")
		if !slices.Equal(c1.Numbers, []string{"+14155550102", "+14155550103"}) || !c1.Intl || !slices.Equal(c1.Params, []string{"p1", "x"}) {
			t.Fatalf("retry claim = %+v", c1)
		}
		e.commit(t, "j", 1, "t1", allSent("j", 1, c1))
		e.clock.Add(5 * time.Minute)
		c2 := e.mustClaim(t, "j", 2, "t2")
		if !slices.Equal(c2.Numbers, []string{"+14155550101"}) {
			t.Fatalf("retry claim 2 = %+v", c2)
		}
		e.commit(t, "j", 2, "t2", allSent("j", 2, c2))
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 5, Sent: 4, Unknown: 1, Pending: 1})
		// Replaying the first commit returns the same retry batches and creates none.
		if r2 := e.commit(t, "j", 0, "t", rs); fmt.Sprint(r2.RetryBatches) != fmt.Sprint(want) {
			t.Fatalf("replay = %+v", r2)
		}
		if st := e.status(t, "j"); st.Batches != 3 {
			t.Fatalf("batches = %d", st.Batches)
		}
	})
}

// TestReconcile: unknown numbers settled by evidence, the rest resent in a new batch.
func TestReconcile(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 4, 200)
		c := e.mustClaim(t, "j", 0, "t")
		r := e.commit(t, "j", 0, "t", []NumberResult{{Index: 0, State: Unknown}, {Index: 1, State: Unknown}, {Index: 2, State: Unknown}, {Index: 3, State: Sent}})
		if !r.HasUnknown {
			t.Fatal("HasUnknown = false")
		}
		if o := e.claim(t, "j", 0, "again").Outcome; o != Unresolved {
			t.Fatalf("claim of a batch with unknowns = %v", o)
		}
		unk, _ := e.s.Unknowns(ctx, "j", 0)
		if len(unk) != 3 || unk[0].Number != c.Numbers[0] {
			t.Fatalf("Unknowns = %+v", unk)
		}
		evidence := []NumberResult{{Index: 0, State: Sent, SerialNo: "late-sn"}, {Index: 1, State: Failed, Code: "X"}, {Index: 3, State: Failed, Code: "Y"}}
		for range 2 { // idempotent; index 3 is not unknown and is left alone
			if err := e.s.SettleUnknown(ctx, "j", 0, evidence); err != nil {
				t.Fatal(err)
			}
		}
		st := e.wantCounts(t, "j", counts{State: StateRunning, Total: 4, Sent: 2, Failed: 1, Unknown: 1, Pending: 1})
		// The number sent by evidence has no known fee: counted apart, once (SettleUnknown ran twice).
		if st.SentFeeUnknown != 1 {
			t.Fatalf("SentFeeUnknown = %d, want 1", st.SentFeeUnknown)
		}
		if v := e.serialEntry(t, "late-sn"); v != "j|0|0" {
			t.Fatalf("serial of settled number not indexed: %q", v)
		}
		at := redistest.T0.Add(2 * time.Minute)
		rb, ok, err := e.s.ResendUnknown(ctx, "j", 0, at)
		if err != nil || !ok || rb.Batch != 1 || !rb.At.Equal(at) {
			t.Fatalf("ResendUnknown = %+v, %v, %v", rb, ok, err)
		}
		if _, ok, _ := e.s.ResendUnknown(ctx, "j", 0, at); ok {
			t.Fatal("second ResendUnknown created another batch")
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 4, Sent: 2, Failed: 1, Pending: 1})
		if s := e.batchField(t, "j", 0, "s"); s != "done" {
			t.Fatalf("batch state = %q", s)
		}
		e.clock.Add(2 * time.Minute)
		c1 := e.mustClaim(t, "j", 1, "t1")
		if !slices.Equal(c1.Numbers, []string{c.Numbers[2]}) {
			t.Fatalf("resent numbers = %v", c1.Numbers)
		}
		e.commit(t, "j", 1, "t1", allSent("j", 1, c1))
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 4, Sent: 3, Failed: 1})
		e.clock.Add(DefaultReceiptWindow)
		e.wantCounts(t, "j", counts{State: StatePartial, Total: 4, Sent: 3, Failed: 1})
		if a, _ := e.s.ActiveJobs(ctx); len(a) != 0 {
			t.Fatalf("done job still active: %v", a)
		}
	})
}

// TestCommitEncoding: the compact commit arguments (results by position, a common fee, extras
// for codes, retry times and other fees) carry every result, given in any order.
func TestCommitEncoding(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 8, 200)
		e.mustClaim(t, "j", 0, "t")
		rs := []NumberResult{
			{Index: 6, State: Sent, Fee: 2, SerialNo: "a"},
			{Index: 0, State: Sent, Fee: 1, SerialNo: "b"},
			{Index: 5, State: Sent, Fee: 1, SerialNo: "c"},
			{Index: 1, State: Failed, Code: "F1"},
			{Index: 4, State: Failed, Code: "F2", Fee: 9}, // a failed number's fee is not counted
			{Index: 3, State: Retry, RetryAt: redistest.T0.Add(5 * time.Second)},
			{Index: 2, State: Retry, RetryAt: redistest.T0.Add(time.Second)},
			// index 7: no result -> unknown
		}
		r := e.commit(t, "j", 0, "t", rs)
		want := []RetryBatch{{Batch: 1, At: redistest.T0.Add(time.Second)}, {Batch: 2, At: redistest.T0.Add(5 * time.Second)}}
		if !r.Applied || !r.HasUnknown || fmt.Sprint(r.RetryBatches) != fmt.Sprint(want) {
			t.Fatalf("commit = %+v, want retry batches %v", r, want)
		}
		if got := e.batchField(t, "j", 0, "st"); got != "sfrrfssu" {
			t.Fatalf("states %q", got)
		}
		st := e.wantCounts(t, "j", counts{State: StateRunning, Total: 8, Sent: 3, Failed: 2, Unknown: 1, Pending: 3})
		if st.Fee != 4 || fmt.Sprint(st.FailedByCode) != "map[F1:1 F2:1]" {
			t.Fatalf("fee %d, failed by code %v", st.Fee, st.FailedByCode)
		}
		if c := e.rdb.HGetAll(ctx, codesKey("j")).Val(); fmt.Sprint(c) != "map[0:1:F1 0:4:F2]" {
			t.Fatalf("codes = %v", c)
		}
		e.clock.Add(time.Second)
		if c := e.mustClaim(t, "j", 1, "t1"); !slices.Equal(c.Numbers, nums(2, 1)) {
			t.Fatalf("retry batch 1 = %v", c.Numbers)
		}
		// Only sent results, none with a fee: fee 0 everywhere.
		e.create(t, testJob("k"), 2, 200)
		e.mustClaim(t, "k", 0, "t")
		e.commit(t, "k", 0, "t", []NumberResult{{Index: 1, State: Sent}, {Index: 0, State: Unknown}})
		if st := e.wantCounts(t, "k", counts{State: StateRunning, Total: 2, Sent: 1, Unknown: 1, Pending: 1}); st.Fee != 0 {
			t.Fatalf("fee = %d", st.Fee)
		}
		// An index beyond the batch is refused by its index, nothing written.
		e.create(t, testJob("m"), 3, 200)
		e.mustClaim(t, "m", 0, "t")
		_, err := e.s.Commit(ctx, "m", 0, "t", []NumberResult{{Index: 2, State: Sent}, {Index: 9, State: Failed, Code: "X"}})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "index 9") {
			t.Fatalf("err = %v, want ErrInvalid naming index 9", err)
		}
		e.wantCounts(t, "m", counts{State: StateRunning, Total: 3, Pending: 3})
	})
}
