package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// fakeStore implements Store with Func fields. A nil Func returns zero values and a nil error.
// Every call is recorded by method name.
type fakeStore struct {
	mu     sync.Mutex
	calls  []string
	ctxErr map[string]error // ctx.Err() of the last call of each method, at the time of the call
	// lastAttempt is the attempt of the last ClaimFunc result (what a nil LaunchFunc launches).
	lastAttempt int

	ClaimFunc             func(ctx context.Context, job string, batch int, token string) (store.ClaimResult, error)
	LaunchFunc            func(ctx context.Context, job string, batch int, token string) (store.LaunchResult, error)
	ReleaseFunc           func(ctx context.Context, job string, batch int, token string) error
	RequeueFunc           func(ctx context.Context, job string, batch int, token string) error
	CommitFunc            func(ctx context.Context, job string, batch int, token string, results []store.NumberResult) (store.CommitResult, error)
	IndexSerialsFunc      func(ctx context.Context, job string, batch int, results []store.NumberResult) error
	FailJobFunc           func(ctx context.Context, job, code string) error
	HaltOfFunc            func(ctx context.Context, app string) (*store.Halt, error)
	HaltFunc              func(ctx context.Context, app, code string, probeAt time.Time) error
	ParkFunc              func(ctx context.Context, app, job string, batch int) error
	PopParkedFunc         func(ctx context.Context, app string) (store.BatchRef, bool, error)
	ResumeFunc            func(ctx context.Context, app string) ([]store.BatchRef, error)
	JobFunc               func(ctx context.Context, id string) (store.Job, error)
	UnknownsFunc          func(ctx context.Context, job string, batch int) ([]store.UnknownNumber, error)
	UnmatchedReceiptsFunc func(ctx context.Context, number string, since time.Time) ([]store.Receipt, error)
	SerialRefsFunc        func(ctx context.Context, serials []string) (map[string]store.SerialRef, error)
	IndexEvidenceFunc     func(ctx context.Context, job string, batch int, results []store.NumberResult) (map[string]store.SerialRef, error)
	SaveReceiptPageFunc   func(ctx context.Context, app string, page []store.Receipt) (string, error)
	ApplyReceiptPageFunc  func(ctx context.Context, app string, page store.SavedPage) (store.ApplyStats, error)
	SettleUnknownFunc     func(ctx context.Context, job string, batch int, results []store.NumberResult) error
	ResendUnknownFunc     func(ctx context.Context, job string, batch int, at time.Time) (store.RetryBatch, bool, error)
	AppsFunc              func(ctx context.Context) ([]string, error)
	AcquireLeaseFunc      func(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLeaseFunc      func(ctx context.Context, name, owner string) error
	SavedReceiptPagesFunc func(ctx context.Context, app string) ([]store.SavedPage, error)
	ActiveJobsFunc        func(ctx context.Context) ([]string, error)
	PendingBatchesFunc    func(ctx context.Context, job string) ([]store.Batch, error)
	UnknownBatchesFunc    func(ctx context.Context, job string) ([]int, error)
	HaltsFunc             func(ctx context.Context) ([]store.Halt, error)
	MarkPullFunc          func(ctx context.Context, app, owner string, at time.Time) error
	ClearPullFunc         func(ctx context.Context, app, owner string) error
	TakePullMarkFunc      func(ctx context.Context, app string) (time.Time, bool, error)
	SuspectLossFunc       func(ctx context.Context, at time.Time) error
	LossSuspectedFunc     func(ctx context.Context) (time.Time, error)
}

func (f *fakeStore) MarkPull(ctx context.Context, app, owner string, at time.Time) error {
	f.record(ctx, "MarkPull")
	if f.MarkPullFunc == nil {
		return nil
	}
	return f.MarkPullFunc(ctx, app, owner, at)
}

func (f *fakeStore) ClearPull(ctx context.Context, app, owner string) error {
	f.record(ctx, "ClearPull")
	if f.ClearPullFunc == nil {
		return nil
	}
	return f.ClearPullFunc(ctx, app, owner)
}

func (f *fakeStore) TakePullMark(ctx context.Context, app string) (time.Time, bool, error) {
	f.record(ctx, "TakePullMark")
	if f.TakePullMarkFunc == nil {
		return time.Time{}, false, nil
	}
	return f.TakePullMarkFunc(ctx, app)
}

func (f *fakeStore) SuspectReceiptLoss(ctx context.Context, at time.Time) error {
	f.record(ctx, "SuspectReceiptLoss")
	if f.SuspectLossFunc == nil {
		return nil
	}
	return f.SuspectLossFunc(ctx, at)
}

func (f *fakeStore) ReceiptLossSuspected(ctx context.Context) (time.Time, error) {
	f.record(ctx, "ReceiptLossSuspected")
	if f.LossSuspectedFunc == nil {
		return time.Time{}, nil
	}
	return f.LossSuspectedFunc(ctx)
}

var _ Store = (*fakeStore)(nil)

func (f *fakeStore) record(ctx context.Context, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.ctxErr == nil {
		f.ctxErr = map[string]error{}
	}
	f.ctxErr[name] = ctx.Err()
}

// called returns the recorded calls.
func (f *fakeStore) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeStore) count(name string) int {
	n := 0
	for _, c := range f.called() {
		if c == name {
			n++
		}
	}
	return n
}

// ctxErrOf returns what ctx.Err() was when the method was last called.
func (f *fakeStore) ctxErrOf(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ctxErr[name]
}

func (f *fakeStore) Claim(ctx context.Context, job string, batch int, token string) (store.ClaimResult, error) {
	f.record(ctx, "Claim")
	if f.ClaimFunc == nil {
		return store.ClaimResult{}, nil
	}
	cr, err := f.ClaimFunc(ctx, job, batch, token)
	f.mu.Lock()
	f.lastAttempt = cr.Attempt
	f.mu.Unlock()
	return cr, err
}

// Launch without a LaunchFunc launches the last claim at its attempt.
func (f *fakeStore) Launch(ctx context.Context, job string, batch int, token string) (store.LaunchResult, error) {
	f.record(ctx, "Launch")
	if f.LaunchFunc == nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return store.LaunchResult{Outcome: store.Claimed, Attempt: f.lastAttempt}, nil
	}
	return f.LaunchFunc(ctx, job, batch, token)
}

func (f *fakeStore) Requeue(ctx context.Context, job string, batch int, token string) error {
	f.record(ctx, "Requeue")
	if f.RequeueFunc == nil {
		return nil
	}
	return f.RequeueFunc(ctx, job, batch, token)
}

func (f *fakeStore) Release(ctx context.Context, job string, batch int, token string) error {
	f.record(ctx, "Release")
	if f.ReleaseFunc == nil {
		return nil
	}
	return f.ReleaseFunc(ctx, job, batch, token)
}

func (f *fakeStore) Commit(ctx context.Context, job string, batch int, token string, results []store.NumberResult) (store.CommitResult, error) {
	f.record(ctx, "Commit")
	if f.CommitFunc == nil {
		return store.CommitResult{Applied: true}, nil
	}
	return f.CommitFunc(ctx, job, batch, token, results)
}

func (f *fakeStore) IndexSerials(ctx context.Context, job string, batch int, results []store.NumberResult) error {
	f.record(ctx, "IndexSerials")
	if f.IndexSerialsFunc == nil {
		return nil
	}
	return f.IndexSerialsFunc(ctx, job, batch, results)
}

func (f *fakeStore) FailJob(ctx context.Context, job, code string) error {
	f.record(ctx, "FailJob")
	if f.FailJobFunc == nil {
		return nil
	}
	return f.FailJobFunc(ctx, job, code)
}

func (f *fakeStore) HaltOf(ctx context.Context, app string) (*store.Halt, error) {
	f.record(ctx, "HaltOf")
	if f.HaltOfFunc == nil {
		return nil, nil
	}
	return f.HaltOfFunc(ctx, app)
}

func (f *fakeStore) Halt(ctx context.Context, app, code string, probeAt time.Time) error {
	f.record(ctx, "Halt")
	if f.HaltFunc == nil {
		return nil
	}
	return f.HaltFunc(ctx, app, code, probeAt)
}

func (f *fakeStore) Park(ctx context.Context, app, job string, batch int) error {
	f.record(ctx, "Park")
	if f.ParkFunc == nil {
		return nil
	}
	return f.ParkFunc(ctx, app, job, batch)
}

func (f *fakeStore) PopParked(ctx context.Context, app string) (store.BatchRef, bool, error) {
	f.record(ctx, "PopParked")
	if f.PopParkedFunc == nil {
		return store.BatchRef{}, false, nil
	}
	return f.PopParkedFunc(ctx, app)
}

func (f *fakeStore) Resume(ctx context.Context, app string) ([]store.BatchRef, error) {
	f.record(ctx, "Resume")
	if f.ResumeFunc == nil {
		return nil, nil
	}
	return f.ResumeFunc(ctx, app)
}

func (f *fakeStore) Job(ctx context.Context, id string) (store.Job, error) {
	f.record(ctx, "Job")
	if f.JobFunc == nil {
		return store.Job{ID: id, AppID: testApp, Priority: tasks.PriorityNormal}, nil
	}
	return f.JobFunc(ctx, id)
}

func (f *fakeStore) Unknowns(ctx context.Context, job string, batch int) ([]store.UnknownNumber, error) {
	f.record(ctx, "Unknowns")
	if f.UnknownsFunc == nil {
		return nil, nil
	}
	return f.UnknownsFunc(ctx, job, batch)
}

func (f *fakeStore) UnmatchedReceipts(ctx context.Context, number string, since time.Time) ([]store.Receipt, error) {
	f.record(ctx, "UnmatchedReceipts")
	if f.UnmatchedReceiptsFunc == nil {
		return nil, nil
	}
	return f.UnmatchedReceiptsFunc(ctx, number, since)
}

func (f *fakeStore) SerialRefs(ctx context.Context, serials []string) (map[string]store.SerialRef, error) {
	f.record(ctx, "SerialRefs")
	if f.SerialRefsFunc == nil {
		return nil, nil
	}
	return f.SerialRefsFunc(ctx, serials)
}

func (f *fakeStore) IndexEvidenceSerials(ctx context.Context, job string, batch int, results []store.NumberResult) (map[string]store.SerialRef, error) {
	f.record(ctx, "IndexEvidenceSerials")
	if f.IndexEvidenceFunc == nil {
		return nil, nil
	}
	return f.IndexEvidenceFunc(ctx, job, batch, results)
}

func (f *fakeStore) SaveReceiptPage(ctx context.Context, app string, page []store.Receipt) (string, error) {
	f.record(ctx, "SaveReceiptPage")
	if f.SaveReceiptPageFunc == nil {
		return "page", nil
	}
	return f.SaveReceiptPageFunc(ctx, app, page)
}

func (f *fakeStore) ApplyReceiptPage(ctx context.Context, app string, page store.SavedPage) (store.ApplyStats, error) {
	f.record(ctx, "ApplyReceiptPage")
	if f.ApplyReceiptPageFunc == nil {
		return store.ApplyStats{}, nil
	}
	return f.ApplyReceiptPageFunc(ctx, app, page)
}

func (f *fakeStore) SettleUnknown(ctx context.Context, job string, batch int, results []store.NumberResult) error {
	f.record(ctx, "SettleUnknown")
	if f.SettleUnknownFunc == nil {
		return nil
	}
	return f.SettleUnknownFunc(ctx, job, batch, results)
}

func (f *fakeStore) ResendUnknown(ctx context.Context, job string, batch int, at time.Time) (store.RetryBatch, bool, error) {
	f.record(ctx, "ResendUnknown")
	if f.ResendUnknownFunc == nil {
		return store.RetryBatch{}, false, nil
	}
	return f.ResendUnknownFunc(ctx, job, batch, at)
}

func (f *fakeStore) Apps(ctx context.Context) ([]string, error) {
	f.record(ctx, "Apps")
	if f.AppsFunc == nil {
		return nil, nil
	}
	return f.AppsFunc(ctx)
}

func (f *fakeStore) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	f.record(ctx, "AcquireLease")
	if f.AcquireLeaseFunc == nil {
		return true, nil
	}
	return f.AcquireLeaseFunc(ctx, name, owner, ttl)
}

func (f *fakeStore) ReleaseLease(ctx context.Context, name, owner string) error {
	f.record(ctx, "ReleaseLease")
	if f.ReleaseLeaseFunc == nil {
		return nil
	}
	return f.ReleaseLeaseFunc(ctx, name, owner)
}

func (f *fakeStore) SavedReceiptPages(ctx context.Context, app string) ([]store.SavedPage, error) {
	f.record(ctx, "SavedReceiptPages")
	if f.SavedReceiptPagesFunc == nil {
		return nil, nil
	}
	return f.SavedReceiptPagesFunc(ctx, app)
}

func (f *fakeStore) ActiveJobs(ctx context.Context) ([]string, error) {
	f.record(ctx, "ActiveJobs")
	if f.ActiveJobsFunc == nil {
		return nil, nil
	}
	return f.ActiveJobsFunc(ctx)
}

func (f *fakeStore) PendingBatches(ctx context.Context, job string) ([]store.Batch, error) {
	f.record(ctx, "PendingBatches")
	if f.PendingBatchesFunc == nil {
		return nil, nil
	}
	return f.PendingBatchesFunc(ctx, job)
}

func (f *fakeStore) UnknownBatches(ctx context.Context, job string) ([]int, error) {
	f.record(ctx, "UnknownBatches")
	if f.UnknownBatchesFunc == nil {
		return nil, nil
	}
	return f.UnknownBatchesFunc(ctx, job)
}

func (f *fakeStore) Halts(ctx context.Context) ([]store.Halt, error) {
	f.record(ctx, "Halts")
	if f.HaltsFunc == nil {
		return nil, nil
	}
	return f.HaltsFunc(ctx)
}

// fakeSender is a Sender, StatusPuller and PhoneStatusPuller with Func fields.
type fakeSender struct {
	mu       sync.Mutex
	requests []tencentsms.SendRequest
	byPhone  []tencentsms.PullByPhoneRequest
	pulls    int

	SendSmsFunc     func(ctx context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error)
	PullFunc        func(ctx context.Context, appID string, limit int) ([]tencentsms.Receipt, error)
	PullByPhoneFunc func(ctx context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error)
}

func (f *fakeSender) SendSms(ctx context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.mu.Unlock()
	if f.SendSmsFunc == nil {
		return okResult(r), nil
	}
	return f.SendSmsFunc(ctx, r)
}

func (f *fakeSender) PullSendStatus(ctx context.Context, appID string, limit int) ([]tencentsms.Receipt, error) {
	f.mu.Lock()
	f.pulls++
	f.mu.Unlock()
	if f.PullFunc == nil {
		return nil, nil
	}
	return f.PullFunc(ctx, appID, limit)
}

func (f *fakeSender) PullSendStatusByPhoneNumber(ctx context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
	f.mu.Lock()
	f.byPhone = append(f.byPhone, r)
	f.mu.Unlock()
	if f.PullByPhoneFunc == nil {
		return nil, nil
	}
	return f.PullByPhoneFunc(ctx, r)
}

func (f *fakeSender) sent() []tencentsms.SendRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// okResult answers every number of r with Ok.
func okResult(r tencentsms.SendRequest) *tencentsms.SendResult {
	res := &tencentsms.SendResult{RequestID: "req-1"}
	for i, n := range r.PhoneNumbers {
		res.Statuses = append(res.Statuses, tencentsms.SendStatus{
			SerialNo: fmt.Sprintf("sn-%d", i), PhoneNumber: n, Fee: 1, Code: tencentsms.CodeOK,
		})
	}
	return res
}

// fakeLimiter is a Limiter with a Func field; nil grants at once.
type fakeLimiter struct {
	mu       sync.Mutex
	waits    int
	WaitFunc func(ctx context.Context) error
}

func (f *fakeLimiter) Wait(ctx context.Context) error {
	f.mu.Lock()
	f.waits++
	f.mu.Unlock()
	if f.WaitFunc == nil {
		return nil
	}
	return f.WaitFunc(ctx)
}

// enqueued is one task given to fakeEnqueuer.
type enqueued struct {
	Type    string
	Payload []byte
	ID      string         // the task's own TaskID
	Opts    []asynq.Option // the options given at enqueue time
}

func (e enqueued) opt(t asynq.OptionType) (any, bool) {
	for _, o := range e.Opts {
		if o.Type() == t {
			return o.Value(), true
		}
	}
	return nil, false
}

// taskID is the TaskID the task is enqueued under.
func (e enqueued) taskID() string {
	if v, ok := e.opt(asynq.TaskIDOpt); ok {
		s, _ := v.(string)
		return s
	}
	return e.ID
}

// queue is the queue given at enqueue time ("" for the task's default).
func (e enqueued) queue() string {
	v, _ := e.opt(asynq.QueueOpt)
	s, _ := v.(string)
	return s
}

func (e enqueued) processAt() time.Time {
	v, _ := e.opt(asynq.ProcessAtOpt)
	t, _ := v.(time.Time)
	return t
}

func (e enqueued) processIn() time.Duration {
	v, _ := e.opt(asynq.ProcessInOpt)
	d, _ := v.(time.Duration)
	return d
}

func (e enqueued) ref() (string, int) {
	var p struct {
		Job   string `json:"job"`
		Batch int    `json:"batch"`
	}
	_ = json.Unmarshal(e.Payload, &p)
	return p.Job, p.Batch
}

func (e enqueued) app() string {
	var p tasks.Probe
	_ = json.Unmarshal(e.Payload, &p)
	return p.App
}

// fakeEnqueuer records tasks; EnqueueFunc (optional) decides the result, an error matching
// asynq.ErrTaskIDConflict standing for a live task holding the TaskID (tasks.Duplicate).
type fakeEnqueuer struct {
	mu          sync.Mutex
	tasks       []enqueued
	EnqueueFunc func(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error
}

func (f *fakeEnqueuer) Enqueue(ctx context.Context, t *tasks.Task, opts ...asynq.Option) (tasks.Outcome, error) {
	f.mu.Lock()
	f.tasks = append(f.tasks, enqueued{Type: t.Type(), Payload: t.Payload(), ID: t.ID(), Opts: opts})
	f.mu.Unlock()
	if f.EnqueueFunc == nil {
		return tasks.Enqueued, nil
	}
	switch err := f.EnqueueFunc(ctx, t.Task, opts...); {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return tasks.Duplicate, nil
	case err != nil:
		return 0, err
	}
	return tasks.Enqueued, nil
}

func (f *fakeEnqueuer) all() []enqueued {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tasks)
}

func (f *fakeEnqueuer) ofType(typ string) []enqueued {
	var out []enqueued
	for _, e := range f.all() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// asRetryAfter returns err's *RetryAfterError or fails the test.
func asRetryAfter(t *testing.T, err error) *RetryAfterError {
	t.Helper()
	var ra *RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("error = %v, want a *RetryAfterError", err)
	}
	if IsFailure(err) {
		t.Errorf("IsFailure(%v) = true, want false for a wait", err)
	}
	return ra
}

// counterValue reads a counter's value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
