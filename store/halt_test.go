package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func TestHaltParkResume(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 600, 200)
		if h, err := e.s.HaltOf(ctx, testApp); h != nil || err != nil {
			t.Fatalf("HaltOf before halt = %v, %v", h, err)
		}
		probe := redistest.T0.Add(5 * time.Minute)
		if err := e.s.Halt(ctx, testApp, "FailedOperation.InsufficientBalanceInSmsPackage", probe); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Minute)
		if err := e.s.Halt(ctx, testApp, "FailedOperation.InsufficientBalanceInSmsPackage", probe.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		h, err := e.s.HaltOf(ctx, testApp)
		if err != nil || h == nil || h.Code != "FailedOperation.InsufficientBalanceInSmsPackage" || !h.Since.Equal(redistest.T0) || !h.ProbeAt.Equal(probe.Add(time.Minute)) {
			t.Fatalf("HaltOf = %+v, %v", h, err)
		}
		if hs, err := e.s.Halts(ctx); err != nil || len(hs) != 1 || hs[0] != *h {
			t.Fatalf("Halts = %+v, %v", hs, err)
		}
		e.wantCounts(t, "j", counts{State: StatePaused, Total: 600, Pending: 600})
		for b := range 3 {
			if err := e.s.Park(ctx, testApp, "j", b); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.s.Park(ctx, testApp, "j", 1); err != nil { // a redelivered task parks again: one entry
			t.Fatal(err)
		}
		refs, err := e.s.Resume(ctx, testApp)
		if err != nil || fmt.Sprint(refs) != "[{j 0} {j 1} {j 2}]" {
			t.Fatalf("Resume = %v, %v", refs, err)
		}
		if h, _ := e.s.HaltOf(ctx, testApp); h != nil {
			t.Fatalf("still halted: %+v", h)
		}
		if hs, _ := e.s.Halts(ctx); len(hs) != 0 {
			t.Fatalf("Halts after resume = %+v", hs)
		}
		if refs, _ := e.s.Resume(ctx, testApp); len(refs) != 0 {
			t.Fatalf("second Resume = %v", refs)
		}
		if err := e.s.Park(ctx, testApp, "j", 0); !errors.Is(err, ErrNotHalted) {
			t.Fatalf("Park when not halted: %v, want ErrNotHalted", err)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 600, Pending: 600})
	})
}

func TestLeases(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acquire := func(owner string, want bool) {
			t.Helper()
			got, err := e.s.AcquireLease(ctx, "puller:app", owner, time.Minute)
			if err != nil || got != want {
				t.Fatalf("AcquireLease(%s) = %v, %v; want %v", owner, got, err, want)
			}
		}
		acquire("a", true)
		acquire("b", false)
		acquire("a", true) // renew
		if ttl := e.rdb.PTTL(ctx, leaseKey("puller:app")).Val(); ttl <= 0 || ttl > time.Minute {
			t.Fatalf("lease TTL = %v", ttl)
		}
		if err := e.s.ReleaseLease(ctx, "puller:app", "b"); err != nil { // not b's: no-op
			t.Fatal(err)
		}
		acquire("b", false)
		if err := e.s.ReleaseLease(ctx, "puller:app", "a"); err != nil {
			t.Fatal(err)
		}
		acquire("b", true)
		if !e.real() {
			e.db.Mini.FastForward(time.Minute + time.Millisecond)
			acquire("c", true) // b's lease ran out
		}
		if _, err := e.s.AcquireLease(ctx, "", "a", time.Second); !errors.Is(err, ErrInvalid) {
			t.Fatalf("empty name: %v", err)
		}
		if _, err := e.s.AcquireLease(ctx, "x", "", time.Second); !errors.Is(err, ErrInvalid) {
			t.Fatalf("empty owner: %v", err)
		}
	})
}

// TestRetention: after a full life cycle every key the store wrote has a TTL, but the records of
// work not finished: a halt with a parked batch, its parked set, the list of halted apps and a
// receipt page not applied yet.
func TestRetention(t *testing.T) {
	t.Parallel()
	backendsOpts(t, Options{Retention: 5 * time.Hour}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 10, 4) // batches 0..2
		c := e.mustClaim(t, "j", 0, "t")
		rs := allSent("j", 0, c)
		rs[1] = NumberResult{Index: 1, State: Failed, Code: "F"}
		rs[2] = NumberResult{Index: 2, State: Retry, RetryAt: redistest.T0.Add(time.Minute)}
		if err := e.s.IndexSerials(ctx, "j", 0, rs); err != nil {
			t.Fatal(err)
		}
		e.commit(t, "j", 0, "t", rs)
		e.saveAndApply(t, []Receipt{receiptFor("j", 0, 0, nums(0, 1)[0], "SUCCESS"),
			{SerialNo: "nope", PhoneNumber: "+8613912345678", Status: "FAIL", ReceivedAt: redistest.T0}})
		if _, err := e.s.SaveReceiptPage(ctx, testApp, []Receipt{{SerialNo: "unapplied"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Halt(ctx, testApp, "H", redistest.T0); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Park(ctx, testApp, "j", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AcquireLease(ctx, "l", "o", time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Cancel(ctx, "j"); err != nil {
			t.Fatal(err)
		}
		keys := e.allKeys(t)
		if len(keys) < 14 {
			t.Fatalf("only %d keys: %v", len(keys), keys)
		}
		// The recent-jobs index has no TTL either: its members are pruned once their job is gone.
		unfinished := []string{haltKey(testApp), parkedKey(testApp), haltAppsKey, inboxKey(testApp), recentKey}
		for _, k := range keys {
			ttl := e.rdb.PTTL(ctx, k).Val()
			if slices.Contains(unfinished, k) {
				if ttl != -1 {
					t.Errorf("key %s has TTL %v, want none", k, ttl)
				}
				continue
			}
			if strings.HasPrefix(k, "sms:sn:") {
				// Serial index buckets live until the end of their day + retention.
				if want := 15*time.Hour + 5*time.Hour; ttl <= 0 || ttl > want {
					t.Errorf("serial bucket %s has TTL %v, want (0, %v]", k, ttl, want)
				}
				continue
			}
			if ttl <= 0 || ttl > 5*time.Hour {
				t.Errorf("key %s has TTL %v, want (0, 5h]", k, ttl)
			}
		}
	})
}

// TestRoundTrip10k: a job of 10,000 numbers from creation to done through receipts.
func TestRoundTrip10k(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const n = 10_000
		e.create(t, testJob("big"), n, MaxBatchSize)
		e.sendAll(t, "big", n/MaxBatchSize)
		e.wantCounts(t, "big", counts{State: StateDelivering, Total: n, Sent: n})
		numbers := nums(0, n)
		for p := 0; p < n; p += 100 {
			var page []Receipt
			for i := p; i < p+100; i++ {
				page = append(page, receiptFor("big", i/MaxBatchSize, i%MaxBatchSize, numbers[i], "SUCCESS"))
			}
			if st := e.saveAndApply(t, page); st.Applied != 100 {
				t.Fatalf("page %d: %+v", p/100, st)
			}
		}
		st := e.wantCounts(t, "big", counts{State: StateDone, Total: n, Sent: n, Delivered: n})
		if st.Fee != n {
			t.Fatalf("fee = %d", st.Fee)
		}
		if a, _ := e.s.ActiveJobs(ctx); len(a) != 0 {
			t.Fatalf("active = %v", a)
		}
	})
}

func TestPopParked(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, ok, err := e.s.PopParked(ctx, testApp); ok || err != nil {
			t.Fatalf("PopParked with nothing parked = %v, %v", ok, err)
		}
		if err := e.s.Halt(ctx, testApp, "H", redistest.T0); err != nil {
			t.Fatal(err)
		}
		for b := range 3 {
			if err := e.s.Park(ctx, testApp, "j", b); err != nil {
				t.Fatal(err)
			}
		}
		ref, ok, err := e.s.PopParked(ctx, testApp)
		if err != nil || !ok || ref.Job != "j" {
			t.Fatalf("PopParked = %+v, %v, %v", ref, ok, err)
		}
		refs, err := e.s.Resume(ctx, testApp)
		if err != nil || len(refs) != 2 || slices.Contains(refs, ref) {
			t.Fatalf("Resume after a pop = %v, %v (popped %v)", refs, err, ref)
		}
		// Not halted any more: nothing to pop even if something were parked.
		if _, ok, _ := e.s.PopParked(ctx, testApp); ok {
			t.Fatal("PopParked returned a batch of an app that is not halted")
		}
	})
}
