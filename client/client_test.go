package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

func cn(i int) string { return fmt.Sprintf("138%08d", i) }

func TestSendSameJobIDTwice(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "twice")
		req := Request{JobID: id, TemplateID: "1001", Params: []string{"1234"},
			Recipients: []Recipient{{Number: cn(1)}, {Number: cn(2)}}}
		first, err := e.c.Send(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !first.Created || first.JobID != id || first.Accepted != 2 || first.Batches != 1 {
			t.Fatalf("first = %+v", first)
		}
		second, err := e.c.Send(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if second.Created || second.JobID != id || second.Accepted != 2 {
			t.Fatalf("second = %+v, want the existing job (2 recipients), not created", second)
		}
		// The same id with one recipient more is another request: refused, not replayed.
		req.Recipients = append(req.Recipients, Recipient{Number: cn(3)})
		third, err := e.c.Send(ctx, req)
		var ie *IdempotencyError
		if !errors.As(err, &ie) || !errors.Is(err, ErrIdempotencyMismatch) || !slices.Equal(ie.Fields(), []string{"Recipients"}) || third.Created {
			t.Fatalf("third = %+v, %v; want an IdempotencyError naming Recipients", third, err)
		}
		if got := len(e.jobTasks(t, id)["pending"]); got != 1 {
			t.Fatalf("%d pending tasks, want 1", got)
		}
		st, err := e.c.Status(ctx, id)
		if err != nil || st.Total != 2 {
			t.Fatalf("status %+v, %v", st, err)
		}
	})
}

// TestSendLargeJob sends 10,000 lines with invalid numbers and duplicates and checks the
// totals, every batch record (size, no +86/international mix, params of the first occurrence)
// and the enqueued tasks.
func TestSendLargeJob(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "large")

		var sb strings.Builder
		wantParams := map[string][]string{} // E.164 -> params of its first occurrence
		rejected, dups := 0, 0
		for i := range 10000 {
			var raw, e164 string
			switch {
			case i%50 == 0:
				raw = fmt.Sprintf("bad-%d", i)
			case i%97 == 0:
				raw = cn(i / 3) // maybe a duplicate of an earlier line
				e164 = "+86" + raw
			case i%9 == 0:
				raw = fmt.Sprintf("+1 650 253 %04d", i)
				e164 = fmt.Sprintf("+1650253%04d", i)
			default:
				raw = cn(i)
				e164 = "+86" + raw
			}
			params := []string(nil)
			if i%3 == 0 {
				params = []string{fmt.Sprint(i % 4)}
			}
			sb.WriteString(raw)
			for _, p := range params {
				sb.WriteString("," + p)
			}
			sb.WriteString("\n")
			switch {
			case e164 == "":
				rejected++
			case wantParams[e164] != nil:
				dups++
			default:
				wantParams[e164] = cmpParams(params, []string{"job"})
			}
		}
		var onReject []int
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Params: []string{"job"},
			Reader: strings.NewReader(sb.String()), OnReject: func(le LineError) { onReject = append(onReject, le.Line) }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != len(wantParams) || res.RejectedCount != rejected || res.Duplicates != dups || len(res.Rejected) != rejected {
			t.Fatalf("result accepted %d rejected %d dups %d; want %d %d %d", res.Accepted, res.RejectedCount, res.Duplicates, len(wantParams), rejected, dups)
		}
		if len(onReject) != rejected || !slices.IsSorted(onReject) || onReject[0] != 1 {
			t.Fatalf("OnReject lines %v...", onReject[:min(5, len(onReject))])
		}

		st, err := e.c.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != int64(len(wantParams)) || st.Rejected != int64(rejected) || st.Pending != st.Total ||
			st.Batches != int64(res.Batches) || st.State != store.StateRunning {
			t.Fatalf("status %+v", st)
		}

		// Every batch record: claim it and look.
		got := map[string][]string{}
		for b := range res.Batches {
			cr, err := e.c.Store().Claim(ctx, id, b, "test-token")
			if err != nil || cr.Outcome != store.Claimed {
				t.Fatalf("claim %d: %+v, %v", b, cr.Outcome, err)
			}
			if len(cr.Numbers) == 0 || len(cr.Numbers) > 200 {
				t.Fatalf("batch %d has %d numbers", b, len(cr.Numbers))
			}
			for _, n := range cr.Numbers {
				if strings.HasPrefix(n, "+86") == cr.Intl {
					t.Fatalf("batch %d (intl=%v) holds %s", b, cr.Intl, n)
				}
				if _, dup := got[n]; dup {
					t.Fatalf("%s in two batches", n)
				}
				got[n] = cr.Params
			}
		}
		if !maps.EqualFunc(got, wantParams, slices.Equal) {
			t.Fatalf("batch records hold %d numbers, want %d (or params differ)", len(got), len(wantParams))
		}

		// One small task per batch, ids send:<job>:<n>.
		pending := e.jobTasks(t, id)["pending"]
		if len(pending) != res.Batches {
			t.Fatalf("%d pending tasks, want %d", len(pending), res.Batches)
		}
		ids := map[string]bool{}
		for _, in := range pending {
			ids[in.ID] = true
			if len(in.Payload) >= 64<<10 || in.Queue != tasks.QueueNormal || in.Type != tasks.TypeSendBatch {
				t.Fatalf("task %s: %d-byte payload on %s, type %s", in.ID, len(in.Payload), in.Queue, in.Type)
			}
		}
		for b := range res.Batches {
			if !ids[tasks.SendBatchTaskID(id, b)] {
				t.Fatalf("no task for batch %d", b)
			}
		}
	})
}

func cmpParams(own, job []string) []string {
	if own != nil {
		return own
	}
	return job
}

func TestSendScheduledAndPriorities(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		at := time.Now().Add(time.Hour).Truncate(time.Second)
		bulk := jobID(t, "bulk")
		res, err := e.c.Send(ctx, Request{JobID: bulk, TemplateID: "1001", Priority: "bulk", SendAt: at,
			Recipients: []Recipient{{Number: cn(1)}, {Number: "+44 20 7031 3000"}}})
		if err != nil {
			t.Fatal(err)
		}
		sched := e.jobTasks(t, bulk)["scheduled"]
		if len(sched) != res.Batches || res.Batches != 2 {
			t.Fatalf("%d scheduled tasks, %d batches; want 2", len(sched), res.Batches)
		}
		for _, in := range sched {
			if in.Queue != tasks.QueueBulk || !in.NextProcessAt.Equal(at) {
				t.Fatalf("task %s on %s at %v; want %s at %v", in.ID, in.Queue, in.NextProcessAt, tasks.QueueBulk, at)
			}
		}
		if st, _ := e.c.Status(ctx, bulk); st.State != store.StateScheduled {
			t.Fatalf("state %q, want scheduled", st.State)
		}
		job, err := e.c.Store().Job(ctx, bulk)
		if err != nil || !job.SendAt.Equal(at) || !job.ExpiresAt.IsZero() || job.AppID != testApp {
			t.Fatalf("job %+v, %v", job, err)
		}

		otp := jobID(t, "otp")
		before := time.Now()
		if _, err := e.c.Send(ctx, Request{JobID: otp, TemplateID: "1001", Priority: "otp", Params: []string{"123456"},
			AppID: "1400000009", Recipients: []Recipient{{Number: cn(1)}}}); err != nil {
			t.Fatal(err)
		}
		if got := e.jobTasks(t, otp)["pending"]; len(got) != 1 || got[0].Queue != tasks.QueueOTP {
			t.Fatalf("otp tasks %v", got)
		}
		job, err = e.c.Store().Job(ctx, otp)
		if err != nil || job.AppID != "1400000009" || job.ExpiresAt.Before(before.Add(DefaultOTPExpire-time.Second)) ||
			job.ExpiresAt.After(time.Now().Add(DefaultOTPExpire+time.Second)) {
			t.Fatalf("otp job %+v, %v; want default expiry in 10 min", job, err)
		}
	})
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ok := Request{TemplateID: "1001", Recipients: []Recipient{{Number: cn(1)}}}
		with := func(f func(r *Request)) Request { r := ok; f(&r); return r }
		tests := []struct {
			name  string
			req   Request
			field string
		}{
			{"empty template", with(func(r *Request) { r.TemplateID = " " }), "TemplateID"},
			{"template not digits", with(func(r *Request) { r.TemplateID = "tpl-1" }), "TemplateID"},
			{"unknown priority", with(func(r *Request) { r.Priority = "urgent" }), "Priority"},
			{"negative expire", with(func(r *Request) { r.Expire = -time.Second }), "Expire"},
			{"otp send-at past its expiry", with(func(r *Request) { r.Priority = "otp"; r.SendAt = time.Now().Add(time.Hour) }), "SendAt"},
			{"send-at past explicit expiry", with(func(r *Request) { r.Expire = time.Minute; r.SendAt = time.Now().Add(2 * time.Minute) }), "SendAt"},
			{"job id with colon", with(func(r *Request) { r.JobID = "a:b" }), "JobID"},
			{"job id with brace", with(func(r *Request) { r.JobID = "{a}" }), "JobID"},
			{"job id with space", with(func(r *Request) { r.JobID = "a b" }), "JobID"},
			{"job id too long", with(func(r *Request) { r.JobID = strings.Repeat("a", 129) }), "JobID"},
			{"app not numeric", with(func(r *Request) { r.AppID = "my-app" }), "AppID"},
			{"unknown country", with(func(r *Request) { r.Country = "XX" }), "Country"},
			{"no recipients", with(func(r *Request) { r.Recipients = nil }), "Recipients"},
			{"no valid recipients", with(func(r *Request) { r.Recipients = []Recipient{{Number: "x"}, {Number: "12"}} }), "Recipients"},
			{"extend code", with(func(r *Request) { r.ExtendCode = "12a" }), "ExtendCode"},
			{"send-at year 2500", with(func(r *Request) { r.SendAt = time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC) }), "SendAt"},
			{"send-at just over a year", with(func(r *Request) { r.SendAt = time.Now().Add(MaxSendAhead + time.Minute) }), "SendAt"},
			{"expire over MaxExpire", with(func(r *Request) { r.Expire = MaxExpire + time.Second }), "Expire"},
			{"expire of 200 years", with(func(r *Request) { r.Expire = 200 * 365 * 24 * time.Hour }), "Expire"},
			{"unknown encoding", with(func(r *Request) { r.Encoding = "latin1" }), "Encoding"},
			{"params not utf-8", with(func(r *Request) { r.Params = []string{"\xd5\xc5"} }), "Params"},
			{"sign not utf-8", with(func(r *Request) { r.SignName = "\xb0\xa2" }), "SignName"},
			{"recipient params not utf-8", with(func(r *Request) { r.Recipients = []Recipient{{Number: cn(1), Params: []string{"\xd5"}}} }), "Encoding"},
			{"callback not a url", with(func(r *Request) { r.CallbackURL = "::nope" }), "CallbackURL"},
			{"callback ftp", with(func(r *Request) { r.CallbackURL = "ftp://example.com/x" }), "CallbackURL"},
			{"callback relative", with(func(r *Request) { r.CallbackURL = "/hooks/sms" }), "CallbackURL"},
			{"callback user info", with(func(r *Request) { r.CallbackURL = "https://u:p@example.com/x" }), "CallbackURL"},
			{"callback too long", with(func(r *Request) { r.CallbackURL = "https://example.com/" + strings.Repeat("a", MaxCallbackURL) }), "CallbackURL"},
			{"gbk reader", with(func(r *Request) { r.Recipients = nil; r.Reader = strings.NewReader(cn(1) + ",\xd5\xc5\xc8\xfd\n") }), "Encoding"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := e.c.Send(context.Background(), tt.req)
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("err = %v, want a FieldError for %s", err, tt.field)
				}
				if !strings.Contains(err.Error(), tt.field) {
					t.Fatalf("message %q does not name %s", err, tt.field)
				}
				if res.Created {
					t.Fatal("created")
				}
			})
		}
		// No app id anywhere.
		noApp, err := New(e.rdb, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var fe *FieldError
		if _, err := noApp.Send(context.Background(), ok); !errors.As(err, &fe) || fe.Field != "AppID" {
			t.Fatalf("no app id: %v", err)
		}
	})
}

func TestSendNoValidRecipientsListsRejections(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		res, err := e.c.Send(context.Background(), Request{TemplateID: "1001",
			Reader: strings.NewReader("# list\nabc\n\n12345\n")})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("err = %v", err)
		}
		if res.RejectedCount != 2 || len(res.Rejected) != 2 || res.Rejected[0].Line != 2 || res.Rejected[1].Line != 4 {
			t.Fatalf("rejected %+v", res.Rejected)
		}
	})
}

func TestSendRecipientsAndReader(t *testing.T) {
	t.Parallel()
	backends(t, Options{Country: "US", RejectedSample: 1}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "mixed")
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001",
			Recipients: []Recipient{{Number: "(650) 253-0000", Params: []string{"a"}}, {Number: "nope"}},
			Reader:     strings.NewReader("650-253-0000,b\n+86 138 0000 0001\nbad\n")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != 2 || res.Duplicates != 1 || res.RejectedCount != 2 || len(res.Rejected) != 1 {
			t.Fatalf("result %+v", res)
		}
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	backends(t, Options{MaxBatch: 10}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "cancel")
		var rs []Recipient
		for i := range 95 {
			rs = append(rs, Recipient{Number: cn(i)})
		}
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Recipients: rs})
		if err != nil || res.Batches != 10 {
			t.Fatalf("send: %+v, %v", res, err)
		}
		st, err := e.c.Cancel(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != store.StateCancelled || st.Cancelled != 95 || st.Pending != 0 {
			t.Fatalf("after cancel %+v", st)
		}
		if !Settled(st) {
			t.Fatal("cancelled job not settled")
		}
		if _, err := e.c.Cancel(ctx, "t-no-such-job"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("cancel unknown job: %v", err)
		}
		if _, err := e.c.Status(ctx, "t-no-such-job"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("status unknown job: %v", err)
		}
	})
}

// TestResume parks batches as a halted worker would, leaves one parked batch's task archived
// (it would never run again), and checks that Resume re-enqueues every parked batch at once.
func TestResume(t *testing.T) {
	t.Parallel()
	backends(t, Options{MaxBatch: 2}, func(t *testing.T, e *env) {
		ctx := context.Background()
		app := "14000" + fmt.Sprint(time.Now().UnixNano()%100000)
		id := jobID(t, "resume")
		res, err := e.c.Send(ctx, Request{JobID: id, AppID: app, TemplateID: "1001",
			Recipients: []Recipient{{Number: cn(1)}, {Number: cn(2)}, {Number: cn(3)}, {Number: cn(4)}, {Number: cn(5)}}})
		if err != nil || res.Batches != 3 {
			t.Fatalf("send: %+v, %v", res, err)
		}
		st := e.c.Store()
		if err := st.Halt(ctx, app, "FailedOperation.InsufficientBalanceInSmsPackage", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if s, _ := e.c.Status(ctx, id); s.State != store.StatePaused {
			t.Fatalf("state %q, want paused", s.State)
		}
		// The worker ran batches 0 and 2, found the halt, parked them and completed the tasks.
		for _, b := range []int{0, 2} {
			if err := st.Park(ctx, app, id, b); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.ins.DeleteTask(tasks.QueueNormal, tasks.SendBatchTaskID(id, 0)); err != nil {
			t.Fatal(err)
		}
		if err := e.ins.ArchiveTask(tasks.QueueNormal, tasks.SendBatchTaskID(id, 2)); err != nil {
			t.Fatal(err)
		}

		n, err := e.c.Resume(ctx, app)
		if err != nil || n != 2 {
			t.Fatalf("Resume = %d, %v; want 2", n, err)
		}
		got := e.jobTasks(t, id)
		if len(got["pending"]) != 3 || len(got["archived"]) != 0 {
			t.Fatalf("after resume: %d pending, %d archived; want 3 and 0", len(got["pending"]), len(got["archived"]))
		}
		if h, err := st.HaltOf(ctx, app); err != nil || h != nil {
			t.Fatalf("halt still there: %+v, %v", h, err)
		}
		if n, err := e.c.Resume(ctx, app); err != nil || n != 0 {
			t.Fatalf("second Resume = %d, %v", n, err)
		}
	})
}

func TestResumeAllApps(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "all")
		if _, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Recipients: []Recipient{{Number: cn(1)}}}); err != nil {
			t.Fatal(err)
		}
		st := e.c.Store()
		for _, app := range []string{"1400000001", "1400000002"} {
			if err := st.Halt(ctx, app, "Halt", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Park(ctx, testApp, id, 0); err != nil {
			t.Fatal(err)
		}
		n, err := e.c.Resume(ctx, "")
		if err != nil || n != 1 {
			t.Fatalf("Resume(all) = %d, %v", n, err)
		}
		if halts, err := st.Halts(ctx); err != nil || len(halts) != 0 {
			t.Fatalf("halts left: %+v, %v", halts, err)
		}
	})
}

// failAsynq is a go-redis hook that fails every command touching asynq's keys.
type failAsynq struct{ calls atomic.Int64 }

func (f *failAsynq) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failAsynq) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.HasPrefix(s, "asynq:") {
				f.calls.Add(1)
				err := errors.New("injected: asynq unavailable")
				cmd.SetErr(err)
				return err
			}
		}
		return next(ctx, cmd)
	}
}
func (f *failAsynq) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestSendEnqueueFailureKeepsJob(t *testing.T) {
	t.Parallel()
	backends(t, Options{MaxBatch: 1, EnqueueAttempts: 2}, func(t *testing.T, e *env) {
		hook := &failAsynq{}
		e.rdb.AddHook(hook)
		ctx := context.Background()
		id := jobID(t, "noenq")
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Recipients: []Recipient{{Number: cn(1)}, {Number: cn(2)}}})
		if !errors.Is(err, ErrNotEnqueued) || !strings.Contains(err.Error(), "sweeper") {
			t.Fatalf("err = %v, want ErrNotEnqueued", err)
		}
		if !res.Created || res.JobID != id || res.Accepted != 2 {
			t.Fatalf("result %+v", res)
		}
		if hook.calls.Load() < 2 {
			t.Fatalf("enqueue tried %d times, want retries", hook.calls.Load())
		}
		pending, err := e.c.Store().PendingBatches(ctx, id)
		if err != nil || len(pending) != 2 {
			t.Fatalf("pending batches %v, %v; want both, for the sweeper", pending, err)
		}
	})
}

func TestWait(t *testing.T) {
	t.Parallel()
	backends(t, Options{Store: store.Options{ReceiptWindow: time.Nanosecond}}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "wait")
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Recipients: []Recipient{{Number: cn(1)}, {Number: "+1 650 253 0000"}}})
		if err != nil {
			t.Fatal(err)
		}
		// A fake worker sends every batch after the first poll.
		polls := 0
		final, err := e.c.Wait(ctx, id, time.Millisecond, func(st store.Status) {
			polls++
			if polls != 1 {
				return
			}
			if st.State != store.StateRunning {
				t.Errorf("first poll state %q", st.State)
			}
			for b := range res.Batches {
				cr, err := e.c.Store().Claim(ctx, id, b, "tok")
				if err != nil {
					t.Error(err)
					return
				}
				var results []store.NumberResult
				for _, ix := range cr.Indexes {
					results = append(results, store.NumberResult{Index: ix, State: store.Sent, SerialNo: fmt.Sprint(id, b, ix), Fee: 1})
				}
				if _, err := e.c.Store().Commit(ctx, id, b, "tok", results); err != nil {
					t.Error(err)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if final.State != store.StateDone || final.Sent != 2 || polls < 2 {
			t.Fatalf("final %+v after %d polls", final, polls)
		}

		// Ending ctx stops the wait.
		id2 := jobID(t, "wait2")
		if _, err := e.c.Send(ctx, Request{JobID: id2, TemplateID: "1001", Recipients: []Recipient{{Number: cn(1)}}}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		_, err = e.c.Wait(cctx, id2, time.Millisecond, func(store.Status) { cancel() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNewJobID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := NewJobID()
		if err := ValidJobID(id); err != nil || len(id) != 24 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" || strings.ContainsAny(id, "{}|: \t\n") {
			t.Fatalf("NewJobID() = %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("duplicate %q", id)
		}
		seen[id] = true
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("nil redis accepted")
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	if _, err := New(rdb, Options{Country: "XX"}); err == nil {
		t.Fatal("unknown country accepted")
	}
	if _, err := New(rdb, Options{MaxBatch: 201}); err == nil {
		t.Fatal("MaxBatch 201 accepted")
	}
}
