package dispatcher

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

type reconcileFixture struct {
	st      *fakeStore
	snd     *fakeSender
	enq     *fakeEnqueuer
	lim     *fakeLimiter
	clock   *fixedClock
	h       *ReconcileHandler
	sentAt  time.Time
	settled []store.NumberResult
	applied []store.Receipt
	indexed []store.NumberResult
}

// newReconcileFixture has two unknown numbers of j1/0, attempt 2, claimed at t0.
func newReconcileFixture(t *testing.T, prio string) *reconcileFixture {
	t.Helper()
	f := &reconcileFixture{st: &fakeStore{}, snd: &fakeSender{}, enq: &fakeEnqueuer{}, lim: &fakeLimiter{},
		clock: &fixedClock{t: t0.Add(10 * time.Second)}, sentAt: t0}
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
	f.st.IndexSerialsFunc = func(_ context.Context, _ string, _ int, r []store.NumberResult) error {
		f.indexed = append(f.indexed, r...)
		return nil
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

func (f *reconcileFixture) run(t *testing.T) error {
	t.Helper()
	task, err := tasks.NewReconcileTask(tasks.Reconcile{Job: "j1", Batch: 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	return f.h.ProcessTask(context.Background(), task)
}

func TestReconcileNothingUnknown(t *testing.T) {
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
	f := newReconcileFixture(t, tasks.PriorityOTP)
	f.clock.t = t0.Add(11 * time.Minute) // past ExpiresAt and the window
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
	f := newReconcileFixture(t, tasks.PriorityNormal)
	var since time.Time
	f.st.UnmatchedReceiptsFunc = func(_ context.Context, number string, s time.Time) ([]store.Receipt, error) {
		since = s
		switch number {
		case testNumbers[0]:
			return []store.Receipt{
				{SerialNo: "other", PhoneNumber: number, Status: "SUCCESS", SessionContext: "j1|0|1", ReceivedAt: t0},
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
	if len(f.settled) != 1 || f.settled[0].Index != 0 || f.settled[0].State != store.Sent {
		t.Errorf("settled %+v", f.settled)
	}
	if f.st.count("ResendUnknown") != 0 {
		t.Error("resent inside the window")
	}
}

func TestReconcileEvidenceByNumberAfterWindow(t *testing.T) {
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.clock.t = t0.Add(DefaultReconcileWindow)
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
	if r.AppID != testApp || !r.Begin.Equal(t0.Add(-DefaultEvidenceSlack)) || !r.End.Equal(f.clock.t) || r.Limit != 100 {
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
	f := newReconcileFixture(t, tasks.PriorityBulk)
	f.clock.t = t0.Add(2 * DefaultReconcileWindow)
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
	for name, tc := range map[string]struct {
		err  error
		wait bool
	}{
		"throttled": {&tencentsms.Error{Code: "RequestLimitExceeded"}, true},
		"transport": {&tencentsms.TransportError{Err: errors.New("refused")}, false},
	} {
		t.Run(name, func(t *testing.T) {
			f := newReconcileFixture(t, tasks.PriorityNormal)
			f.clock.t = t0.Add(DefaultReconcileWindow)
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
	f := newReconcileFixture(t, tasks.PriorityNormal)
	f.st.UnknownsFunc = func(context.Context, string, int) ([]store.UnknownNumber, error) { return nil, store.ErrNotFound }
	if err := f.run(t); err != nil {
		t.Errorf("ProcessTask = %v, want nil", err)
	}
}

func TestPick(t *testing.T) {
	since := t0
	recs := []store.Receipt{
		{SerialNo: "early", ReceivedAt: t0.Add(-time.Second)},
		{SerialNo: "foreign", SessionContext: "x|1|1", ReceivedAt: t0.Add(time.Second)},
		{SerialNo: "used", ReceivedAt: t0.Add(time.Second)},
		{SerialNo: "ours", SessionContext: "j1|0|2", ReceivedAt: t0.Add(-time.Hour)}, // session wins over time
	}
	used := map[string]bool{"used": true}
	r, ok := pick(recs, "j1|0|2", since, used)
	if !ok || r.SerialNo != "ours" || !used["ours"] {
		t.Errorf("pick = %+v, %v", r, ok)
	}
	if _, ok := pick(recs[:3], "j1|0|2", since, used); ok {
		t.Error("picked a receipt that is not evidence")
	}
	if r, ok := pick([]store.Receipt{{SerialNo: "untimed"}}, "s", since, map[string]bool{}); !ok || r.SerialNo != "untimed" {
		t.Error("a receipt without a time from a windowed query is evidence")
	}
}
