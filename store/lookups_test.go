package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// sendBatch claims and commits one batch as sent, with serials indexed.
func (e *env) sendBatch(t *testing.T, job string, b int) {
	t.Helper()
	tok := fmt.Sprintf("tok-%d", b)
	c := e.mustClaim(t, job, b, tok)
	rs := allSent(job, b, c)
	if err := e.s.IndexSerials(context.Background(), job, b, rs); err != nil {
		t.Fatal(err)
	}
	e.commit(t, job, b, tok, rs)
}

// indexesOf returns the number indexes of an awaiting batch.
func indexesOf(b AwaitingBatch) []int {
	out := make([]int, len(b.Numbers))
	for i, u := range b.Numbers {
		out[i] = u.Index
	}
	return out
}

// awaiting is a comparable summary of one AwaitingBatch.
type awaiting struct {
	batch, round int
	indexes      string
	partial      bool
}

func summary(bs []AwaitingBatch) []awaiting {
	out := make([]awaiting, len(bs))
	for i, b := range bs {
		out[i] = awaiting{b.Batch, b.Round, fmt.Sprint(indexesOf(b)), b.Partial}
	}
	return out
}

func (e *env) awaiting(t *testing.T, age time.Duration, max int) []AwaitingBatch {
	t.Helper()
	bs, err := e.s.AwaitingReceipts(context.Background(), e.clock.Now().Add(-age), max)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestAwaitingReceiptsOldestFirstBoundedAndMarked(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const age = 5 * time.Minute
		e.create(t, testJob("j"), 12, 4) // batches 0, 1, 2 of 4 numbers each
		n := nums(0, 12)
		sentAt := map[int]time.Time{}
		for _, b := range []int{2, 0, 1} { // batch 2 is sent first, then 0, then 1
			sentAt[b] = e.clock.Now()
			e.sendBatch(t, "j", b)
			e.advance(time.Minute)
		}
		// Receipts came for numbers 1 of batch 0 and 8 of batch 2 (index 0 of batch 2).
		e.saveAndApply(t, []Receipt{receiptFor("j", 0, 1, n[1], "SUCCESS"), receiptFor("j", 2, 0, n[8], "FAIL")})

		if got := e.awaiting(t, age, 100); len(got) != 0 {
			t.Fatalf("3 minutes after the first send: %+v, want nothing due", summary(got))
		}
		e.advance(2*time.Minute + time.Second) // batch 2 sent 5 min ago, batch 0 4 min ago
		if got, want := summary(e.awaiting(t, age, 100)), []awaiting{{2, 1, "[1 2 3]", false}}; !slices.Equal(got, want) {
			t.Fatalf("awaiting = %+v, want %+v", got, want)
		}
		e.advance(2 * time.Minute) // all three are due
		got := e.awaiting(t, age, 100)
		if want := []awaiting{{2, 1, "[1 2 3]", false}, {0, 1, "[0 2 3]", false}, {1, 1, "[0 1 2 3]", false}}; !slices.Equal(summary(got), want) {
			t.Fatalf("awaiting = %+v, want %+v (oldest send first)", summary(got), want)
		}
		if b := got[1]; b.App != testApp || !b.SentAt.Equal(sentAt[0]) || b.Attempt != 1 || b.Numbers[0].Number != n[0] {
			t.Errorf("batch 0 = %+v", b)
		}
		// The bound cuts the last batch short.
		if got, want := summary(e.awaiting(t, age, 5)), []awaiting{{2, 1, "[1 2 3]", false}, {0, 1, "[0 2]", true}}; !slices.Equal(got, want) {
			t.Fatalf("awaiting at most 5 = %+v, want %+v", got, want)
		}

		// Progress: batch 2's round 1 got past index 1; batch 0's round 1 is over, round 2 due
		// in 10 minutes; batch 1 is done for good.
		marks := []struct {
			batch int
			m     LookupMark
		}{
			{2, LookupMark{Round: 1, Next: 2}},
			{0, LookupMark{Round: 1, Done: true, NextDue: e.clock.Now().Add(10 * time.Minute)}},
			{1, LookupMark{Round: 1, Done: true}},
		}
		for _, m := range marks {
			if err := e.s.RecordLookup(ctx, "j", m.batch, m.m); err != nil {
				t.Fatal(err)
			}
		}
		// A stale progress mark of a round already done changes nothing.
		if err := e.s.RecordLookup(ctx, "j", 0, LookupMark{Round: 1, Next: 3}); err != nil {
			t.Fatal(err)
		}
		if got, want := summary(e.awaiting(t, age, 100)), []awaiting{{2, 1, "[2 3]", false}}; !slices.Equal(got, want) {
			t.Fatalf("after the marks: %+v, want %+v", got, want)
		}
		e.advance(10 * time.Minute)
		if got, want := summary(e.awaiting(t, age, 100)), []awaiting{{2, 1, "[2 3]", false}, {0, 2, "[0 2 3]", false}}; !slices.Equal(got, want) {
			t.Fatalf("once round 2 is due: %+v, want %+v", got, want)
		}
		// A round that got past its last number without being marked done is listed without
		// numbers, so that it can be.
		if err := e.s.RecordLookup(ctx, "j", 2, LookupMark{Round: 1, Next: 4}); err != nil {
			t.Fatal(err)
		}
		if got, want := summary(e.awaiting(t, age, 100)), []awaiting{{2, 1, "[]", false}, {0, 2, "[0 2 3]", false}}; !slices.Equal(got, want) {
			t.Fatalf("after the last number of a round: %+v, want %+v", got, want)
		}
		// Receipts for the rest: nothing is awaited, and the job is skipped unread.
		var page []Receipt
		for b := range 3 {
			for i := range 4 {
				page = append(page, receiptFor("j", b, i, n[4*b+i], "SUCCESS"))
			}
		}
		e.saveAndApply(t, page)
		if got := e.awaiting(t, age, 100); len(got) != 0 {
			t.Fatalf("with every receipt in: %+v", summary(got))
		}
		if _, err := e.s.AwaitingReceipts(ctx, e.clock.Now(), 0); err == nil {
			t.Error("AwaitingReceipts(max 0) = nil error")
		}
	})
}

func TestRecordLookupNeverRecreatesABatch(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, m := range []LookupMark{{Round: 1, Next: 3}, {Round: 1, Done: true}} {
			if err := e.s.RecordLookup(ctx, "gone", 0, m); err != nil {
				t.Fatal(err)
			}
		}
		if keys := e.allKeys(t); len(keys) != 0 {
			t.Errorf("keys after marking a batch that does not exist: %v", keys)
		}
		if err := e.s.RecordLookup(ctx, "gone", 0, LookupMark{}); err == nil {
			t.Error("RecordLookup(round 0) = nil error")
		}
	})
}

// A receipt found by number lookup and the same receipt pulled later count once, whichever
// comes first.
func TestLookedUpReceiptCountsOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 2, 200)
		e.sendAll(t, "j", 1)
		n := nums(0, 2)
		lookedUp := receiptFor("j", 0, 0, n[0], "SUCCESS")
		lookedUp.ReceivedAt = redistest.T0.Add(2 * time.Minute) // the lookup's copy may carry another time
		if st := e.saveAndApply(t, []Receipt{lookedUp}); st != (ApplyStats{Applied: 1}) {
			t.Fatalf("lookup page = %+v", st)
		}
		pulled := []Receipt{receiptFor("j", 0, 0, n[0], "SUCCESS"), receiptFor("j", 0, 1, n[1], "FAIL")}
		if st := e.saveAndApply(t, pulled); st != (ApplyStats{Applied: 1, Duplicate: 1}) {
			t.Fatalf("pulled page = %+v", st)
		}
		again := receiptFor("j", 0, 1, n[1], "FAIL")
		if st := e.saveAndApply(t, []Receipt{again}); st != (ApplyStats{Duplicate: 1}) {
			t.Fatalf("lookup after the pull = %+v", st)
		}
		e.wantCounts(t, "j", counts{State: StateDone, Total: 2, Sent: 2, Delivered: 1, Undelivered: 1})
	})
}
