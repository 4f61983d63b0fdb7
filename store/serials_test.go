package store

import (
	"context"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func ref(job string, batch, idx int) SerialRef {
	return SerialRef{BatchRef: BatchRef{Job: job, Batch: batch}, Index: idx}
}

func TestSerialRefs(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.s.IndexSerials(ctx, "ja", 2, []NumberResult{{Index: 7, State: Sent, SerialNo: "sn-a"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.rdb.HSet(ctx, serialKey(serialShard("sn-bad"), dayOf(e.clock.Now())), "sn-bad", "not a ref").Err(); err != nil {
			t.Fatal(err)
		}
		got, err := e.s.SerialRefs(ctx, []string{"sn-a", "sn-none", "", "sn-bad", "sn-a"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]SerialRef{"sn-a": ref("ja", 2, 7), "sn-bad": {}}
		if !maps.Equal(got, want) {
			t.Errorf("SerialRefs = %v, want %v", got, want)
		}
		if got, err := e.s.SerialRefs(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("SerialRefs(nil) = %v, %v", got, err)
		}
	})
}

func TestIndexEvidenceSerials(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// Job A's send indexed its serial; job B's reconcile must not take it over.
		if err := e.s.IndexSerials(ctx, "ja", 0, []NumberResult{{Index: 3, State: Sent, SerialNo: "sn-a"}}); err != nil {
			t.Fatal(err)
		}
		rs := []NumberResult{
			{Index: 0, State: Sent, SerialNo: "sn-a"},     // indexed elsewhere
			{Index: 1, State: Sent, SerialNo: "sn-fresh"}, // never indexed: taken
			{Index: 2, State: Sent},                       // no serial: skipped
		}
		for run := range 2 { // a second run finds sn-fresh pointing here: no conflict
			conflicts, err := e.s.IndexEvidenceSerials(ctx, "jb", 4, rs)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]SerialRef{"sn-a": ref("ja", 0, 3)}; !maps.Equal(conflicts, want) {
				t.Fatalf("run %d: conflicts = %v, want %v", run, conflicts, want)
			}
		}
		got, err := e.s.SerialRefs(ctx, []string{"sn-a", "sn-fresh"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]SerialRef{"sn-a": ref("ja", 0, 3), "sn-fresh": ref("jb", 4, 1)}; !maps.Equal(got, want) {
			t.Errorf("index = %v, want %v", got, want)
		}
		if ttl := e.rdb.PTTL(ctx, serialKey(serialShard("sn-fresh"), dayOf(redistest.T0))).Val(); ttl <= DefaultRetention || ttl > DefaultRetention+24*time.Hour {
			t.Errorf("TTL of an evidence serial's bucket = %v, want (%v, %v]", ttl, DefaultRetention, DefaultRetention+24*time.Hour)
		}
		// The same serial claimed for another number of the same batch is a conflict too.
		conflicts, err := e.s.IndexEvidenceSerials(ctx, "jb", 4, []NumberResult{{Index: 9, State: Sent, SerialNo: "sn-fresh"}})
		if err != nil || !maps.Equal(conflicts, map[string]SerialRef{"sn-fresh": ref("jb", 4, 1)}) {
			t.Errorf("IndexEvidenceSerials for another index = %v, %v", conflicts, err)
		}
		if _, err := e.s.IndexEvidenceSerials(ctx, "", 0, rs); err == nil {
			t.Error("empty job id accepted")
		}
	})
}

func TestParseSessionContext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in             string
		job            string
		batch, attempt int
		ok             bool
	}{
		{SessionContext("job-1", 3, 2), "job-1", 3, 2, true},
		{"job-1|3", "", 0, 0, false},
		{"job-1|x|2", "", 0, 0, false},
		{"job-1|-1|2", "", 0, 0, false},
		{`{"ext":"v"}`, "", 0, 0, false},
		{"", "", 0, 0, false},
	} {
		job, batch, attempt, ok := ParseSessionContext(tc.in)
		if job != tc.job || batch != tc.batch || attempt != tc.attempt || ok != tc.ok {
			t.Errorf("ParseSessionContext(%q) = %q, %d, %d, %v", tc.in, job, batch, attempt, ok)
		}
	}
}

// TestRetryBatchesKeepCountingAttempts: a number moved into a retry batch (per-number retry-after
// code) or a resend batch (ResendUnknown) keeps its attempt count, so the retry policy's bounds
// (which read ClaimResult.Attempt) hold across batches.
func TestRetryBatchesKeepCountingAttempts(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 2, 200)
		batch, want := 0, 1
		tok := func() string { return "t" + strconv.Itoa(want) }
		// Three rounds of the 30-second limit: every retry batch's claim counts up.
		for range 3 {
			c := e.mustClaim(t, "j", batch, tok())
			if c.Attempt != want {
				t.Fatalf("batch %d: claim attempt = %d, want %d", batch, c.Attempt, want)
			}
			rs := []NumberResult{{Index: 0, State: Retry, RetryAt: e.clock.Now().Add(time.Second)}}
			if want == 1 {
				// The second number is sent at once; only the first keeps hitting the limit.
				rs = append(rs, NumberResult{Index: 1, State: Sent})
			}
			r := e.commit(t, "j", batch, tok(), rs)
			if len(r.RetryBatches) != 1 {
				t.Fatalf("commit = %+v", r)
			}
			batch = r.RetryBatches[0].Batch
			if a := e.batchField(t, "j", batch, "a"); a != strconv.Itoa(want) {
				t.Fatalf("retry batch %d starts at attempt %q, want %d", batch, a, want)
			}
			e.clock.Add(2 * time.Second)
			want++
		}
		// An unknown outcome, resent: the resend batch counts on too.
		c := e.mustClaim(t, "j", batch, tok())
		if c.Attempt != want {
			t.Fatalf("batch %d: claim attempt = %d, want %d", batch, c.Attempt, want)
		}
		e.commit(t, "j", batch, tok(), []NumberResult{{Index: 0, State: Unknown}})
		rb, ok, err := e.s.ResendUnknown(ctx, "j", batch, e.clock.Now())
		if err != nil || !ok {
			t.Fatalf("ResendUnknown = %v, %v", ok, err)
		}
		want++
		c = e.mustClaim(t, "j", rb.Batch, tok())
		if c.Attempt != want {
			t.Fatalf("resend batch %d: claim attempt = %d, want %d", rb.Batch, c.Attempt, want)
		}
		// The SessionContext of each attempt stays unique: the batch index differs.
		if rb.Batch != 4 {
			t.Errorf("resend batch = %d, want 4", rb.Batch)
		}
		e.commit(t, "j", rb.Batch, tok(), []NumberResult{{Index: 0, State: Failed, Code: "LimitExceeded.PhoneNumberThirtySecondLimit"}})
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 2, Sent: 1, Failed: 1})
	})
}
