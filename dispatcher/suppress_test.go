package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// fakeSuppressor is a Suppressor over a set of numbers, with an error to answer lookups with.
type fakeSuppressor struct {
	mu        sync.Mutex
	on        map[string]string // number -> reason
	lookups   int
	lookupErr error
}

func (f *fakeSuppressor) Suppressed(_ context.Context, numbers []string) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.lookupErr != nil {
		return nil, f.lookupErr
	}
	out := make([]bool, len(numbers))
	for i, n := range numbers {
		_, out[i] = f.on[n]
	}
	return out, nil
}

func (f *fakeSuppressor) Suppress(_ context.Context, numbers []string, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on == nil {
		f.on = map[string]string{}
	}
	for _, n := range numbers {
		f.on[n] = reason
	}
	return nil
}

// newSuppressFixture is newSendFixture with supp as the handler's Suppressor.
func newSuppressFixture(t *testing.T, supp *fakeSuppressor) *sendFixture {
	t.Helper()
	f := newSendFixture(t, tasks.PriorityNormal)
	var err error
	if f.m, err = NewMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	f.h, err = NewSendHandler(SendConfig{
		Store: f.st, Sender: f.snd, Enqueuer: f.enq, Limiter: f.lim, Metrics: f.m, Suppressor: supp,
		Policy: retry.Policy{Rand: func() float64 { return 0.5 }}, HaltCacheTTL: -1, SignName: "Sandbox", Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSendLeavesSuppressedNumbersOut(t *testing.T) {
	t.Parallel()
	supp := &fakeSuppressor{on: map[string]string{testNumbers[1]: "TD"}}
	f := newSuppressFixture(t, supp)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	sent := f.snd.sent()
	if len(sent) != 1 || !slices.Equal(sent[0].PhoneNumbers, []string{testNumbers[0], testNumbers[2]}) {
		t.Fatalf("SendSms requests %+v, want one with numbers 0 and 2", sent)
	}
	if len(*commits) != 1 {
		t.Fatalf("%d commits, want 1", len(*commits))
	}
	got := map[int]store.NumberState{}
	for _, r := range (*commits)[0] {
		got[r.Index] = r.State
	}
	want := map[int]store.NumberState{0: store.Sent, 1: store.Suppressed, 2: store.Sent}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("committed states %v, want %v", got, want)
	}
	// The SerialNos of the call go to the numbers that were in it.
	for _, r := range (*commits)[0] {
		if r.State == store.Sent && r.SerialNo == "" {
			t.Errorf("index %d sent without a serial", r.Index)
		}
	}
	if supp.lookups != 1 {
		t.Errorf("%d lookups, want 1 per batch", supp.lookups)
	}
}

func TestSendAllSuppressedMakesNoCall(t *testing.T) {
	t.Parallel()
	supp := &fakeSuppressor{on: map[string]string{}}
	for _, n := range testNumbers {
		supp.on[n] = "import"
	}
	f := newSuppressFixture(t, supp)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if n := len(f.snd.sent()); n != 0 {
		t.Fatalf("SendSms called %d times, want none", n)
	}
	if f.lim.waits != 0 {
		t.Errorf("the batch waited on the rate limiter %d times, want none", f.lim.waits)
	}
	if slices.Contains(f.st.called(), "Launch") {
		t.Errorf("store calls %v: a batch that sends nothing is not launched", f.st.called())
	}
	if len(*commits) != 1 || len((*commits)[0]) != 3 {
		t.Fatalf("commits %v, want one of 3 results", *commits)
	}
	for _, r := range (*commits)[0] {
		if r.State != store.Suppressed {
			t.Errorf("index %d committed %q, want suppressed", r.Index, rune(r.State))
		}
	}
}

func TestSendSuppressionLookupFails(t *testing.T) {
	t.Parallel()
	boom := errors.New("redis down")
	f := newSuppressFixture(t, &fakeSuppressor{lookupErr: boom})
	err := f.run(t)
	if !errors.Is(err, boom) || !IsFailure(err) {
		t.Fatalf("ProcessTask = %v, want a failure wrapping the lookup error", err)
	}
	if n := len(f.snd.sent()); n != 0 {
		t.Fatalf("SendSms called %d times without the suppression lookup", n)
	}
	if f.st.count("Release") != 1 || f.st.count("Commit") != 0 {
		t.Errorf("store calls %v, want the claim released and nothing committed", f.st.called())
	}
}

func TestSendBlacklistedNumberJoinsSuppressionList(t *testing.T) {
	t.Parallel()
	supp := &fakeSuppressor{}
	f := newSuppressFixture(t, supp)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	f.snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		res := okResult(r)
		res.Statuses[1] = tencentsms.SendStatus{PhoneNumber: r.PhoneNumbers[1], Code: retry.CodePhoneNumberInBlacklist}
		return res, nil
	}
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	if got := supp.on; len(got) != 1 || got[testNumbers[1]] != retry.CodePhoneNumberInBlacklist {
		t.Fatalf("suppression list %v, want only %s with the code", got, testNumbers[1])
	}
	// This job counts it failed (Tencent refused it).
	for _, r := range (*commits)[0] {
		if r.Index == 1 && (r.State != store.Failed || r.Code != retry.CodePhoneNumberInBlacklist) {
			t.Fatalf("blocklisted number committed %+v, want failed with the code", r)
		}
	}
	// The next batch with the number leaves it out.
	if err := f.run(t); err != nil {
		t.Fatal(err)
	}
	sent := f.snd.sent()
	if len(sent) != 2 || slices.Contains(sent[1].PhoneNumbers, testNumbers[1]) {
		t.Fatalf("second call %+v still holds the blocklisted number", sent[len(sent)-1])
	}
}

// createJobOf writes a job of the given numbers in one batch.
func (it *itest) createJobOf(t *testing.T, numbers []string) string {
	t.Helper()
	id := fmt.Sprintf("it-%d", rand.Int64())
	job := store.Job{ID: id, AppID: it.app, SignName: sandbox.DefaultSignName, TemplateID: sandbox.TemplateNotice,
		Priority: tasks.PriorityNormal}
	created, err := it.st.CreateJob(it.ctx, job, [][]string{{"A1"}}, []store.NewBatch{{Numbers: numbers}}, 0)
	if err != nil || !created {
		t.Fatalf("CreateJob = %v, %v", created, err)
	}
	return id
}

// runJob runs the send task of a job created by createJobOf, then every task it leads to.
func (it *itest) runJob(t *testing.T, job string) {
	t.Helper()
	if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, 0)); err != nil {
		t.Fatal(err)
	}
	it.drain(t)
}

// TestIntegrationSuppression: against the real store and the sandbox, a number on the
// suppression list is never sent and counts suppressed; a number Tencent answers as blocklisted
// fails in its job and is never sent by a later job; a job of only suppressed numbers makes no
// call and ends done.
func TestIntegrationSuppression(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		base := rand.IntN(1e8)
		numbers := make([]string, 5)
		for i := range numbers {
			numbers[i] = fmt.Sprintf("+86139%08d", (base+i)%1e8)
		}
		optedOut, blocked := numbers[1], numbers[3]
		it := newITest(t, db, func(c *sandbox.Config) {
			c.ReceiptFailRate = 0
			c.Faults.NumberCodes = map[string]string{blocked: retry.CodePhoneNumberInBlacklist}
		})
		if err := it.st.Suppress(it.ctx, []string{optedOut}, "TD"); err != nil {
			t.Fatal(err)
		}

		first := it.createJobOf(t, numbers)
		it.runJob(t, first)
		st := it.status(t, first)
		if st.Sent != 3 || st.Failed != 1 || st.Suppressed != 1 || st.Pending != 0 || st.Unknown != 0 ||
			st.FailedByCode[retry.CodePhoneNumberInBlacklist] != 1 {
			t.Fatalf("first job: %+v", st)
		}
		if c := it.sb.SendCount(optedOut); c != 0 {
			t.Errorf("the opted-out number was accepted %d times", c)
		}
		if on, err := it.st.Suppressed(it.ctx, []string{blocked}); err != nil || !on[0] {
			t.Fatalf("the blocklisted number is not on the list: %v, %v", on, err)
		}

		it.clock.Add(time.Minute) // past Tencent's 30-second limit per number
		second := it.createJobOf(t, numbers)
		it.runJob(t, second)
		st = it.status(t, second)
		if st.Sent != 3 || st.Failed != 0 || st.Suppressed != 2 || st.Pending != 0 {
			t.Fatalf("second job: %+v", st)
		}
		stats := it.sb.Stats()
		if got := stats.NumberErrors[retry.CodePhoneNumberInBlacklist]; got != 1 {
			t.Errorf("the blocklisted number was sent %d times, want once (by the first job)", got)
		}
		for i, n := range numbers {
			want := 2 // once per job
			if n == optedOut || n == blocked {
				want = 0
			}
			if got := it.sb.SendCount(n); got != want {
				t.Errorf("number %d accepted %d times, want %d", i, got, want)
			}
		}

		calls := stats.Calls["SendSms"]
		it.clock.Add(time.Minute)
		third := it.createJobOf(t, []string{optedOut, blocked})
		it.runJob(t, third)
		st = it.status(t, third)
		if st.State != store.StateDone || !st.Final || st.Suppressed != 2 || st.Sent != 0 || st.Failed != 0 {
			t.Fatalf("third job: %+v", st)
		}
		if got := it.sb.Stats().Calls["SendSms"]; got != calls {
			t.Errorf("a job of only suppressed numbers made %d SendSms calls", got-calls)
		}
	})
}

// TestIntegrationUnsubscribeReply: an unsubscribe reply to the reply callback puts the number on
// the store's suppression list, and a later job never sends to it.
func TestIntegrationUnsubscribeReply(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		base := rand.IntN(1e8)
		numbers := []string{fmt.Sprintf("+86139%08d", base), fmt.Sprintf("+86139%08d", (base+1)%1e8)}
		it := newITest(t, db, nil)
		srv := callbackServer(t, CallbackConfig{Store: it.st, Suppressor: it.st, App: it.app})
		body, _ := json.Marshal(map[string]any{"extend": "", "mobile": numbers[1][3:], "nationcode": "86",
			"sign": "腾讯云", "text": "TD", "time": it.clock.Now().Unix()})
		if code, _ := post(t, srv.URL+"/callback/reply/"+testToken, body); code != http.StatusOK {
			t.Fatalf("reply callback: HTTP %d", code)
		}
		job := it.createJobOf(t, numbers)
		it.runJob(t, job)
		st := it.status(t, job)
		if st.Sent != 1 || st.Suppressed != 1 || st.Pending != 0 {
			t.Fatalf("job after the unsubscribe: %+v", st)
		}
		if c := it.sb.SendCount(numbers[1]); c != 0 {
			t.Errorf("the unsubscribed number was accepted %d times", c)
		}
	})
}
