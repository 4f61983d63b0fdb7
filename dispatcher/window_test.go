package dispatcher

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// TestSendWindow: a claimed batch whose window is closed is given back (the reservation, never
// launched, spends no attempt) and waits for the opening as a RetryAfterError; one whose window
// closes while it waits on the rate limiter is not launched. otp jobs ignore windows.
func TestSendWindow(t *testing.T) {
	t.Parallel()
	sh := func(from, to int) store.Window { return store.Window{From: from, To: to, TZ: store.BeijingTZ} }
	// t0 is Monday 2026-03-02 18:00 Beijing time, 11:00 in Berlin (CET).
	for _, tc := range []struct {
		name     string
		prio     string
		window   store.Window
		waitAdds time.Duration // the rate-limiter wait moves the clock on
		delay    time.Duration // 0: sent
	}{
		{"no window", tasks.PriorityNormal, store.Window{}, 0, 0},
		{"open", tasks.PriorityNormal, sh(8*60, 22*60), 0, 0},
		{"marketing default open", tasks.PriorityBulk, store.MarketingWindow, 0, 0},
		{"opens later today", tasks.PriorityNormal, sh(20*60, 6*60), 0, 2 * time.Hour},
		{"closed until tomorrow", tasks.PriorityBulk, sh(6*60, 18*60), 0, 12 * time.Hour},
		{"wrap, open before midnight", tasks.PriorityNormal, sh(17*60, 2*60), 0, 0},
		{"wrap, closed", tasks.PriorityNormal, sh(23*60, 7*60), 0, 5 * time.Hour},
		{"other zone", tasks.PriorityNormal, store.Window{From: 8 * 60, To: 10 * 60, TZ: "Europe/Berlin"}, 0, 21 * time.Hour},
		{"otp ignores a closed window", tasks.PriorityOTP, sh(20*60, 6*60), 0, 0},
		{"closes during the limiter wait", tasks.PriorityNormal, sh(17*60, 18*60+30), 31 * time.Minute, 22*time.Hour + 29*time.Minute},
		{"still open after the limiter wait", tasks.PriorityNormal, sh(17*60, 18*60+30), 29 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSendFixture(t, tc.prio)
			f.st.ClaimFunc = func(context.Context, string, int, string) (store.ClaimResult, error) {
				cr := claimedBatch(tc.prio)
				cr.Job.Window = tc.window
				return cr, nil
			}
			f.lim.WaitFunc = func(context.Context) error {
				f.clock.Add(tc.waitAdds)
				return nil
			}
			err := f.run(t)
			sent := len(f.snd.sent())
			if tc.delay == 0 {
				if err != nil || sent != 1 {
					t.Fatalf("ProcessTask = %v with %d SendSms calls; want nil and 1", err, sent)
				}
				return
			}
			ra := asRetryAfter(t, err)
			if ra.Delay != tc.delay || IsFailure(err) {
				t.Errorf("RetryAfter delay = %v (failure %v), want %v, not a failure", ra.Delay, IsFailure(err), tc.delay)
			}
			// Given back, never launched: the attempt is not counted.
			if sent != 0 || f.st.count("Release") != 1 || f.st.count("Launch") != 0 || f.st.count("Requeue") != 0 {
				t.Errorf("store calls %v with %d SendSms calls; want one Release, no Launch, no send", f.st.called(), sent)
			}
			if tc.waitAdds == 0 && f.lim.waits != 0 {
				t.Errorf("%d rate-limiter waits for a batch outside its window, want none", f.lim.waits)
			}
		})
	}
}

// TestIntegrationSendWindow: a job outside its window sends nothing, however often its tasks
// run, until the window opens; then every number is sent once, at the first attempt. Status
// says when the window opens meanwhile.
func TestIntegrationSendWindow(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		loc, err := time.LoadLocation(store.BeijingTZ)
		if err != nil {
			t.Fatal(err)
		}
		// The window opens two hours from now (Beijing time) and lasts three: it may wrap midnight.
		now := it.clock.Now().Truncate(time.Minute)
		it.clock.Set(now)
		lt := now.In(loc)
		from := (lt.Hour()*60 + lt.Minute() + 120) % 1440
		w := store.Window{From: from, To: (from + 180) % 1440, TZ: store.BeijingTZ}
		opens := now.Add(2 * time.Hour)
		job := it.createJob(t, tasks.PriorityNormal, 250, 100, func(j *store.Job) { j.Window = w })
		for b := range 3 {
			if _, err := it.q.Enqueue(it.ctx, &tasks.Task{Task: it.sendTask(t, job, b)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, step := range []time.Duration{0, time.Hour, 59*time.Minute + 59*time.Second} {
			it.clock.Add(step)
			for b := range 3 {
				err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, b))
				ra := asRetryAfter(t, err)
				if got := it.clock.Now().Add(ra.Delay); !got.Equal(opens) || IsFailure(err) {
					t.Fatalf("batch %d at %v: retry at %v (failure %v), want %v", b, it.clock.Now(), got, IsFailure(err), opens)
				}
			}
			it.drain(t) // the queued tasks wait too
			if n := it.sb.Stats().NumbersSent; n != 0 {
				t.Fatalf("%d numbers sent before the window opened", n)
			}
			st := it.status(t, job)
			if st.State != store.StateScheduled || !st.NextOpen.Equal(opens) || st.Window != w.String() || st.Pending != 250 {
				t.Fatalf("status before the window = %+v; want scheduled, next_open %v, window %v", st, opens, w)
			}
		}
		it.clock.Set(opens)
		it.drain(t)
		st := it.status(t, job)
		if st.Sent != 250 || st.Pending != 0 || !st.NextOpen.IsZero() {
			t.Fatalf("status after the window opened = %+v, want 250 sent", st)
		}
		it.checkExactlyOnce(t)
		for b := range 3 {
			cr, err := it.st.Claim(it.ctx, job, b, "check")
			if err != nil || cr.Outcome != store.Done || cr.Attempt != 1 {
				t.Errorf("batch %d: %v at attempt %d (%v); want Done at attempt 1: waits spend no attempt", b, cr.Outcome, cr.Attempt, err)
			}
		}
	})
}

// TestSendWindowRetryBatch: the retry batch of a windowed job waits for the window as its parent
// did: a number retried after the window closed is sent when it opens again.
func TestSendWindowRetryBatch(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		ctx := context.Background()
		clock := redistest.NewClock(t0) // 18:00 Beijing time
		st := store.New(db.Client, store.Options{Now: clock.Now})
		snd := &fakeSender{}
		enq := &fakeEnqueuer{}
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewSendHandler(SendConfig{Store: st, Sender: snd, Enqueuer: enq, Limiter: &fakeLimiter{}, Metrics: m,
			Policy: retry.Policy{Rand: func() float64 { return 0.5 }}, HaltCacheTTL: -1, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		job := store.Job{ID: "wr", AppID: testApp, TemplateID: "1000002", Priority: tasks.PriorityNormal,
			Window: store.Window{From: 8 * 60, To: 18*60 + 30, TZ: store.BeijingTZ}}
		if ok, err := st.CreateJob(ctx, job, [][]string{{"A1"}}, []store.NewBatch{{Numbers: testNumbers}}, 0); err != nil || !ok {
			t.Fatalf("CreateJob = %v, %v", ok, err)
		}
		// The first number meets a code retried an hour later: after the window closed.
		snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
			res := okResult(r)
			if clock.Now().Equal(t0) {
				res.Statuses[0].Code, res.Statuses[0].SerialNo = "LimitExceeded.PhoneNumberOneHourLimit", ""
			}
			return res, nil
		}
		if err := h.ProcessTask(ctx, sendTask(t, "wr", 0)); err != nil {
			t.Fatal(err)
		}
		retries := enq.ofType(tasks.TypeSendBatch)
		if len(retries) != 1 {
			t.Fatalf("enqueued %+v, want one retry batch", retries)
		}
		_, rb := retries[0].ref()
		clock.Set(retries[0].processAt())
		if !clock.Now().After(t0.Add(30 * time.Minute)) {
			t.Fatalf("retry at %v, want after the window closes (18:30 Beijing)", clock.Now())
		}
		err = h.ProcessTask(ctx, sendTask(t, "wr", rb))
		ra := asRetryAfter(t, err)
		nextOpen := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC) // 08:00 Beijing the next day
		if got := clock.Now().Add(ra.Delay); !got.Equal(nextOpen) {
			t.Errorf("retry batch waits until %v, want %v", got, nextOpen)
		}
		if n := len(snd.sent()); n != 1 {
			t.Fatalf("%d SendSms calls, want only the first before the window opens", n)
		}
		clock.Set(nextOpen)
		if err := h.ProcessTask(ctx, sendTask(t, "wr", rb)); err != nil {
			t.Fatal(err)
		}
		calls := snd.sent()
		if len(calls) != 2 || !slices.Equal(calls[1].PhoneNumbers, testNumbers[:1]) {
			t.Fatalf("SendSms calls %+v, want the retried number sent at the opening", calls)
		}
		if s, err := st.Status(ctx, "wr"); err != nil || s.Sent != 3 || s.Pending != 0 {
			t.Errorf("status = %+v, %v; want 3 sent", s, err)
		}
	})
}

// TestSendWindowSpendsNoAsynqRetry runs a batch outside its window under a real asynq server:
// the task is rescheduled for the opening with its retry count unchanged.
func TestSendWindowSpendsNoAsynqRetry(t *testing.T) {
	t.Parallel()
	rdb := redistest.Mini(t).Client
	ctx := context.Background()
	clock := redistest.NewClock(t0) // 18:00 Beijing time
	st := store.New(rdb, store.Options{Now: clock.Now})
	snd := &fakeSender{}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	enq := tasks.NewEnqueuer(rdb)
	h, err := NewSendHandler(SendConfig{Store: st, Sender: snd, Enqueuer: enq, Limiter: &fakeLimiter{}, Metrics: m,
		HaltCacheTTL: -1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	job := store.Job{ID: "wa", AppID: testApp, TemplateID: "1000002", Priority: tasks.PriorityBulk,
		Window: store.Window{From: 20 * 60, To: 22 * 60, TZ: store.BeijingTZ}}
	if ok, err := st.CreateJob(ctx, job, [][]string{{"A1"}}, []store.NewBatch{{Numbers: testNumbers}}, 0); err != nil || !ok {
		t.Fatalf("CreateJob = %v, %v", ok, err)
	}
	task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: "wa", Batch: 0}, tasks.PriorityBulk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enq.Enqueue(ctx, task); err != nil {
		t.Fatal(err)
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues: map[string]int{task.Queue(): 1}, Concurrency: 1, ShutdownTimeout: time.Second,
		LogLevel: asynq.ErrorLevel, RetryDelayFunc: RetryDelay, IsFailure: IsFailure,
	})
	ran := make(chan error, 4)
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := h.ProcessTask(ctx, t)
		ran <- err
		return err
	})); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	select {
	case err := <-ran:
		asRetryAfter(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the task never ran")
	}
	ins := asynq.NewInspectorFromRedisClient(rdb)
	var info *asynq.TaskInfo
	for range 1000 {
		if info, err = ins.GetTaskInfo(task.Queue(), task.ID()); err == nil && info.State == asynq.TaskStateRetry {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || info.State != asynq.TaskStateRetry {
		t.Fatalf("task info %+v, %v; want retry", info, err)
	}
	if info.Retried != 0 || info.NextProcessAt.Before(time.Now().Add(time.Hour)) {
		t.Errorf("retried %d, next run %v; want 0 and about two hours from now", info.Retried, info.NextProcessAt)
	}
	if n := len(snd.sent()); n != 0 {
		t.Errorf("%d SendSms calls outside the window", n)
	}
}
