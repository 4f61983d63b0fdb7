package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// sendAll claims and commits every batch of a job as sent, with serials indexed.
func (e *env) sendAll(t *testing.T, job string, batches int) {
	t.Helper()
	for b := range batches {
		tok := fmt.Sprintf("tok-%d", b)
		c := e.mustClaim(t, job, b, tok)
		rs := allSent(job, b, c)
		if err := e.s.IndexSerials(context.Background(), job, b, rs); err != nil {
			t.Fatal(err)
		}
		e.commit(t, job, b, tok, rs)
	}
}

func receiptFor(job string, batch, idx int, number, status string) Receipt {
	return Receipt{SerialNo: fmt.Sprintf("%s-%d-%d", job, batch, idx), PhoneNumber: number, Status: status,
		Description: "DELIVRD", ReceivedAt: redistest.T0.Add(time.Minute)}
}

func sameReceipt(a, b Receipt) bool {
	eq := a.ReceivedAt.Equal(b.ReceivedAt)
	a.ReceivedAt, b.ReceivedAt = time.Time{}, time.Time{}
	return eq && a == b
}

func (e *env) saveAndApply(t *testing.T, page []Receipt) ApplyStats {
	t.Helper()
	ctx := context.Background()
	id, err := e.s.SaveReceiptPage(ctx, testApp, page)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.s.ApplyReceiptPage(ctx, testApp, SavedPage{ID: id, Receipts: page})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReceiptsAppliedOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 4, 200)
		e.sendAll(t, "j", 1)
		n := nums(0, 4)
		page := []Receipt{
			receiptFor("j", 0, 0, n[0], "SUCCESS"),
			receiptFor("j", 0, 1, n[1], "FAIL"),
			receiptFor("j", 0, 0, n[0], "SUCCESS"), // the same receipt twice in one page
		}
		id, err := e.s.SaveReceiptPage(ctx, testApp, page)
		if err != nil {
			t.Fatal(err)
		}
		saved, err := e.s.SavedReceiptPages(ctx, testApp)
		if err != nil || len(saved) != 1 || saved[0].ID != id || len(saved[0].Receipts) != 3 ||
			!sameReceipt(saved[0].Receipts[1], page[1]) {
			t.Fatalf("SavedReceiptPages = %+v, %v", saved, err)
		}
		st, err := e.s.ApplyReceiptPage(ctx, testApp, saved[0])
		if err != nil || st != (ApplyStats{Applied: 2, Duplicate: 1}) {
			t.Fatalf("apply = %+v, %v", st, err)
		}
		// Applying the same page again changes nothing.
		st, err = e.s.ApplyReceiptPage(ctx, testApp, saved[0])
		if err != nil || st != (ApplyStats{Duplicate: 3}) {
			t.Fatalf("second apply = %+v, %v", st, err)
		}
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 4, Sent: 4, Delivered: 1, Undelivered: 1})
		if saved, _ := e.s.SavedReceiptPages(ctx, testApp); len(saved) != 0 {
			t.Fatalf("applied page still saved: %+v", saved)
		}
		if got := e.batchField(t, "j", 0, "st"); got != "DUss" {
			t.Fatalf("states %q", got)
		}
		// The rest of the receipts arrive: done without waiting for the window.
		e.saveAndApply(t, []Receipt{receiptFor("j", 0, 2, n[2], "SUCCESS"), receiptFor("j", 0, 3, n[3], "SUCCESS")})
		e.wantCounts(t, "j", counts{State: StateDone, Total: 4, Sent: 4, Delivered: 3, Undelivered: 1})
	})
}

// TestReceiptsConcurrentAppliers: two pullers applying the same pages at once never double-count.
func TestReceiptsConcurrentAppliers(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 1000, 200)
		e.sendAll(t, "j", 5)
		numbers := nums(0, 1000)
		var pages []SavedPage
		for p := range 10 {
			var page []Receipt
			for i := p * 100; i < (p+1)*100; i++ {
				page = append(page, receiptFor("j", i/200, i%200, numbers[i], "SUCCESS"))
			}
			page = append(page, Receipt{SerialNo: fmt.Sprintf("stray-%d", p), PhoneNumber: "+8613999999999", Status: "SUCCESS", ReceivedAt: redistest.T0})
			id, err := e.s.SaveReceiptPage(ctx, testApp, page)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, SavedPage{ID: id, Receipts: page})
		}
		var mu sync.Mutex
		var total ApplyStats
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for _, p := range pages {
					st, err := e.s.ApplyReceiptPage(ctx, testApp, p)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					total.Applied += st.Applied
					total.Duplicate += st.Duplicate
					total.Unmatched += st.Unmatched
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if total != (ApplyStats{Applied: 1000, Duplicate: 1010, Unmatched: 10}) {
			t.Fatalf("stats over both appliers = %+v", total)
		}
		e.wantCounts(t, "j", counts{State: StateDone, Total: 1000, Sent: 1000, Delivered: 1000})
		if n, err := e.s.UnmatchedCount(ctx, testApp); err != nil || n != 10 {
			t.Fatalf("UnmatchedCount = %d, %v", n, err)
		}
	})
}

// TestReceiptSettlesUnknown: a receipt for a number whose outcome was unknown is evidence that it
// was sent: unknown -> delivered with sent+1, unknown-1. A receipt that overtakes the commit is
// kept too.
func TestReceiptSettlesUnknown(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 3, 200)
		c := e.mustClaim(t, "j", 0, "t")
		rs := allSent("j", 0, c)
		if err := e.s.IndexSerials(ctx, "j", 0, rs); err != nil {
			t.Fatal(err)
		}
		n := nums(0, 3)
		// The receipt of number 2 arrives before the commit.
		if st := e.saveAndApply(t, []Receipt{receiptFor("j", 0, 2, n[2], "SUCCESS")}); st.Applied != 1 {
			t.Fatalf("early receipt = %+v", st)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 3, Sent: 1, Pending: 2, Delivered: 1})
		e.commit(t, "j", 0, "t", []NumberResult{{Index: 0, State: Unknown}, {Index: 1, State: Unknown}, rs[2]})
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 3, Sent: 1, Unknown: 2, Pending: 2, Delivered: 1})
		if st := e.status(t, "j"); st.Fee != 1 {
			t.Fatalf("fee = %d", st.Fee)
		}
		e.saveAndApply(t, []Receipt{receiptFor("j", 0, 0, n[0], "SUCCESS"), receiptFor("j", 0, 1, n[1], "FAIL")})
		e.wantCounts(t, "j", counts{State: StateDone, Total: 3, Sent: 3, Delivered: 2, Undelivered: 1})
		if s := e.batchField(t, "j", 0, "s"); s != "done" {
			t.Fatalf("batch state %q", s)
		}
	})
}

// TestReceiptBySessionContext: a receipt whose serial we never learned (lost reply) matches by
// SessionContext and number.
func TestReceiptBySessionContext(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 5, 200)
		c := e.mustClaim(t, "j", 0, "t")
		e.commit(t, "j", 0, "t", nil) // reply lost: everything unknown
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 5, Unknown: 5, Pending: 5})
		sc := SessionContext("j", 0, c.Attempt)
		page := []Receipt{
			{SerialNo: "never-indexed", PhoneNumber: c.Numbers[3], Status: "SUCCESS", SessionContext: sc, ReceivedAt: redistest.T0},
			{PhoneNumber: "86" + c.Numbers[4][3:], Status: "SUCCESS", SessionContext: sc, ReceivedAt: redistest.T0},
			{PhoneNumber: "+8613700000000", Status: "SUCCESS", SessionContext: sc, ReceivedAt: redistest.T0},
		}
		if st := e.saveAndApply(t, page); st != (ApplyStats{Applied: 2, Unmatched: 1}) {
			t.Fatalf("apply = %+v", st)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 5, Sent: 2, Unknown: 3, Pending: 3, Delivered: 2})
		unk, _ := e.s.Unknowns(context.Background(), "j", 0)
		if len(unk) != 3 || unk[0].Index != 0 || unk[2].Index != 2 {
			t.Fatalf("Unknowns = %+v", unk)
		}
	})
}

func TestUnmatchedReceipts(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		num := "+8613812345678"
		r1 := Receipt{SerialNo: "x1", PhoneNumber: num, Status: "SUCCESS", Description: "DELIVRD", ReceivedAt: redistest.T0.Add(time.Minute)}
		r2 := Receipt{SerialNo: "x2", PhoneNumber: num, Status: "FAIL", Description: "UNDELIV", ReceivedAt: redistest.T0.Add(3 * time.Minute)}
		r3 := Receipt{SerialNo: "x3", PhoneNumber: "garbage", Status: "FAIL", ReceivedAt: redistest.T0}
		page := []Receipt{r2, r1, r3}
		id, err := e.s.SaveReceiptPage(ctx, testApp, page)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []ApplyStats{{Unmatched: 3}, {Duplicate: 3}} {
			st, err := e.s.ApplyReceiptPage(ctx, testApp, SavedPage{ID: id, Receipts: page})
			if err != nil || st != want {
				t.Fatalf("apply #%d = %+v, %v; want %+v", i+1, st, err, want)
			}
		}
		if n, _ := e.s.UnmatchedCount(ctx, testApp); n != 3 {
			t.Fatalf("UnmatchedCount = %d", n)
		}
		got, err := e.s.UnmatchedReceipts(ctx, num, redistest.T0)
		if err != nil || len(got) != 2 || !sameReceipt(got[0], r1) || !sameReceipt(got[1], r2) {
			t.Fatalf("UnmatchedReceipts = %+v, %v", got, err)
		}
		got, _ = e.s.UnmatchedReceipts(ctx, num, redistest.T0.Add(2*time.Minute))
		if len(got) != 1 || !sameReceipt(got[0], r2) {
			t.Fatalf("UnmatchedReceipts since +2m = %+v", got)
		}
		if n, _ := e.s.UnmatchedCount(ctx, "other-app"); n != 0 {
			t.Fatalf("UnmatchedCount(other) = %d", n)
		}
		if _, err := e.s.ApplyReceiptPage(ctx, testApp, SavedPage{Receipts: page}); err == nil {
			t.Fatal("applying a page without ID succeeded")
		}
	})
}

// TestUnmatchedCountedOnce: an unmatched receipt that arrives in two pages (pushed and pulled,
// or pushed twice) counts once; a new one in the second page still counts.
func TestUnmatchedCountedOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r1 := Receipt{SerialNo: "y1", PhoneNumber: "+8613812345678", Status: "SUCCESS", ReceivedAt: redistest.T0}
		r2 := Receipt{PhoneNumber: "+8613812345679", Status: "FAIL", ReceivedAt: redistest.T0} // no serial
		r3 := Receipt{SerialNo: "y3", PhoneNumber: "+8613812345670", Status: "SUCCESS", ReceivedAt: redistest.T0}
		if st := e.saveAndApply(t, []Receipt{r1, r2}); st != (ApplyStats{Unmatched: 2}) {
			t.Fatalf("first page: %+v", st)
		}
		if st := e.saveAndApply(t, []Receipt{r2, r1, r3}); st != (ApplyStats{Unmatched: 1, Duplicate: 2}) {
			t.Fatalf("second page: %+v, want 1 new and 2 already counted", st)
		}
		if n, err := e.s.UnmatchedCount(ctx, testApp); err != nil || n != 3 {
			t.Fatalf("UnmatchedCount = %d, %v; want 3", n, err)
		}
	})
}
