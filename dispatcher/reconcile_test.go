package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

type reconcileFixture struct {
	st      *fakeStore
	snd     *fakeSender
	enq     *fakeEnqueuer
	lim     *fakeLimiter
	clock   *redistest.Clock
	h       *ReconcileHandler
	sentAt  time.Time
	settled []store.NumberResult
	applied []store.Receipt
	indexed []store.NumberResult
	// refs is the serial index SerialRefs reads; IndexEvidenceSerials adds to it where a serial is
	// absent and reports the others as conflicts.
	refs map[string]store.SerialRef
}

// newReconcileFixture has two unknown numbers of j1/0, attempt 2, claimed at t0.
func newReconcileFixture(t *testing.T, prio string) *reconcileFixture {
	t.Helper()
	f := &reconcileFixture{st: &fakeStore{}, snd: &fakeSender{}, enq: &fakeEnqueuer{}, lim: &fakeLimiter{},
		clock: redistest.NewClock(t0.Add(10 * time.Second)), sentAt: t0}
	f.st.UnknownsFunc = func(context.Context, string, int) ([]store.UnknownNumber, error) {
		return []store.UnknownNumber{
			{Index: 0, Number: testNumbers[0], Attempt: 2, SentAt: f.sentAt},
			{Index: 5, Number: testNumbers[1], Attempt: 2, SentAt: f.sentAt},
		}, nil
	}
	f.st.JobFunc = func(_ context.Context, id string) (store.Job, error) {
		return store.Job{ID: id, AppID: testApp, Priority: prio, ExpiresAt: t0.Add(10 * time.Minute)}, nil
	}
	f.st.SettleUnknownFunc = func(_ context.Context, _ string, _ int, r []store.NumberResult) error {
		f.settled = append(f.settled, r...)
		return nil
	}
	f.refs = map[string]store.SerialRef{}
	f.st.SerialRefsFunc = func(_ context.Context, serials []string) (map[string]store.SerialRef, error) {
		out := map[string]store.SerialRef{}
		for _, sn := range serials {
			if ref, ok := f.refs[sn]; ok {
				out[sn] = ref
			}
		}
		return out, nil
	}
	f.st.IndexEvidenceFunc = func(_ context.Context, job string, batch int, r []store.NumberResult) (map[string]store.SerialRef, error) {
		conflicts := map[string]store.SerialRef{}
		for _, x := range r {
			want := serialRef(job, batch, x.Index)
			if ref, ok := f.refs[x.SerialNo]; ok && ref != want {
				conflicts[x.SerialNo] = ref
				continue
			}
			f.refs[x.SerialNo] = want
			f.indexed = append(f.indexed, x)
		}
		return conflicts, nil
	}
	f.st.ApplyReceiptPageFunc = func(_ context.Context, _ string, p store.SavedPage) (store.ApplyStats, error) {
		f.applied = append(f.applied, p.Receipts...)
		return store.ApplyStats{Applied: len(p.Receipts)}, nil
	}
	f.st.ResendUnknownFunc = func(_ context.Context, _ string, _ int, at time.Time) (store.RetryBatch, bool, error) {
		return store.RetryBatch{Batch: 9, At: at}, true, nil
	}
	var err error
	f.h, err = NewReconcileHandler(ReconcileConfig{Store: f.st, Puller: f.snd, Enqueuer: f.enq, Limiter: f.lim,
		Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func serialRef(job string, batch, idx int) store.SerialRef {
	return store.SerialRef{BatchRef: store.BatchRef{Job: job, Batch: batch}, Index: idx}
}

func (f *reconcileFixture) run(t *testing.T) error {
	t.Helper()
	task, err := tasks.NewReconcileTask(tasks.Reconcile{Job: "j1", Batch: 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	return f.h.ProcessTask(context.Background(), task.Task)
}

func TestReconcileNothingUnknown(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.st.UnknownsFunc = func(context.Context, string, int) ([]store.UnknownNumber, error) { return nil, nil }
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if calls := f.st.called(); !slices.Equal(calls, []string{"Unknowns"}) {
		t.Errorf("store calls = %v", calls)
	}
}

func TestReconcileOTPResendsAtOnce(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityOTP)
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if f.st.count("UnmatchedReceipts") != 0 || len(f.snd.byPhone) != 0 {
		t.Error("an otp reconcile looked for evidence")
	}
	sends := f.enq.ofType(tasks.TypeSendBatch)
	if len(sends) != 1 {
		t.Fatalf("send tasks = %+v", sends)
	}
	if job, b := sends[0].ref(); job != "j1" || b != 9 {
		t.Errorf("resend task %s/%d", job, b)
	}
}

func TestReconcileExpiredOTPLooksForEvidence(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityOTP)
	f.clock.Set(t0.Add(11 * time.Minute)) // past ExpiresAt and the window
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if len(f.snd.byPhone) != 2 {
		t.Errorf("lookups by number = %d, want 2", len(f.snd.byPhone))
	}
	if f.st.count("ResendUnknown") != 1 {
		t.Errorf("store calls = %v", f.st.called())
	}
}

func TestReconcileEvidenceByUnmatchedReceipt(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityNormal)
	var since time.Time
	f.st.UnmatchedReceiptsFunc = func(_ context.Context, number string, s time.Time) ([]store.Receipt, error) {
		since = s
		switch number {
		case testNumbers[0]:
			return []store.Receipt{
				{SerialNo: "other", PhoneNumber: number, Status: "SUCCESS", SessionContext: "j2|0|2", ReceivedAt: t0},
				{SerialNo: "other-batch", PhoneNumber: number, Status: "SUCCESS", SessionContext: "j1|1|2", ReceivedAt: t0},
				{SerialNo: "sn-a", PhoneNumber: number, Status: "SUCCESS", ReceivedAt: t0.Add(time.Second)},
			}, nil
		}
		return nil, nil
	}
	// Within the window: the first number settles, the second waits (no lookup by number yet).
	ra := asRetryAfter(t, f.run(t))
	if want := DefaultReconcileWindow - 10*time.Second; ra.Delay != want {
		t.Errorf("Delay = %v, want %v", ra.Delay, want)
	}
	if want := t0.Add(-DefaultEvidenceSlack); !since.Equal(want) {
		t.Errorf("evidence since %v, want %v", since, want)
	}
	if len(f.snd.byPhone) != 0 {
		t.Error("looked up by number while the window was open")
	}
	if len(f.applied) != 1 || f.applied[0].SerialNo != "sn-a" {
		t.Errorf("applied %+v, want the receipt without a foreign SessionContext", f.applied)
	}
	if len(f.indexed) != 1 || f.indexed[0].Index != 0 || f.indexed[0].SerialNo != "sn-a" {
		t.Errorf("indexed %+v", f.indexed)
	}
	if len(f.settled) != 1 || f.settled[0].Index != 0 || f.settled[0].State != store.Sent || f.settled[0].SerialNo != "" {
		t.Errorf("settled %+v (the serial is indexed set-if-absent, never by SettleUnknown)", f.settled)
	}
	if f.st.count("ResendUnknown") != 0 || f.st.count("IndexSerials") != 0 {
		t.Errorf("store calls = %v", f.st.called())
	}
}

func TestReconcileEvidenceByNumberAfterWindow(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.clock.Set(t0.Add(DefaultReconcileWindow))
	f.snd.PullByPhoneFunc = func(_ context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
		if r.PhoneNumber != testNumbers[1] {
			return nil, nil
		}
		return []tencentsms.Receipt{{SerialNo: "sn-b", PhoneNumber: r.PhoneNumber, ReportStatus: "FAIL",
			UserReceiveTime: t0.Add(3 * time.Second)}}, nil
	}
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if len(f.snd.byPhone) != 2 || f.lim.waits != 2 {
		t.Fatalf("lookups = %d, limiter waits = %d; want 2 each", len(f.snd.byPhone), f.lim.waits)
	}
	r := f.snd.byPhone[0]
	if r.AppID != testApp || !r.Begin.Equal(t0.Add(-DefaultEvidenceSlack)) || !r.End.Equal(f.clock.Now()) || r.Limit != 100 {
		t.Errorf("lookup request = %+v", r)
	}
	if len(f.applied) != 1 || f.applied[0].Status != "FAIL" {
		t.Errorf("applied %+v", f.applied)
	}
	// The number without evidence is resent.
	if f.st.count("ResendUnknown") != 1 {
		t.Errorf("store calls = %v", f.st.called())
	}
	if sends := f.enq.ofType(tasks.TypeSendBatch); len(sends) != 1 {
		t.Errorf("send tasks = %+v", sends)
	}
	if calls := f.st.called(); slices.Index(calls, "SettleUnknown") > slices.Index(calls, "ResendUnknown") {
		t.Errorf("resent before settling the evidence: %v", calls)
	}
}

func TestReconcileNoEvidenceResendsAfterWindow(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityBulk)
	f.clock.Set(t0.Add(2 * DefaultReconcileWindow))
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if len(f.settled) != 0 || f.st.count("ResendUnknown") != 1 {
		t.Errorf("store calls = %v", f.st.called())
	}
	sends := f.enq.ofType(tasks.TypeSendBatch)
	if len(sends) != 1 || sends[0].processAt() != (time.Time{}) {
		t.Errorf("send tasks = %+v, want one at once", sends)
	}
}

func TestReconcileLookupErrorsNeverResend(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		err  error
		wait bool
	}{
		"throttled": {&tencentsms.Error{Code: "RequestLimitExceeded"}, true},
		"transport": {&tencentsms.TransportError{Err: errors.New("refused")}, false},
	} {
		t.Run(name, func(t *testing.T) {
			f := newReconcileFixture(t, tasks.PriorityNormal)
			f.clock.Set(t0.Add(DefaultReconcileWindow))
			f.snd.PullByPhoneFunc = func(context.Context, tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
				return nil, tc.err
			}
			err := f.run(t)
			if err == nil {
				t.Fatal("ProcessTask = nil, want an error")
			}
			if tc.wait {
				asRetryAfter(t, err)
			} else if !IsFailure(err) {
				t.Errorf("IsFailure(%v) = false", err)
			}
			if f.st.count("ResendUnknown") != 0 {
				t.Error("resent without a complete evidence check")
			}
		})
	}
}

func TestReconcileJobGone(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.st.UnknownsFunc = func(context.Context, string, int) ([]store.UnknownNumber, error) { return nil, store.ErrNotFound }
	if err := f.run(t); err != nil {
		t.Errorf("ProcessTask = %v, want nil", err)
	}
}

func TestPick(t *testing.T) {
	t.Parallel()
	w := want{job: "j1", batch: 0, index: 5, attempt: 2, since: t0.Add(-DefaultEvidenceSlack), refs: map[string]store.SerialRef{
		"elsewhere": serialRef("j2", 0, 5),
		"other-idx": serialRef("j1", 0, 4),
		"garbled":   {},
		"ours-idx":  serialRef("j1", 0, 5),
	}}
	at := t0.Add(time.Second)
	for _, tc := range []struct {
		name string
		r    store.Receipt
		ok   bool
	}{
		{"not indexed", store.Receipt{SerialNo: "fresh", ReceivedAt: at}, true},
		{"indexed to this number", store.Receipt{SerialNo: "ours-idx", ReceivedAt: at}, true},
		{"indexed to another job", store.Receipt{SerialNo: "elsewhere", ReceivedAt: at}, false},
		{"indexed to another number of the batch", store.Receipt{SerialNo: "other-idx", ReceivedAt: at}, false},
		{"index entry unreadable", store.Receipt{SerialNo: "garbled", ReceivedAt: at}, false},
		{"this attempt's session", store.Receipt{SerialNo: "s1", SessionContext: "j1|0|2", ReceivedAt: at}, true},
		{"earlier attempt of the batch", store.Receipt{SerialNo: "s2", SessionContext: "j1|0|1", ReceivedAt: at}, true},
		{"later attempt", store.Receipt{SerialNo: "s3", SessionContext: "j1|0|3", ReceivedAt: at}, false},
		{"another job's session", store.Receipt{SerialNo: "s4", SessionContext: "j2|0|2", ReceivedAt: at}, false},
		{"another batch's session", store.Receipt{SerialNo: "s5", SessionContext: "j1|1|2", ReceivedAt: at}, false},
		{"foreign session format", store.Receipt{SerialNo: "s6", SessionContext: `{"k":"v"}`, ReceivedAt: at}, false},
		{"within the skew margin", store.Receipt{SerialNo: "s7", ReceivedAt: t0.Add(-DefaultEvidenceSlack)}, true},
		{"before claim minus margin", store.Receipt{SerialNo: "s8", ReceivedAt: t0.Add(-DefaultEvidenceSlack - time.Millisecond)}, false},
		{"own session but too early", store.Receipt{SerialNo: "s9", SessionContext: "j1|0|2", ReceivedAt: t0.Add(-time.Hour)}, false},
		{"untimed, from a windowed query", store.Receipt{SerialNo: "s10"}, true},
		{"no serial", store.Receipt{ReceivedAt: at}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.accepts(tc.r); got != tc.ok {
				t.Errorf("accepts(%+v) = %v, want %v", tc.r, got, tc.ok)
			}
		})
	}

	recs := []store.Receipt{
		{SerialNo: "early", ReceivedAt: t0.Add(-time.Minute)},
		{SerialNo: "elsewhere", ReceivedAt: at},
		{SerialNo: "used", ReceivedAt: at},
		{SerialNo: "fresh", ReceivedAt: at},
	}
	used := map[string]bool{"used": true}
	if r, ok := pick(recs, w, used); !ok || r.SerialNo != "fresh" || !used["fresh"] {
		t.Errorf("pick = %+v, %v; want the fresh receipt, marked used", r, ok)
	}
	if r, ok := pick(recs, w, used); ok {
		t.Errorf("pick = %+v: a used serial taken twice", r)
	}
}

// The scenario of the end-to-end bug: job A sent template T to the numbers; job B's call within
// 30 s was refused, but its reply was lost. PullSmsSendStatusByPhoneNumber finds A's receipts:
// they are not evidence for B, whose numbers are resent.
func TestReconcileOtherJobsReceiptsAreNoEvidence(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		receipt func(number string, i int) tencentsms.Receipt
		index   bool // A's serials are in the index
	}{
		"serial indexed to the other job": {index: true, receipt: func(number string, i int) tencentsms.Receipt {
			return tencentsms.Receipt{SerialNo: fmt.Sprintf("a-%d", i), PhoneNumber: number, ReportStatus: "SUCCESS", UserReceiveTime: t0.Add(time.Second)}
		}},
		"session context of the other job": {receipt: func(number string, i int) tencentsms.Receipt {
			return tencentsms.Receipt{SerialNo: fmt.Sprintf("a-%d", i), PhoneNumber: number, ReportStatus: "SUCCESS",
				SessionContext: "jA|0|1", UserReceiveTime: t0.Add(time.Second)}
		}},
		"received before the claim": {receipt: func(number string, i int) tencentsms.Receipt {
			return tencentsms.Receipt{SerialNo: fmt.Sprintf("a-%d", i), PhoneNumber: number, ReportStatus: "SUCCESS",
				UserReceiveTime: t0.Add(-DefaultEvidenceSlack - time.Second)}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newReconcileFixture(t, tasks.PriorityNormal)
			f.clock.Set(t0.Add(DefaultReconcileWindow))
			if tc.index {
				f.refs["a-0"], f.refs["a-1"] = serialRef("jA", 0, 0), serialRef("jA", 0, 1)
			}
			f.snd.PullByPhoneFunc = func(_ context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
				i := slices.Index(testNumbers, r.PhoneNumber)
				return []tencentsms.Receipt{tc.receipt(r.PhoneNumber, i)}, nil
			}
			if err := f.run(t); err != nil {
				t.Fatal(err)
			}
			if len(f.snd.byPhone) != 2 {
				t.Errorf("lookups by number = %d, want 2", len(f.snd.byPhone))
			}
			if len(f.settled) != 0 || len(f.applied) != 0 || len(f.indexed) != 0 {
				t.Errorf("settled %+v, applied %+v, indexed %+v: another job's receipts taken as evidence", f.settled, f.applied, f.indexed)
			}
			if tc.index && (f.refs["a-0"] != serialRef("jA", 0, 0) || f.refs["a-1"] != serialRef("jA", 0, 1)) {
				t.Errorf("the other job's serials were re-pointed: %v", f.refs)
			}
			if f.st.count("ResendUnknown") != 1 || len(f.enq.ofType(tasks.TypeSendBatch)) != 1 {
				t.Errorf("store calls = %v; want the numbers resent", f.st.called())
			}
		})
	}
}

// A receipt kept as unmatched (pulled before its send's serial was indexed) is checked against the
// serial index as it is now.
func TestReconcileUnmatchedReceiptIndexedSince(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.clock.Set(t0.Add(DefaultReconcileWindow))
	f.refs["late"] = serialRef("jA", 3, 7)
	f.st.UnmatchedReceiptsFunc = func(_ context.Context, number string, _ time.Time) ([]store.Receipt, error) {
		if number != testNumbers[0] {
			return nil, nil
		}
		return []store.Receipt{{SerialNo: "late", PhoneNumber: number, Status: "SUCCESS", ReceivedAt: t0.Add(time.Second)}}, nil
	}
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if len(f.settled) != 0 || len(f.indexed) != 0 {
		t.Errorf("settled %+v, indexed %+v", f.settled, f.indexed)
	}
	if f.refs["late"] != serialRef("jA", 3, 7) {
		t.Errorf("serial re-pointed to %+v", f.refs["late"])
	}
	if f.st.count("ResendUnknown") != 1 {
		t.Errorf("store calls = %v", f.st.called())
	}
}

// A genuine lost reply: the receipt's serial was never indexed (we never learned it). It is
// evidence, and its serial is indexed to the number.
func TestReconcileGenuineLostReplyEvidence(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.clock.Set(t0.Add(DefaultReconcileWindow))
	f.refs["ours-1"] = serialRef("j1", 0, 5) // indexed to this very number by an earlier run
	f.snd.PullByPhoneFunc = func(_ context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
		sn := "ours-0"
		if r.PhoneNumber == testNumbers[1] {
			sn = "ours-1"
		}
		// Received a little before the claim time as our clock reads it: clock skew.
		return []tencentsms.Receipt{{SerialNo: sn, PhoneNumber: r.PhoneNumber, ReportStatus: "SUCCESS",
			UserReceiveTime: t0.Add(-2 * time.Second)}}, nil
	}
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if len(f.settled) != 2 || len(f.applied) != 2 {
		t.Fatalf("settled %+v, applied %+v; want both numbers", f.settled, f.applied)
	}
	if f.refs["ours-0"] != serialRef("j1", 0, 0) || f.refs["ours-1"] != serialRef("j1", 0, 5) {
		t.Errorf("serial index = %v", f.refs)
	}
	if f.st.count("ResendUnknown") != 0 {
		t.Errorf("store calls = %v", f.st.called())
	}
	if calls := f.st.called(); slices.Index(calls, "IndexEvidenceSerials") > slices.Index(calls, "ApplyReceiptPage") {
		t.Errorf("receipt page applied before its serials were indexed: %v", calls)
	}
}

// Evidence whose serial another send indexed between the lookup and the indexing is dropped, and
// the reconcile looks again instead of resending.
func TestReconcileEvidenceSerialTakenMeanwhile(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.clock.Set(t0.Add(DefaultReconcileWindow))
	f.snd.PullByPhoneFunc = func(_ context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
		sn := "race-0"
		if r.PhoneNumber == testNumbers[1] {
			sn = "race-1"
		}
		return []tencentsms.Receipt{{SerialNo: sn, PhoneNumber: r.PhoneNumber, ReportStatus: "SUCCESS",
			UserReceiveTime: t0.Add(time.Second)}}, nil
	}
	next := f.st.SerialRefsFunc
	f.st.SerialRefsFunc = func(ctx context.Context, serials []string) (map[string]store.SerialRef, error) {
		out, err := next(ctx, serials)
		f.refs["race-1"] = serialRef("jA", 0, 9) // written right after the lookup
		return out, err
	}
	ra := asRetryAfter(t, f.run(t))
	if ra.Delay <= 0 {
		t.Errorf("Delay = %v", ra.Delay)
	}
	if len(f.settled) != 1 || f.settled[0].Index != 0 {
		t.Errorf("settled %+v, want only the first number", f.settled)
	}
	if f.refs["race-1"] != serialRef("jA", 0, 9) {
		t.Errorf("serial re-pointed: %+v", f.refs["race-1"])
	}
	if f.st.count("ResendUnknown") != 0 {
		t.Errorf("resent although evidence was only lost to a race: %v", f.st.called())
	}
}
