package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

const testApp = "1400000000"

// t0 is 18:00 Beijing time on a Monday: inside the marketing window.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

var testNumbers = []string{"+8613800000001", "+8613800000002", "+8613800000003"}

func claimedBatch(prio string) store.ClaimResult {
	return store.ClaimResult{
		Outcome: store.Claimed,
		Attempt: 1,
		Numbers: slices.Clone(testNumbers),
		Indexes: []int{0, 1, 2},
		Params:  []string{"A1"},
		Job: store.Job{ID: "j1", AppID: testApp, TemplateID: "1000002", Priority: prio,
			ExpiresAt: time.Time{}},
	}
}

type sendFixture struct {
	st    *fakeStore
	snd   *fakeSender
	enq   *fakeEnqueuer
	lim   *fakeLimiter
	clock *redistest.Clock
	m     *Metrics
	h     *SendHandler
}

func newSendFixture(t *testing.T, prio string) *sendFixture {
	t.Helper()
	f := &sendFixture{
		st:    &fakeStore{},
		snd:   &fakeSender{},
		enq:   &fakeEnqueuer{},
		lim:   &fakeLimiter{},
		clock: redistest.NewClock(t0),
	}
	f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
		return claimedBatch(prio), nil
	}
	var err error
	if f.m, err = NewMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	f.h, err = NewSendHandler(SendConfig{
		Store: f.st, Sender: f.snd, Enqueuer: f.enq, Limiter: f.lim, Metrics: f.m,
		Policy:        retry.Policy{Rand: func() float64 { return 0.5 }},
		HaltCacheTTL:  -1,
		CommitTimeout: 500 * time.Millisecond, // how long persist keeps retrying a failing write
		SignName:      "Sandbox",
		Now:           f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sendTask(t *testing.T, job string, batch int) *asynq.Task {
	t.Helper()
	task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: job, Batch: batch}, tasks.PriorityNormal)
	if err != nil {
		t.Fatal(err)
	}
	return task.Task
}

func (f *sendFixture) run(t *testing.T) error {
	t.Helper()
	return f.h.ProcessTask(context.Background(), sendTask(t, "j1", 0))
}

// commits captures the results of every Commit.
func (f *sendFixture) captureCommits(res store.CommitResult) *[][]store.NumberResult {
	var got [][]store.NumberResult
	f.st.CommitFunc = func(_ context.Context, _ string, _ int, _ string, results []store.NumberResult) (store.CommitResult, error) {
		got = append(got, slices.Clone(results))
		return res, nil
	}
	return &got
}

func TestSendClaimOutcomesWithoutSend(t *testing.T) {
	t.Parallel()
	for _, o := range []store.ClaimOutcome{store.Done, store.Cancelled, store.Expired, store.JobFailed} {
		t.Run(o.String(), func(t *testing.T) {
			f := newSendFixture(t, tasks.PriorityNormal)
			f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
				return store.ClaimResult{Outcome: o}, nil
			}
			if err := f.run(t); err != nil {
				t.Fatalf("ProcessTask = %v, want nil", err)
			}
			if n := len(f.snd.sent()); n != 0 {
				t.Errorf("SendSms called %d times", n)
			}
			if got := f.st.called(); !slices.Equal(got, []string{"Claim"}) {
				t.Errorf("store calls = %v, want only Claim", got)
			}
		})
	}
}

func TestSendClaimWaits(t *testing.T) {
	t.Parallel()
	for _, o := range []store.ClaimOutcome{store.Busy, store.NotYet} {
		t.Run(o.String(), func(t *testing.T) {
			f := newSendFixture(t, tasks.PriorityNormal)
			f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
				return store.ClaimResult{Outcome: o, RetryAt: t0.Add(42 * time.Second)}, nil
			}
			ra := asRetryAfter(t, f.run(t))
			if ra.Delay != 42*time.Second {
				t.Errorf("Delay = %v, want 42s", ra.Delay)
			}
			if len(f.snd.sent()) != 0 || f.lim.waits != 0 {
				t.Error("a waiting claim sent or waited on the limiter")
			}
		})
	}
}

func TestSendClaimUnresolvedEnqueuesReconcile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prio, queue string }{
		{tasks.PriorityNormal, ""}, // the task's default: maint
		{tasks.PriorityOTP, tasks.QueueOTP},
	} {
		t.Run(tc.prio, func(t *testing.T) {
			f := newSendFixture(t, tc.prio)
			f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
				return store.ClaimResult{Outcome: store.Unresolved, Attempt: 3, Job: store.Job{ID: "j1", AppID: testApp, Priority: tc.prio}}, nil
			}
			if err := f.run(t); err != nil {
				t.Fatalf("ProcessTask = %v", err)
			}
			rec := f.enq.ofType(tasks.TypeReconcile)
			if len(rec) != 1 {
				t.Fatalf("reconcile tasks = %d, want 1", len(rec))
			}
			if job, batch := rec[0].ref(); job != "j1" || batch != 0 {
				t.Errorf("reconcile task for %s/%d", job, batch)
			}
			if rec[0].queue() != tc.queue || rec[0].processIn() != 0 {
				t.Errorf("queue %q, process in %v; want %q now", rec[0].queue(), rec[0].processIn(), tc.queue)
			}
			if len(f.snd.sent()) != 0 {
				t.Error("an unresolved batch was sent")
			}
		})
	}
}

func TestSendClaimErrors(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
		return store.ClaimResult{}, store.ErrNotFound
	}
	if err := f.run(t); err != nil {
		t.Errorf("missing batch: ProcessTask = %v, want nil (nothing to send)", err)
	}
	boom := errors.New("redis down")
	f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
		return store.ClaimResult{}, boom
	}
	if err := f.run(t); !errors.Is(err, boom) || !IsFailure(err) {
		t.Errorf("Redis error: ProcessTask = %v, want a failure wrapping it", err)
	}
}

func TestSendMalformedPayloadIsArchived(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	err := f.h.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeSendBatch, []byte("{")))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("ProcessTask = %v, want SkipRetry", err)
	}
}

func TestSendAllAccepted(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	var indexed []store.NumberResult
	f.st.IndexSerialsFunc = func(_ context.Context, _ string, _ int, r []store.NumberResult) error {
		indexed = slices.Clone(r)
		return nil
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	reqs := f.snd.sent()
	if len(reqs) != 1 {
		t.Fatalf("SendSms calls = %d", len(reqs))
	}
	r := reqs[0]
	if r.SessionContext != "j1|0|1" || r.AppID != testApp || r.TemplateID != "1000002" || r.SignName != "Sandbox" ||
		!slices.Equal(r.PhoneNumbers, testNumbers) || !slices.Equal(r.TemplateParams, []string{"A1"}) {
		t.Errorf("request = %+v", r)
	}
	if f.lim.waits != 1 {
		t.Errorf("limiter waits = %d, want 1", f.lim.waits)
	}
	if calls := f.st.called(); !slices.Equal(calls, []string{"Claim", "HaltOf", "HaltOf", "Launch", "IndexSerials", "Commit"}) {
		t.Errorf("store calls = %v", calls)
	}
	if len(*commits) != 1 || len((*commits)[0]) != 3 {
		t.Fatalf("commits = %v", *commits)
	}
	for i, res := range (*commits)[0] {
		if res.State != store.Sent || res.SerialNo == "" || res.Fee != 1 || res.Index != i {
			t.Errorf("result %d = %+v", i, res)
		}
	}
	if len(indexed) != 3 {
		t.Errorf("indexed %d results, want 3", len(indexed))
	}
	if got := counterValue(t, f.m.SendCalls.WithLabelValues("ok")); got != 1 {
		t.Errorf("ok calls metric = %v", got)
	}
	if got := counterValue(t, f.m.Numbers.WithLabelValues("sent")); got != 3 {
		t.Errorf("sent numbers metric = %v", got)
	}
	if len(f.enq.all()) != 0 {
		t.Errorf("enqueued %v", f.enq.all())
	}
}

func TestSendPerNumberOutcomes(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
		cr := claimedBatch(tasks.PriorityNormal)
		cr.Numbers = append(cr.Numbers, "+8613800000004", "+8613800000005")
		cr.Indexes = []int{0, 1, 2, 3, 4}
		return cr, nil
	}
	retryAt := t0.Add(retry.DefaultThirtySecondDelay)
	commits := f.captureCommits(store.CommitResult{Applied: true, HasUnknown: true,
		RetryBatches: []store.RetryBatch{{Batch: 7, At: retryAt}}})
	f.snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		// Out of order, without '+', and no entry for the fifth number.
		return &tencentsms.SendResult{Statuses: []tencentsms.SendStatus{
			{PhoneNumber: "8613800000002", Code: "LimitExceeded.PhoneNumberThirtySecondLimit"},
			{PhoneNumber: "+8613800000001", Code: "Ok", SerialNo: "sn-1", Fee: 2},
			{PhoneNumber: "+8613800000003", Code: "FailedOperation.PhoneNumberInBlacklist"},
			{PhoneNumber: "+8613800000004", Code: "InternalError.Timeout"},
		}}, nil
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	got := (*commits)[0]
	want := []store.NumberResult{
		{Index: 0, State: store.Sent, Code: "Ok", SerialNo: "sn-1", Fee: 2},
		{Index: 1, State: store.Retry, Code: "LimitExceeded.PhoneNumberThirtySecondLimit", RetryAt: retryAt},
		{Index: 2, State: store.Failed, Code: "FailedOperation.PhoneNumberInBlacklist"},
		{Index: 3, State: store.Unknown, Code: "InternalError.Timeout"},
		{Index: 4, State: store.Unknown, Code: retry.CodeTransportUnknown},
	}
	if !slices.Equal(got, want) {
		t.Errorf("results:\n got %+v\nwant %+v", got, want)
	}
	sends := f.enq.ofType(tasks.TypeSendBatch)
	if len(sends) != 1 {
		t.Fatalf("retry send tasks = %d, want 1", len(sends))
	}
	if job, b := sends[0].ref(); job != "j1" || b != 7 || !sends[0].processAt().Equal(retryAt) {
		t.Errorf("retry task %s/%d at %v, want j1/7 at %v", job, b, sends[0].processAt(), retryAt)
	}
	rec := f.enq.ofType(tasks.TypeReconcile)
	if len(rec) != 1 || rec[0].processIn() != DefaultReconcileWindow {
		t.Fatalf("reconcile tasks = %+v, want one in %v", rec, DefaultReconcileWindow)
	}
	if f.st.count("FailJob") != 0 || f.st.count("Halt") != 0 {
		t.Errorf("unexpected FailJob/Halt: %v", f.st.called())
	}
	for state, want := range map[string]float64{"sent": 1, "retry": 1, "failed": 1, "unknown": 2} {
		if got := counterValue(t, f.m.Numbers.WithLabelValues(state)); got != want {
			t.Errorf("%s numbers metric = %v, want %v", state, got, want)
		}
	}
}

func TestSendPerNumberFailJob(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	var failed string
	f.st.FailJobFunc = func(_ context.Context, _, code string) error { failed = code; return nil }
	f.snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		res := okResult(r)
		res.Statuses[1].Code = "FailedOperation.TemplateIncorrectOrUnapproved"
		return res, nil
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	if r := (*commits)[0][1]; r.State != store.Failed || r.Code != "FailedOperation.TemplateIncorrectOrUnapproved" {
		t.Errorf("result = %+v", r)
	}
	if failed != "FailedOperation.TemplateIncorrectOrUnapproved" {
		t.Errorf("FailJob code = %q", failed)
	}
	if calls := f.st.called(); slices.Index(calls, "FailJob") < slices.Index(calls, "Commit") {
		t.Errorf("FailJob before Commit: %v", calls)
	}
}

func TestSendPerNumberHalt(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	var haltCode string
	var probeAt time.Time
	f.st.HaltFunc = func(_ context.Context, app, code string, at time.Time) error {
		haltCode, probeAt = code, at
		return nil
	}
	f.snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		res := okResult(r)
		res.Statuses[2].Code = "FailedOperation.InsufficientBalanceInSmsPackage"
		return res, nil
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	wantAt := t0.Add(DefaultHaltProbeInterval)
	if haltCode != "FailedOperation.InsufficientBalanceInSmsPackage" || !probeAt.Equal(wantAt) {
		t.Errorf("Halt(%q, %v), want the balance code at %v", haltCode, probeAt, wantAt)
	}
	if r := (*commits)[0][2]; r.State != store.Retry || !r.RetryAt.Equal(wantAt) {
		t.Errorf("halted number result = %+v, want Retry at %v", r, wantAt)
	}
	if r := (*commits)[0][0]; r.State != store.Sent {
		t.Errorf("accepted number result = %+v", r)
	}
	probes := f.enq.ofType(tasks.TypeProbe)
	if len(probes) != 1 || probes[0].app() != testApp || !probes[0].processAt().Equal(wantAt) ||
		probes[0].taskID() != "probe:"+testApp+":"+strconv.FormatInt(wantAt.Unix(), 10) {
		t.Errorf("probe tasks = %+v", probes)
	}
	if got := counterValue(t, f.m.Halts.WithLabelValues(haltCode)); got != 1 {
		t.Errorf("halts metric = %v", got)
	}
}

func TestSendCallRetry(t *testing.T) {
	t.Parallel()
	for name, sendErr := range map[string]error{
		"throttled": &tencentsms.Error{Action: "SendSms", Code: "RequestLimitExceeded"},
		"not sent":  &tencentsms.TransportError{Action: "SendSms", Err: errors.New("connection refused")},
	} {
		t.Run(name, func(t *testing.T) {
			f := newSendFixture(t, tasks.PriorityNormal)
			f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
				return nil, sendErr
			}
			ra := asRetryAfter(t, f.run(t))
			// Backoff of attempt 1 with Rand 0.5: half of BaseDelay.
			if ra.Delay != retry.DefaultBaseDelay/2 {
				t.Errorf("Delay = %v, want %v", ra.Delay, retry.DefaultBaseDelay/2)
			}
			// A refused call counts as an attempt: Requeue, not Release.
			if f.st.count("Requeue") != 1 || f.st.count("Release") != 0 || f.st.count("Commit") != 0 {
				t.Errorf("store calls = %v, want a Requeue and no Commit", f.st.called())
			}
			if !errors.Is(ra, sendErr) {
				t.Errorf("RetryAfterError does not wrap the send error")
			}
		})
	}
}

func TestSendCallRetryGivesUpAtTheLimit(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
		cr := claimedBatch(tasks.PriorityNormal)
		cr.Attempt = retry.DefaultMaxTransientRetries + 1
		return cr, nil
	}
	commits := f.captureCommits(store.CommitResult{Applied: true})
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.Error{Code: "RequestLimitExceeded"}
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	for _, r := range (*commits)[0] {
		if r.State != store.Failed || r.Code != "RequestLimitExceeded" {
			t.Errorf("result %+v, want Failed", r)
		}
	}
}

func TestSendCallUnknownOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prio  string
		delay time.Duration
		queue string
	}{
		{tasks.PriorityBulk, DefaultReconcileWindow, ""},
		{tasks.PriorityOTP, 0, tasks.QueueOTP},
	} {
		t.Run(tc.prio, func(t *testing.T) {
			f := newSendFixture(t, tc.prio)
			commits := f.captureCommits(store.CommitResult{Applied: true, HasUnknown: true})
			ctx, cancel := context.WithCancel(context.Background())
			f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
				cancel() // the task's context ends while the reply is lost
				return nil, &tencentsms.TransportError{Action: "SendSms", Sent: true, Err: context.Canceled}
			}
			if err := f.h.ProcessTask(ctx, sendTask(t, "j1", 0)); err != nil {
				t.Fatalf("ProcessTask = %v", err)
			}
			for _, r := range (*commits)[0] {
				if r.State != store.Unknown {
					t.Errorf("result %+v, want Unknown", r)
				}
			}
			if err := f.st.ctxErrOf("Commit"); err != nil {
				t.Errorf("Commit ran on an ended context: %v", err)
			}
			rec := f.enq.ofType(tasks.TypeReconcile)
			if len(rec) != 1 || rec[0].processIn() != tc.delay || rec[0].queue() != tc.queue {
				t.Errorf("reconcile tasks = %+v, want one in %v on %q", rec, tc.delay, tc.queue)
			}
			if f.st.count("Release") != 0 {
				t.Error("an unknown outcome was released")
			}
		})
	}
}

func TestSendCallFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code    string
		failJob bool
	}{
		{"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", false},
		{"FailedOperation.SignatureIncorrectOrUnapproved", true},
	} {
		t.Run(tc.code, func(t *testing.T) {
			f := newSendFixture(t, tasks.PriorityNormal)
			commits := f.captureCommits(store.CommitResult{Applied: true})
			f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
				return nil, &tencentsms.Error{Code: tc.code}
			}
			if err := f.run(t); err != nil {
				t.Fatalf("ProcessTask = %v", err)
			}
			for _, r := range (*commits)[0] {
				if r.State != store.Failed || r.Code != tc.code {
					t.Errorf("result %+v, want Failed %s", r, tc.code)
				}
			}
			if got := f.st.count("FailJob") == 1; got != tc.failJob {
				t.Errorf("FailJob called: %v, want %v", got, tc.failJob)
			}
		})
	}
}

func TestSendArgumentErrorFailsNumbers(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.ArgumentError{Field: "SendRequest.PhoneNumbers", Reason: "bad"}
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	if r := (*commits)[0][0]; r.State != store.Failed {
		t.Errorf("result %+v, want Failed", r)
	}
}

func TestSendExpiredOTPFailsInsteadOfRetrying(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityOTP)
	f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
		cr := claimedBatch(tasks.PriorityOTP)
		cr.Job.ExpiresAt = t0.Add(100 * time.Millisecond) // expires before any backoff
		return cr, nil
	}
	commits := f.captureCommits(store.CommitResult{Applied: true})
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.Error{Code: "RequestLimitExceeded"}
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	if r := (*commits)[0][0]; r.State != store.Failed || r.Code != store.ExpiredCode {
		t.Errorf("result %+v, want Failed Expired", r)
	}
}

func TestSendCallHalts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code string
		at   time.Time
	}{
		{"FailedOperation.InsufficientBalanceInSmsPackage", t0.Add(DefaultHaltProbeInterval)},
		// 18:00 Beijing: the window reopens at 08:00 Beijing tomorrow (00:00 UTC).
		{"FailedOperation.MarketingSendTimeConstraint", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.code, func(t *testing.T) {
			f := newSendFixture(t, tasks.PriorityNormal)
			var probeAt time.Time
			f.st.HaltFunc = func(_ context.Context, _, code string, at time.Time) error {
				probeAt = at
				return nil
			}
			var parked []int
			f.st.ParkFunc = func(_ context.Context, app, job string, batch int) error {
				parked = append(parked, batch)
				return nil
			}
			f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
				return nil, &tencentsms.Error{Code: tc.code}
			}
			if err := f.run(t); err != nil {
				t.Fatalf("ProcessTask = %v", err)
			}
			if !probeAt.Equal(tc.at) {
				t.Errorf("probe at %v, want %v", probeAt, tc.at)
			}
			if calls := f.st.called(); !slices.Equal(calls, []string{"Claim", "HaltOf", "HaltOf", "Launch", "Halt", "Release", "Park"}) {
				t.Errorf("store calls = %v", calls)
			}
			if !slices.Equal(parked, []int{0}) {
				t.Errorf("parked %v", parked)
			}
			probes := f.enq.ofType(tasks.TypeProbe)
			if len(probes) != 1 || !probes[0].processAt().Equal(tc.at) {
				t.Errorf("probe tasks = %+v", probes)
			}
		})
	}
}

func TestSendParksWhenHalted(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	probeAt := t0.Add(3 * time.Minute)
	f.st.HaltOfFunc = func(context.Context, string) (*store.Halt, error) {
		return &store.Halt{App: testApp, Code: "FailedOperation.InsufficientBalanceInSmsPackage", ProbeAt: probeAt}, nil
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	if calls := f.st.called(); !slices.Equal(calls, []string{"Claim", "HaltOf", "Release", "Park"}) {
		t.Errorf("store calls = %v", calls)
	}
	if len(f.snd.sent()) != 0 || f.lim.waits != 0 {
		t.Error("a halted app's batch was sent")
	}
	probes := f.enq.ofType(tasks.TypeProbe)
	if len(probes) != 1 || !probes[0].processAt().Equal(probeAt) {
		t.Errorf("probe tasks = %+v", probes)
	}
}

func TestSendHaltEndsWhileParking(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	f.st.HaltOfFunc = func(context.Context, string) (*store.Halt, error) {
		return &store.Halt{App: testApp, Code: "X", ProbeAt: t0}, nil
	}
	f.st.ParkFunc = func(context.Context, string, string, int) error { return store.ErrNotHalted }
	asRetryAfter(t, f.run(t))
	if f.st.count("Release") != 1 {
		t.Errorf("store calls = %v", f.st.called())
	}
}

func TestSendHaltCache(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	f.h.halts.ttl = time.Hour
	for range 3 {
		if err := f.run(t); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.st.count("HaltOf"); n != 1 {
		t.Errorf("HaltOf called %d times within the cache TTL, want 1", n)
	}
}

func TestSendReleasesWhenLimiterWaitEnds(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	ctx, cancel := context.WithCancel(context.Background())
	f.lim.WaitFunc = func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	err := f.h.ProcessTask(ctx, sendTask(t, "j1", 0))
	asRetryAfter(t, err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if f.st.count("Release") != 1 || len(f.snd.sent()) != 0 {
		t.Errorf("store calls = %v, sends = %d", f.st.called(), len(f.snd.sent()))
	}
	if err := f.st.ctxErrOf("Release"); err != nil {
		t.Errorf("Release ran on an ended context: %v", err)
	}
}

func TestSendLimiterError(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	boom := errors.New("redis down")
	f.lim.WaitFunc = func(context.Context) error { return boom }
	err := f.run(t)
	if !errors.Is(err, boom) || !IsFailure(err) {
		t.Errorf("ProcessTask = %v, want a failure wrapping the limiter error", err)
	}
	if f.st.count("Release") != 1 {
		t.Errorf("store calls = %v", f.st.called())
	}
}

func TestSendLostClaim(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	f.st.CommitFunc = func(context.Context, string, int, string, []store.NumberResult) (store.CommitResult, error) {
		return store.CommitResult{Applied: false}, nil
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v, want nil (logged, not retried)", err)
	}
	if got := counterValue(t, f.m.LostClaims); got != 1 {
		t.Errorf("lost claims metric = %v", got)
	}
	if len(f.enq.all()) != 0 {
		t.Errorf("enqueued after a lost claim: %+v", f.enq.all())
	}
}

func TestSendCommitError(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	boom := errors.New("redis down")
	f.st.CommitFunc = func(context.Context, string, int, string, []store.NumberResult) (store.CommitResult, error) {
		return store.CommitResult{}, boom
	}
	if err := f.run(t); !errors.Is(err, boom) || !IsFailure(err) {
		t.Errorf("ProcessTask = %v, want a failure", err)
	}
}

// TestSendWritesOutlastAShortOutage: a commit, a release or a requeue that fails while Redis
// restarts is tried again until it lands (within CommitTimeout), so the batch neither stays
// reserved until its lease runs out nor turns unknown.
func TestSendWritesOutlastAShortOutage(t *testing.T) {
	// Not parallel with the other tests: a write must land within the 500ms CommitTimeout of
	// real time. Its subtests, which mostly sleep, run together.
	down := errors.New("dial tcp: connection refused")
	flaky := func(n *int) error {
		*n++
		if *n <= 2 {
			return down
		}
		return nil
	}
	t.Run("commit", func(t *testing.T) {
		t.Parallel()
		f := newSendFixture(t, tasks.PriorityNormal)
		n := 0
		f.st.CommitFunc = func(context.Context, string, int, string, []store.NumberResult) (store.CommitResult, error) {
			return store.CommitResult{Applied: true}, flaky(&n)
		}
		if err := f.run(t); err != nil || n != 3 {
			t.Fatalf("ProcessTask = %v after %d commits, want nil after 3", err, n)
		}
	})
	t.Run("release after the limiter failed", func(t *testing.T) {
		t.Parallel()
		f := newSendFixture(t, tasks.PriorityNormal)
		f.lim.WaitFunc = func(context.Context) error { return down }
		n := 0
		f.st.ReleaseFunc = func(context.Context, string, int, string) error { return flaky(&n) }
		err := f.run(t)
		if !errors.Is(err, down) || n != 3 {
			t.Fatalf("ProcessTask = %v after %d releases, want the limiter error after 3", err, n)
		}
		if strings.Contains(err.Error(), "release") {
			t.Fatalf("ProcessTask = %v: the release landed, it is no error", err)
		}
	})
	t.Run("requeue", func(t *testing.T) {
		t.Parallel()
		f := newSendFixture(t, tasks.PriorityNormal)
		f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
			return nil, &tencentsms.Error{Code: "RequestLimitExceeded"}
		}
		n := 0
		f.st.RequeueFunc = func(context.Context, string, int, string) error { return flaky(&n) }
		asRetryAfter(t, f.run(t))
		if n != 3 {
			t.Fatalf("requeues = %d, want 3", n)
		}
	})
}

func TestSendEnqueueConflictIsFine(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	f.captureCommits(store.CommitResult{Applied: true, HasUnknown: true})
	f.enq.EnqueueFunc = func(context.Context, *asynq.Task, ...asynq.Option) error { return asynq.ErrTaskIDConflict }
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	if got := counterValue(t, f.m.Enqueued.WithLabelValues(kindReconcile, "queued")); got != 1 {
		t.Errorf("queued metric = %v", got)
	}
}

func TestAttemptOf(t *testing.T) {
	t.Parallel()
	if got := attemptOf(context.Background(), 4); got != 4 {
		t.Errorf("attemptOf(claim 4) = %d", got)
	}
	if got := attemptOf(context.Background(), 0); got != 1 {
		t.Errorf("attemptOf(claim 0) = %d", got)
	}
}

// TestSendLaunchesAfterTheLimiter: the claim is launched (the attempt that may send is recorded)
// only once the rate limiter granted the call, and a launch refused because the job expired,
// was cancelled or failed, or the reservation was taken over while it waited sends nothing.
func TestSendLaunchesAfterTheLimiter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		outcome store.ClaimOutcome
		sends   int
	}{
		{store.Claimed, 1}, {store.Expired, 0}, {store.Cancelled, 0}, {store.JobFailed, 0}, {store.Busy, 0},
	} {
		t.Run(tc.outcome.String(), func(t *testing.T) {
			f := newSendFixture(t, tasks.PriorityOTP)
			var order []string
			f.lim.WaitFunc = func(context.Context) error {
				order = append(order, "wait")
				return nil
			}
			f.st.LaunchFunc = func(context.Context, string, int, string) (store.LaunchResult, error) {
				order = append(order, "launch")
				return store.LaunchResult{Outcome: tc.outcome, Attempt: 1}, nil
			}
			sends := 0
			f.snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
				sends++
				return okResult(r), nil
			}
			if err := f.run(t); err != nil {
				t.Fatalf("ProcessTask = %v", err)
			}
			if !slices.Equal(order, []string{"wait", "launch"}) {
				t.Fatalf("order = %v, want the limiter wait before the launch", order)
			}
			if sends != tc.sends {
				t.Fatalf("SendSms calls = %d, want %d", sends, tc.sends)
			}
			if tc.sends == 0 && (f.st.count("Commit") != 0 || f.st.count("Release") != 0) {
				t.Fatalf("store calls = %v: a refused launch has nothing to commit or release", f.st.called())
			}
		})
	}
}

// TestSendLimiterCutShortReleasesBeforeLaunch: a wait that ends (shutdown) gives the reservation
// back without launching it, so nothing counts as an attempt and nothing becomes unknown.
func TestSendLimiterCutShortReleasesBeforeLaunch(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	ctx, cancel := context.WithCancel(context.Background())
	f.lim.WaitFunc = func(context.Context) error {
		cancel()
		return context.Canceled
	}
	err := f.h.ProcessTask(ctx, sendTask(t, "j1", 0))
	asRetryAfter(t, err)
	if f.st.count("Launch") != 0 || f.st.count("Release") != 1 {
		t.Fatalf("store calls = %v, want a Release and no Launch", f.st.called())
	}
}

// TestSendLogLinesAreValidJSON: every log line of a failing job is a JSON object without repeated
// keys (a repeated "code" made the "job failed" line ambiguous to log pipelines).
func TestSendLogLinesAreValidJSON(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	var buf bytes.Buffer
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.DebugLevel)
	h, err := NewSendHandler(SendConfig{
		Store: f.st, Sender: f.snd, Enqueuer: f.enq, Limiter: f.lim, Metrics: f.m, Logger: zap.New(core),
		Policy: retry.Policy{Rand: func() float64 { return 0.5 }}, HaltCacheTTL: -1, Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.captureCommits(store.CommitResult{Applied: true})
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.Error{Code: "FailedOperation.SignatureIncorrectOrUnapproved", RequestID: "r-1"}
	}
	if err := h.ProcessTask(context.Background(), sendTask(t, "j1", 0)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("log = %q, want the refusal and the job failure", buf.String())
	}
	for _, line := range lines {
		if key, dup := repeatedKey(t, line); dup {
			t.Errorf("log line repeats key %q: %s", key, line)
		}
	}
}

// repeatedKey reports the first top-level key that a JSON object line repeats.
func repeatedKey(t *testing.T, line string) (string, bool) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line is not a JSON object: %s", line)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		key := tok.(string)
		if seen[key] {
			return key, true
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
	}
	return "", false
}

// TestSendIndexSerialsFailure: a failed IndexSerials is retried (as long as a commit would be);
// when it keeps failing the sent numbers are committed unknown (reconcile settles them from their receipts), never as sent
// with receipts nobody could match.
func TestSendIndexSerialsFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		failures int
		want     store.NumberState
	}{
		{"recovers", 2, store.Sent},
		{"keeps failing", 1 << 30, store.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSendFixture(t, tasks.PriorityNormal)
			calls := 0
			f.st.IndexSerialsFunc = func(context.Context, string, int, []store.NumberResult) error {
				calls++
				if calls <= tc.failures {
					return errors.New("redis: connection refused")
				}
				return nil
			}
			commits := f.captureCommits(store.CommitResult{Applied: true})
			f.snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
				return okResult(r), nil
			}
			if err := f.run(t); err != nil {
				t.Fatalf("ProcessTask = %v", err)
			}
			if len(*commits) != 1 {
				t.Fatalf("commits = %d", len(*commits))
			}
			for _, r := range (*commits)[0] {
				if r.State != tc.want {
					t.Fatalf("result %+v, want state %c", r, tc.want)
				}
			}
		})
	}
}

// TestSendHaltAfterTheWait: an app halted while the batch waited on the rate limiter parks the
// batch before anything is launched or sent.
func TestSendHaltAfterTheWait(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	lookups := 0
	f.st.HaltOfFunc = func(context.Context, string) (*store.Halt, error) {
		lookups++
		if lookups == 1 {
			return nil, nil
		}
		return &store.Halt{App: testApp, Code: "FailedOperation.InsufficientBalanceInSmsPackage", ProbeAt: t0.Add(time.Minute)}, nil
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	if calls := f.st.called(); !slices.Equal(calls, []string{"Claim", "HaltOf", "HaltOf", "Release", "Park"}) {
		t.Fatalf("store calls = %v, want the batch parked after the wait, nothing launched", calls)
	}
	if n := len(f.snd.sent()); n != 0 {
		t.Fatalf("%d SendSms calls, want 0", n)
	}
}
