package dispatcher

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

type probeFixture struct {
	*sendFixture
	p      *ProbeHandler
	parked []store.BatchRef
}

func newProbeFixture(t *testing.T, parked ...store.BatchRef) *probeFixture {
	t.Helper()
	f := &probeFixture{sendFixture: newSendFixture(t, tasks.PriorityNormal), parked: parked}
	halted := true
	f.st.HaltOfFunc = func(context.Context, string) (*store.Halt, error) {
		if !halted {
			return nil, nil
		}
		return &store.Halt{App: testApp, Code: "FailedOperation.InsufficientBalanceInSmsPackage", ProbeAt: t0}, nil
	}
	f.st.PopParkedFunc = func(context.Context, string) (store.BatchRef, bool, error) {
		if len(f.parked) == 0 {
			return store.BatchRef{}, false, nil
		}
		ref := f.parked[0]
		f.parked = f.parked[1:]
		return ref, true, nil
	}
	f.st.ParkFunc = func(_ context.Context, _ string, job string, batch int) error {
		f.parked = append(f.parked, store.BatchRef{Job: job, Batch: batch})
		return nil
	}
	f.st.ResumeFunc = func(context.Context, string) ([]store.BatchRef, error) {
		halted = false
		out := f.parked
		f.parked = nil
		return out, nil
	}
	f.st.JobFunc = func(_ context.Context, id string) (store.Job, error) {
		prio := tasks.PriorityBulk
		if id == "otp-job" {
			prio = tasks.PriorityOTP
		}
		return store.Job{ID: id, AppID: testApp, Priority: prio}, nil
	}
	var err error
	f.p, err = NewProbeHandler(ProbeConfig{Send: f.h, Store: f.st, Enqueuer: f.enq, Metrics: f.m, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *probeFixture) probe(t *testing.T) error {
	t.Helper()
	task, err := tasks.NewProbeTask(tasks.Probe{App: testApp}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return f.p.ProcessTask(context.Background(), task.Task)
}

func TestProbeNotHalted(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t, store.BatchRef{Job: "j1", Batch: 0})
	f.st.HaltOfFunc = func(context.Context, string) (*store.Halt, error) { return nil, nil }
	if err := f.probe(t); err != nil {
		t.Fatal(err)
	}
	if calls := f.st.called(); !slices.Equal(calls, []string{"HaltOf"}) {
		t.Errorf("store calls = %v", calls)
	}
}

func TestProbeNothingParked(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t)
	if err := f.probe(t); err != nil {
		t.Fatal(err)
	}
	if len(f.snd.sent()) != 0 || f.st.count("Resume") != 0 {
		t.Errorf("store calls = %v", f.st.called())
	}
}

func TestProbeSuccessResumes(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t,
		store.BatchRef{Job: "j1", Batch: 0}, store.BatchRef{Job: "j1", Batch: 4}, store.BatchRef{Job: "otp-job", Batch: 2})
	if err := f.probe(t); err != nil {
		t.Fatal(err)
	}
	if n := len(f.snd.sent()); n != 1 {
		t.Fatalf("SendSms calls = %d, want 1 (the probe)", n)
	}
	if f.st.count("HaltOf") != 1 {
		t.Errorf("the probe's send checked the halt: %v", f.st.called())
	}
	if f.st.count("Resume") != 1 {
		t.Fatalf("store calls = %v, want a Resume", f.st.called())
	}
	sends := f.enq.ofType(tasks.TypeSendBatch)
	if len(sends) != 2 {
		t.Fatalf("resumed send tasks = %+v, want 2", sends)
	}
	for _, s := range sends {
		if job, _ := s.ref(); job == "" || s.processAt() != (time.Time{}) {
			t.Errorf("resumed task %+v should run at once", s)
		}
	}
	if f.st.count("Job") != 2 {
		t.Errorf("Job looked up %d times, want once per job", f.st.count("Job"))
	}
}

func TestProbeStillHalted(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t, store.BatchRef{Job: "j1", Batch: 0}, store.BatchRef{Job: "j1", Batch: 1})
	var probeAt time.Time
	f.st.HaltFunc = func(_ context.Context, _, _ string, at time.Time) error { probeAt = at; return nil }
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.Error{Code: "FailedOperation.InsufficientBalanceInSmsPackage"}
	}
	if err := f.probe(t); err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(DefaultHaltProbeInterval); !probeAt.Equal(want) {
		t.Errorf("next probe at %v, want %v", probeAt, want)
	}
	if f.st.count("Resume") != 0 {
		t.Error("resumed although the code came back")
	}
	if len(f.parked) != 2 {
		t.Errorf("parked = %v, want both batches (the probe's parked again)", f.parked)
	}
	probes := f.enq.ofType(tasks.TypeProbe)
	if len(probes) != 1 || !probes[0].processAt().Equal(probeAt) {
		t.Errorf("next probe tasks = %+v", probes)
	}
}

func TestProbeSkipsBatchesThatNeedNoSend(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t, store.BatchRef{Job: "gone", Batch: 0}, store.BatchRef{Job: "j1", Batch: 1})
	f.st.ClaimFunc = func(_ context.Context, job string, _ int, _ string) (store.ClaimResult, error) {
		if job == "gone" {
			return store.ClaimResult{Outcome: store.Cancelled}, nil
		}
		return claimedBatch(tasks.PriorityNormal), nil
	}
	if err := f.probe(t); err != nil {
		t.Fatal(err)
	}
	if f.st.count("PopParked") != 2 || len(f.snd.sent()) != 1 || f.st.count("Resume") != 1 {
		t.Errorf("store calls = %v, sends = %d", f.st.called(), len(f.snd.sent()))
	}
}

// TestProbeSkipsBatchesEndedWhileWaiting: a parked batch whose job expired (or was cancelled or
// taken over) while the probe waited on the rate limiter sent nothing: the probe goes on with the
// next parked batch instead of reading it as an unknown outcome.
func TestProbeSkipsBatchesEndedWhileWaiting(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t, store.BatchRef{Job: "expired", Batch: 0}, store.BatchRef{Job: "j1", Batch: 1})
	f.st.LaunchFunc = func(_ context.Context, job string, _ int, _ string) (store.LaunchResult, error) {
		if job == "expired" {
			return store.LaunchResult{Outcome: store.Expired}, nil
		}
		return store.LaunchResult{Outcome: store.Claimed, Attempt: 1}, nil
	}
	if err := f.probe(t); err != nil {
		t.Fatal(err)
	}
	if f.st.count("PopParked") != 2 || len(f.snd.sent()) != 1 || f.st.count("Resume") != 1 {
		t.Errorf("store calls = %v, sends = %d; want two batches taken, one sent, the app resumed", f.st.called(), len(f.snd.sent()))
	}
}

func TestProbeThrottledReparks(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t, store.BatchRef{Job: "j1", Batch: 3})
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.Error{Code: "RequestLimitExceeded"}
	}
	asRetryAfter(t, f.probe(t))
	if !slices.Equal(f.parked, []store.BatchRef{{Job: "j1", Batch: 3}}) {
		t.Errorf("parked = %v, want the batch back", f.parked)
	}
	if f.st.count("Resume") != 0 {
		t.Error("resumed on a throttled probe")
	}
}

func TestProbeUnknownOutcomeProbesAgainLater(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t, store.BatchRef{Job: "j1", Batch: 3})
	var probeAt time.Time
	f.st.HaltFunc = func(_ context.Context, _, _ string, at time.Time) error { probeAt = at; return nil }
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.TransportError{Sent: true, Err: errors.New("reset")}
	}
	if err := f.probe(t); err != nil {
		t.Fatal(err)
	}
	if f.st.count("Resume") != 0 || f.st.count("Commit") != 1 {
		t.Errorf("store calls = %v", f.st.called())
	}
	if want := t0.Add(DefaultHaltProbeInterval); !probeAt.Equal(want) {
		t.Errorf("halt probe time %v, want %v", probeAt, want)
	}
	if probes := f.enq.ofType(tasks.TypeProbe); len(probes) != 1 {
		t.Errorf("probe tasks = %+v", probes)
	}
}

func TestProbeMalformedPayload(t *testing.T) {
	t.Parallel()
	f := newProbeFixture(t)
	if err := f.p.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeProbe, []byte(`{}`))); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("ProcessTask = %v, want SkipRetry", err)
	}
}
