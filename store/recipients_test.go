package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// recipientsOf collects a job's recipient records by number.
func (e *env) recipientsOf(t *testing.T, job string) map[string]RecipientRecord {
	t.Helper()
	out := map[string]RecipientRecord{}
	err := e.s.Recipients(context.Background(), job, func(r RecipientRecord) error {
		if _, dup := out[r.Number]; dup {
			t.Errorf("number %s reported twice", r.Number)
		}
		out[r.Number] = r
		return nil
	})
	if err != nil {
		t.Fatalf("Recipients(%s): %v", job, err)
	}
	return out
}

// TestRecipientsColumns: every state a number can end in shows its columns: sent (common and
// own fee), failed by Tencent and failed by expiry, unknown with its code, unknown settled by
// reconcile and by a receipt, delivered, undelivered, retried (one row, in its retry batch),
// cancelled and pending.
func TestRecipientsColumns(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		n := nums(0, 10)
		if _, err := e.s.CreateJob(ctx, testJob("r"), [][]string{{"1"}},
			[]NewBatch{{Numbers: n[:8]}, {Numbers: n[8:]}}, 0); err != nil {
			t.Fatal(err)
		}
		launch := e.clock.Now()
		e.mustClaim(t, "r", 0, "t")
		e.advance(2 * time.Second)
		rs := []NumberResult{
			{Index: 0, State: Sent, SerialNo: "2640:0", Fee: 1, Code: "Ok"},
			{Index: 1, State: Sent, SerialNo: "2640:1", Fee: 2},
			{Index: 2, State: Failed, Code: "FailedOperation.PhoneNumberInBlacklist"},
			{Index: 3, State: Unknown, Code: "InternalError.Timeout"},
			{Index: 4, State: Unknown},
			{Index: 5, State: Sent, SerialNo: "2640:5", Fee: 1},
			{Index: 6, State: Sent, SerialNo: "2640:6", Fee: 1},
			{Index: 7, State: Retry, Code: "LimitExceeded.PhoneNumberThirtySecondLimit", RetryAt: e.clock.Now().Add(time.Minute)},
		}
		if err := e.s.IndexSerials(ctx, "r", 0, rs); err != nil {
			t.Fatal(err)
		}
		cr := e.commit(t, "r", 0, "t", rs)
		if len(cr.RetryBatches) != 1 || cr.RetryBatches[0].Batch != 2 {
			t.Fatalf("commit: %+v, want retry batch 2", cr)
		}
		if err := e.s.SettleUnknown(ctx, "r", 0, []NumberResult{{Index: 4, State: Sent, SerialNo: "2640:4"}}); err != nil {
			t.Fatal(err)
		}
		recv := redistest.T0.Add(time.Minute).Truncate(time.Second)
		e.saveAndApply(t, []Receipt{
			{SerialNo: "2640:5", PhoneNumber: n[5], Status: "SUCCESS", Description: "DELIVRD", ReceivedAt: recv},
			{SerialNo: "2640:6", PhoneNumber: n[6], Status: "FAIL", Description: "MK:0001\tbad", ReceivedAt: recv},
			// the unknown number 3, settled by its receipt (its serial was never indexed: by context)
			{SerialNo: "2640:3", PhoneNumber: n[3], Status: "SUCCESS", Description: "DELIVRD", ReceivedAt: recv,
				SessionContext: SessionContext("r", 0, 1)},
		})
		retryAt := e.clock.Now()
		e.advance(time.Minute)
		c := e.mustClaim(t, "r", 2, "t2")
		e.commit(t, "r", 2, "t2", allSent("r", 2, c))
		if _, err := e.s.Cancel(ctx, "r"); err != nil {
			t.Fatal(err)
		}

		got := e.recipientsOf(t, "r")
		if len(got) != 10 {
			t.Fatalf("%d recipients reported, want 10: %v", len(got), got)
		}
		retrySent := retryAt.Add(time.Minute)
		want := map[string]RecipientRecord{
			n[0]: {Batch: 0, Index: 0, State: RecipientSent, SerialNo: "2640:0", Code: "Ok", Fee: 1, FeeKnown: true, SentAt: launch},
			n[1]: {Batch: 0, Index: 1, State: RecipientSent, SerialNo: "2640:1", Code: "Ok", Fee: 2, FeeKnown: true, SentAt: launch},
			n[2]: {Batch: 0, Index: 2, State: RecipientFailed, Code: "FailedOperation.PhoneNumberInBlacklist"},
			n[3]: {Batch: 0, Index: 3, State: RecipientDelivered, SerialNo: "2640:3", Code: "InternalError.Timeout",
				ReceiptStatus: "SUCCESS", ReceiptDescription: "DELIVRD", SentAt: launch, ReceivedAt: recv},
			n[4]: {Batch: 0, Index: 4, State: RecipientSent, SerialNo: "2640:4", Code: "Ok", SentAt: launch},
			n[5]: {Batch: 0, Index: 5, State: RecipientDelivered, SerialNo: "2640:5", Code: "Ok", Fee: 1, FeeKnown: true,
				ReceiptStatus: "SUCCESS", ReceiptDescription: "DELIVRD", SentAt: launch, ReceivedAt: recv},
			n[6]: {Batch: 0, Index: 6, State: RecipientUndelivered, SerialNo: "2640:6", Code: "Ok", Fee: 1, FeeKnown: true,
				ReceiptStatus: "FAIL", ReceiptDescription: "MK:0001 bad", SentAt: launch, ReceivedAt: recv},
			n[7]: {Batch: 2, Index: 0, State: RecipientSent, SerialNo: "r-2-0", Code: "Ok", Fee: 1, FeeKnown: true, SentAt: retrySent},
			n[8]: {Batch: 1, Index: 0, State: RecipientCancelled},
			n[9]: {Batch: 1, Index: 1, State: RecipientCancelled},
		}
		for num, w := range want {
			w.Number = num
			g := got[num]
			if !g.SentAt.Equal(w.SentAt) || !g.ReceivedAt.Equal(w.ReceivedAt) {
				t.Errorf("%s: sent %v received %v, want %v %v", num, g.SentAt, g.ReceivedAt, w.SentAt, w.ReceivedAt)
			}
			g.SentAt, g.ReceivedAt, w.SentAt, w.ReceivedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if g != w {
				t.Errorf("%s:\n got %+v\nwant %+v", num, g, w)
			}
		}
		st := e.status(t, "r")
		if st.Sent != 7 || st.Delivered != 2 || st.Undelivered != 1 || st.Failed != 1 || st.Cancelled != 2 {
			t.Errorf("status %+v", countsOf(st))
		}
	})
}

// TestRecipientsExpiredAndPending: numbers failed as a whole (expiry) report the batch's code;
// pending numbers report nothing but their state. A missing job is ErrNotFound; fn's error stops.
func TestRecipientsExpiredAndPending(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		job := testJob("x")
		job.ExpiresAt = e.clock.Now().Add(time.Minute)
		if _, err := e.s.CreateJob(ctx, job, [][]string{{"1"}}, batchesOf(nums(0, 4), 2), 0); err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Minute)
		if r := e.claim(t, "x", 0, "t"); r.Outcome != Expired {
			t.Fatalf("claim: %v, want Expired", r.Outcome)
		}
		got := e.recipientsOf(t, "x")
		for i, num := range nums(0, 4) {
			g := got[num]
			want := RecipientRecord{Number: num, Batch: i / 2, Index: i % 2, State: RecipientPending}
			if i < 2 {
				want.State, want.Code = RecipientFailed, ExpiredCode
			}
			if g != want {
				t.Errorf("%s:\n got %+v\nwant %+v", num, g, want)
			}
		}
		if err := e.s.Recipients(ctx, "nope", func(RecipientRecord) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing job: %v, want ErrNotFound", err)
		}
		stop := errors.New("stop")
		calls := 0
		err := e.s.Recipients(ctx, "x", func(RecipientRecord) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("fn error: %v after %d calls, want stop after 1", err, calls)
		}
	})
}

// TestReceiptWrittenOnce: a receipt applied twice (pull and push, two pullers) writes its line
// once, and a second, different receipt for a number already delivered changes nothing.
func TestReceiptWrittenOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("w"), 2, 2)
		e.sendAll(t, "w", 1)
		r := receiptFor("w", 0, 0, nums(0, 1)[0], "SUCCESS")
		e.saveAndApply(t, []Receipt{r})
		rc := e.batchField(t, "w", 0, "rc")
		e.saveAndApply(t, []Receipt{r})
		later := r
		later.Status, later.Description, later.ReceivedAt = "FAIL", "other", r.ReceivedAt.Add(time.Hour)
		e.saveAndApply(t, []Receipt{later})
		if got := e.batchField(t, "w", 0, "rc"); got != rc || rc == "" {
			t.Errorf("rc after repeats %q, want %q", got, rc)
		}
		hc, err := e.s.HourlyCounts(context.Background(), testApp, redistest.T0, redistest.T0)
		if err != nil {
			t.Fatal(err)
		}
		if hc[0].Delivered != 1 || hc[0].Undelivered != 0 {
			t.Errorf("hourly %+v, want 1 delivered", hc[0])
		}
	})
}

// TestCommitReplayWritesNoResults: a repeated Commit replays and leaves the results as the first
// wrote them; a Commit by a token that lost the claim writes none.
func TestCommitReplayWritesNoResults(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("c"), 2, 2)
		c := e.mustClaim(t, "c", 0, "t")
		e.commit(t, "c", 0, "t", allSent("c", 0, c))
		sr := e.batchField(t, "c", 0, "sr")
		if sr != "c-0-0\nc-0-1" {
			t.Fatalf("sr %q", sr)
		}
		other := []NumberResult{{Index: 0, State: Sent, SerialNo: "other", Fee: 9}, {Index: 1, State: Sent, SerialNo: "other2", Fee: 9}}
		e.commit(t, "c", 0, "t", other)
		e.commit(t, "c", 0, "nope", other)
		if got := e.batchField(t, "c", 0, "sr"); got != sr {
			t.Errorf("sr after replay %q, want %q", got, sr)
		}
		hc, err := e.s.HourlyCounts(context.Background(), "", redistest.T0, redistest.T0)
		if err != nil {
			t.Fatal(err)
		}
		if hc[0].Sent != 2 || hc[0].Fee != 2 {
			t.Errorf("hourly %+v, want 2 sent, fee 2", hc[0])
		}
	})
}

// TestMemoryPerSentNumber measures what a sent, delivered number's results add to its batch
// record (MEMORY USAGE on a real Redis; miniredis approximates), with Tencent-length serials.
func TestMemoryPerSentNumber(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const batches = 50
		const n = batches * MaxBatchSize
		e.create(t, testJob("m"), n, MaxBatchSize)
		queued, err := e.s.MemoryPerNumber(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		for b := range batches {
			tok := fmt.Sprintf("t%d", b)
			c := e.mustClaim(t, "m", b, tok)
			rs := make([]NumberResult, len(c.Indexes))
			for i, idx := range c.Indexes {
				rs[i] = NumberResult{Index: idx, State: Sent, Fee: 1, Code: "Ok",
					SerialNo: fmt.Sprintf("2640:%022d", b*MaxBatchSize+idx)} // as long as a Tencent serial
			}
			if err := e.s.IndexSerials(ctx, "m", b, rs); err != nil {
				t.Fatal(err)
			}
			e.commit(t, "m", b, tok, rs)
		}
		sent, err := e.s.MemoryPerNumber(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		numbers := nums(0, n)
		for p := 0; p < n; p += 100 {
			page := make([]Receipt, 0, 100)
			for i := p; i < p+100; i++ {
				page = append(page, Receipt{SerialNo: fmt.Sprintf("2640:%022d", i), PhoneNumber: numbers[i],
					Status: ReceiptSuccess, Description: "DELIVRD", ReceivedAt: redistest.T0.Add(time.Minute)})
			}
			e.saveAndApply(t, page)
		}
		delivered, err := e.s.MemoryPerNumber(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MEMORY USAGE per number: queued %.1f, sent %.1f (+%.1f), delivered %.1f (+%.1f more)",
			queued, sent, sent-queued, delivered, delivered-sent)
		if e.real() && delivered-queued > 60 {
			t.Errorf("results cost %.1f bytes per sent, delivered number; budget 60", delivered-queued)
		}
	})
}

// TestReceivedAt: the time part of an rc line, relative to the launch's second or absolute.
func TestReceivedAt(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1772355600700) // a launch at .700 s
	cases := []struct {
		part string
		at   time.Time
		want time.Time
	}{
		{"", at, time.Time{}},
		{"60", at, time.Unix(1772355660, 0)},
		{"-2", at, time.Unix(1772355598, 0)},
		{"=1772355661", time.Time{}, time.Unix(1772355661, 0)},
		{"5", time.Time{}, time.Time{}},
		{"x", at, time.Time{}},
	}
	for _, c := range cases {
		if got := receivedAt(c.part, c.at); !got.Equal(c.want) {
			t.Errorf("receivedAt(%q, %v) = %v, want %v", c.part, c.at, got, c.want)
		}
	}
}

// TestRecipientsSuppressed: a number left out as suppressed has its report row.
func TestRecipientsSuppressed(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		n := nums(0, 2)
		if _, err := e.s.CreateJob(ctx, testJob("rs"), [][]string{{"1"}}, []NewBatch{{Numbers: n}}, 0); err != nil {
			t.Fatal(err)
		}
		e.mustClaim(t, "rs", 0, "t")
		e.commit(t, "rs", 0, "t", []NumberResult{
			{Index: 0, State: Sent, SerialNo: "2640:0", Fee: 1},
			{Index: 1, State: Suppressed},
		})
		got := e.recipientsOf(t, "rs")
		if len(got) != 2 || got[n[1]].State != RecipientSuppressed || got[n[0]].State != RecipientSent {
			t.Fatalf("recipients %+v, want %s sent and %s suppressed", got, n[0], n[1])
		}
	})
}
