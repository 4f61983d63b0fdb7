package dispatcher

import (
	"context"
	"testing"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// A job naming an app that does not exist fails at once with the code; the app is not halted.
func TestSendAppThatDoesNotExistFailsTheJob(t *testing.T) {
	t.Parallel()
	f := newSendFixture(t, tasks.PriorityNormal)
	commits := f.captureCommits(store.CommitResult{Applied: true})
	var failCode string
	f.st.FailJobFunc = func(_ context.Context, _, code string) error {
		failCode = code
		return nil
	}
	f.snd.SendSmsFunc = func(context.Context, tencentsms.SendRequest) (*tencentsms.SendResult, error) {
		return nil, &tencentsms.Error{Action: "SendSms", Code: retry.CodeSdkAppIdNotExist}
	}
	if err := f.run(t); err != nil {
		t.Fatalf("ProcessTask = %v", err)
	}
	if f.st.count("Halt") != 0 || f.st.count("Park") != 0 {
		t.Errorf("store calls = %v: the app was halted", f.st.called())
	}
	if failCode != retry.CodeSdkAppIdNotExist {
		t.Errorf("job failed with %q, want %s", failCode, retry.CodeSdkAppIdNotExist)
	}
	if len(*commits) != 1 {
		t.Fatalf("%d commits, want 1", len(*commits))
	}
	for _, r := range (*commits)[0] {
		if r.State != store.Failed || r.Code != retry.CodeSdkAppIdNotExist {
			t.Errorf("result %+v, want Failed %s", r, retry.CodeSdkAppIdNotExist)
		}
	}
}

// Against the sandbox: the job fails at once with the code in its status, and the puller asks
// for the missing app once, not every run.
func TestIntegrationAppThatDoesNotExist(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		missing := "13" + it.app[2:] // an id the sandbox does not serve
		id := "it-missing-" + it.app
		job := store.Job{ID: id, AppID: missing, SignName: sandbox.DefaultSignName, TemplateID: sandbox.TemplateNotice,
			Priority: tasks.PriorityNormal}
		batches := []store.NewBatch{{Numbers: []string{"+8613900000001", "+8613900000002"}}, {Numbers: []string{"+8613900000003"}}}
		if created, err := it.st.CreateJob(it.ctx, job, [][]string{{"A1"}}, batches, 0); err != nil || !created {
			t.Fatalf("CreateJob = %v, %v", created, err)
		}
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, id, 0)); err != nil {
			t.Fatal(err)
		}
		st := it.status(t, id)
		if st.State != store.StateFailed || st.Failed != 3 || st.FailedByCode[retry.CodeSdkAppIdNotExist] != 3 || st.Pending != 0 {
			t.Errorf("status = %+v, want failed: 3 numbers with %s", st, retry.CodeSdkAppIdNotExist)
		}
		if h, err := it.st.HaltOf(it.ctx, missing); err != nil || h != nil {
			t.Errorf("HaltOf(missing app) = %+v, %v; want no halt", h, err)
		}
		lim := &fakeLimiter{}
		p, err := NewPuller(PullerConfig{Store: appsOnly{it.st, missing}, Puller: it.client, Limiter: lim, Apps: []string{it.app},
			Now: it.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := p.PullOnce(it.ctx); err != nil {
				t.Fatal(err)
			}
			it.clock.Add(DefaultPullInterval)
		}
		if got := it.sb.Stats().Calls["PullSmsSendStatus"]; got != 4 {
			t.Errorf("PullSmsSendStatus calls = %d, want 4 (the missing app once, the real one 3 times)", got)
		}
	})
}
