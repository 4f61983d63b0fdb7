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

// TestSuppressionList: add, look up, keep the first reason, list every entry, remove; on every
// backend, Cluster included (every command of the list is one slot).
func TestSuppressionList(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		listed := nums(0, 600) // spread over most of the 256 shards
		if err := e.s.Suppress(ctx, listed[:400], "manual"); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Minute)
		// Again for 300..599: 300..399 keep their first reason and time.
		if err := e.s.Suppress(ctx, listed[300:], "FailedOperation.PhoneNumberInBlacklist"); err != nil {
			t.Fatal(err)
		}
		query := append(slices.Clone(listed[590:]), nums(1000, 5)...)
		got, err := e.s.Suppressed(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		for i, ok := range got {
			if want := i < 10; ok != want {
				t.Errorf("Suppressed(%s) = %v, want %v", query[i], ok, want)
			}
		}

		all := map[string]Suppression{}
		for sp, err := range e.s.Suppressions(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := all[sp.Number]; dup {
				t.Fatalf("%s listed twice", sp.Number)
			}
			all[sp.Number] = sp
		}
		if len(all) != len(listed) {
			t.Fatalf("listed %d entries, want %d", len(all), len(listed))
		}
		for i, n := range listed {
			want := Suppression{Number: n, Reason: "manual", At: redistest.T0}
			if i >= 400 {
				want = Suppression{Number: n, Reason: "FailedOperation.PhoneNumberInBlacklist", At: redistest.T0.Add(time.Minute)}
			}
			if got := all[n]; got.Number != want.Number || got.Reason != want.Reason || !got.At.Equal(want.At) {
				t.Fatalf("entry %d = %+v, want %+v", i, got, want)
			}
		}

		// A record of consent: no key of the list expires.
		shards := map[string]bool{}
		for _, k := range e.allKeys(t) {
			if !strings.HasPrefix(k, "sms:supp:") {
				continue
			}
			shards[k] = true
			if ttl := e.rdb.PTTL(ctx, k).Val(); ttl != -1 {
				t.Errorf("%s has TTL %v, want none", k, ttl)
			}
		}
		if len(shards) < 100 || len(shards) > suppShards {
			t.Errorf("the list spans %d keys, want most of the %d shards", len(shards), suppShards)
		}

		n, err := e.s.Unsuppress(ctx, append(slices.Clone(listed[:3]), nums(2000, 2)...))
		if err != nil || n != 3 {
			t.Fatalf("Unsuppress = %d, %v; want 3 removed", n, err)
		}
		got, err = e.s.Suppressed(ctx, listed[:4])
		if err != nil || !slices.Equal(got, []bool{false, false, false, true}) {
			t.Fatalf("after Unsuppress: Suppressed = %v, %v", got, err)
		}
		count := 0
		for _, err := range e.s.Suppressions(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			count++
		}
		if count != len(listed)-3 {
			t.Fatalf("listed %d after removing 3 of %d", count, len(listed))
		}
	})
}

// TestSuppressionListInput: numbers that are not E.164 are refused before anything is written;
// an empty list is fine; a long reason is cut, never refused.
func TestSuppressionListInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, redistest.Mini(t), Options{})
	ctx := context.Background()
	bad := []string{"+8613800000001", "13800000002"}
	if err := e.s.Suppress(ctx, bad, "r"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Suppress(%q) = %v, want ErrInvalid", bad, err)
	}
	if got, err := e.s.Suppressed(ctx, bad[:1]); err != nil || got[0] {
		t.Fatalf("a refused Suppress wrote %v, %v", got, err)
	}
	if _, err := e.s.Suppressed(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Suppressed(%q) = %v, want ErrInvalid", bad, err)
	}
	if _, err := e.s.Unsuppress(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Unsuppress(%q) = %v, want ErrInvalid", bad, err)
	}
	if got, err := e.s.Suppressed(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("Suppressed(nil) = %v, %v", got, err)
	}
	long := strings.Repeat("退", 100) // 300 bytes
	if err := e.s.Suppress(ctx, bad[:1], long+"|x\xff"); err != nil {
		t.Fatal(err)
	}
	for sp, err := range e.s.Suppressions(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if len(sp.Reason) > MaxSuppressReason || !strings.HasPrefix(long, sp.Reason) || len(sp.Reason) < MaxSuppressReason-3 {
			t.Fatalf("reason kept as %d bytes %q, want a prefix of the reason of at most %d bytes", len(sp.Reason), sp.Reason, MaxSuppressReason)
		}
	}
}

func TestCutReason(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"TD", "TD"},
		{"a|b", "a|b"},
		{"bad\xffbyte", "bad\uFFFDbyte"},
		{strings.Repeat("a", MaxSuppressReason+10), strings.Repeat("a", MaxSuppressReason)},
		{strings.Repeat("a", MaxSuppressReason-1) + "é", strings.Repeat("a", MaxSuppressReason-1)},
	}
	for _, tc := range tests {
		if got := cutReason(tc.in); got != tc.want {
			t.Errorf("cutReason(%.20q...) = %.20q... (%d bytes), want %d bytes", tc.in, got, len(got), len(tc.want))
		}
	}
}

func TestParseSuppValue(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1_700_000_000_123)
	tests := []struct {
		v    string
		want Suppression
	}{
		{suppValue(at, "STOP"), Suppression{Number: "+1", Reason: "STOP", At: at}},
		{suppValue(at, "a|b"), Suppression{Number: "+1", Reason: "a|b", At: at}},
		{suppValue(at, ""), Suppression{Number: "+1", At: at}},
		{"garbage", Suppression{Number: "+1", Reason: "garbage"}},
		{"x|y", Suppression{Number: "+1", Reason: "x|y"}},
	}
	for _, tc := range tests {
		got := parseSuppValue("+1", tc.v)
		if got.Number != tc.want.Number || got.Reason != tc.want.Reason || !got.At.Equal(tc.want.At) {
			t.Errorf("parseSuppValue(%q) = %+v, want %+v", tc.v, got, tc.want)
		}
	}
}

// TestCommitSuppressed: suppressed numbers are final, counted suppressed (not failed, not
// pending), and a batch of only suppressed numbers is committed from its reservation, without a
// launch (no attempt counted). A job of only suppressed numbers is done.
func TestCommitSuppressed(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()

		// Mixed: one sent, one suppressed, one failed.
		e.create(t, testJob("mix"), 3, 200)
		c := e.mustClaim(t, "mix", 0, "t")
		rs := []NumberResult{
			{Index: c.Indexes[0], State: Sent, SerialNo: "s0", Fee: 1},
			{Index: c.Indexes[1], State: Suppressed},
			{Index: c.Indexes[2], State: Failed, Code: "InvalidParameterValue.IncorrectPhoneNumber"},
		}
		if res := e.commit(t, "mix", 0, "t", rs); !res.Applied || res.HasUnknown || len(res.RetryBatches) != 0 {
			t.Fatalf("commit = %+v", res)
		}
		if got := e.batchField(t, "mix", 0, "st"); got != "sxf" {
			t.Fatalf("state bytes %q, want sxf", got)
		}
		e.clock.Add(DefaultReceiptWindow)
		st := e.wantCounts(t, "mix", counts{State: StatePartial, Total: 3, Sent: 1, Failed: 1})
		if st.Suppressed != 1 || st.FailedByCode["InvalidParameterValue.IncorrectPhoneNumber"] != 1 || len(st.FailedByCode) != 1 {
			t.Fatalf("status %+v", st)
		}
		// The same commit again replays and counts nothing twice.
		e.commit(t, "mix", 0, "t", rs)
		if st := e.status(t, "mix"); st.Suppressed != 1 || st.Pending != 0 {
			t.Fatalf("after a replayed commit: %+v", st)
		}

		// Every number suppressed: committed from the reservation, never launched.
		e.create(t, testJob("all"), 4, 2)
		for b := range 2 {
			c := e.mustReserve(t, "all", b, "r")
			rs := make([]NumberResult, len(c.Indexes))
			for i, idx := range c.Indexes {
				rs[i] = NumberResult{Index: idx, State: Suppressed}
			}
			if res := e.commit(t, "all", b, "r", rs); !res.Applied {
				t.Fatalf("commit of batch %d not applied", b)
			}
			if a := e.batchField(t, "all", b, "a"); a != "" && a != "0" {
				t.Errorf("batch %d counts attempt %q, want none", b, a)
			}
			if again := e.claim(t, "all", b, "other"); again.Outcome != Done {
				t.Errorf("claim after the commit = %v, want Done", again.Outcome)
			}
		}
		st = e.wantCounts(t, "all", counts{State: StateDone, Total: 4})
		if st.Suppressed != 4 || !st.Final {
			t.Fatalf("status %+v", st)
		}
		// A cancel after that changes nothing: nothing is pending.
		if st, err := e.s.Cancel(ctx, "all"); err != nil || st.State != StateDone || st.Cancelled != 0 {
			t.Fatalf("Cancel = %+v, %v", st, err)
		}

		// A late commit of a launched claim that expired into unknown: its suppressed number
		// leaves unknown.
		e.create(t, testJob("late"), 2, 200)
		c = e.mustClaim(t, "late", 0, "old")
		e.clock.Add(DefaultClaimLease + time.Second)
		if r := e.claim(t, "late", 0, "new"); r.Outcome != Unresolved {
			t.Fatalf("claim after the lease = %v, want Unresolved", r.Outcome)
		}
		e.wantCounts(t, "late", counts{State: StateRunning, Total: 2, Unknown: 2, Pending: 2})
		e.commit(t, "late", 0, "old", []NumberResult{
			{Index: c.Indexes[0], State: Sent, SerialNo: "late-0", Fee: 1},
			{Index: c.Indexes[1], State: Suppressed},
		})
		st = e.wantCounts(t, "late", counts{State: StateDelivering, Total: 2, Sent: 1})
		if st.Suppressed != 1 {
			t.Fatalf("status %+v", st)
		}
	})
}

// TestDeriveStateSuppressed: suppressed numbers are settled, neither pending nor failed.
func TestDeriveStateSuppressed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   stateInput
		want JobState
	}{
		{"only suppressed numbers: done", stateInput{Total: 3, Suppressed: 3}, StateDone},
		{"suppressed and sent: done", stateInput{Total: 3, Sent: 2, Suppressed: 1}, StateDone},
		{"suppressed and sent, receipts arriving", stateInput{Total: 3, Sent: 2, Suppressed: 1, ReceiptsOpen: true}, StateDelivering},
		{"suppressed and failed: failed", stateInput{Total: 3, Failed: 2, Suppressed: 1}, StateFailed},
		{"suppressed, sent and failed: partial", stateInput{Total: 3, Sent: 1, Failed: 1, Suppressed: 1}, StatePartial},
		{"suppressed, rest pending: running", stateInput{Total: 3, Suppressed: 1}, StateRunning},
		{"suppressed and cancelled: cancelled", stateInput{Total: 3, Cancelled: 2, Suppressed: 1, CancelRequested: true}, StateCancelled},
	}
	for _, tc := range tests {
		if got := deriveState(tc.in); got != tc.want {
			t.Errorf("%s: deriveState(%+v) = %s, want %s", tc.name, tc.in, got, tc.want)
		}
	}
}
