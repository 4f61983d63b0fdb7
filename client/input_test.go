package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/smsdispatch/smsdispatch/store"
)

// TestSendIdempotency: the same job id with the same request returns the existing job; with a
// different request, an IdempotencyError naming every field that differs, and nothing is sent.
func TestSendIdempotency(t *testing.T) {
	t.Parallel()
	backends(t, Options{SignName: "Acme"}, func(t *testing.T, e *env) {
		ctx := context.Background()
		at := time.Now().Add(time.Hour).Truncate(time.Second)
		base := Request{TemplateID: "1001", Params: []string{"Friend"}, Priority: "bulk", SendAt: at, Expire: 2 * time.Hour,
			Recipients: []Recipient{{Number: cn(1)}, {Number: cn(2), Params: []string{"Ada"}}, {Number: "+44 20 7031 3000"}}}
		with := func(f func(r *Request)) Request {
			r := base
			r.Params = slices.Clone(base.Params)
			r.Recipients = slices.Clone(base.Recipients)
			f(&r)
			return r
		}
		same := []struct {
			name string
			req  Request
		}{
			{"identical", base},
			{"recipients reordered", with(func(r *Request) { slices.Reverse(r.Recipients) })},
			{"other notation", with(func(r *Request) { r.Recipients[0].Number = "+86 " + cn(1); r.Recipients[2].Number = "+442070313000" })},
			{"a duplicate and a bad number", with(func(r *Request) {
				r.Recipients = append(r.Recipients, Recipient{Number: cn(1)}, Recipient{Number: "nope"})
			})},
			{"defaults spelled out", with(func(r *Request) { r.AppID, r.SignName = testApp, "Acme" })},
			{"as a reader", with(func(r *Request) {
				r.Recipients = nil
				r.Reader = strings.NewReader(cn(2) + ",Ada\n+44 20 7031 3000\n" + cn(1) + "\n")
			})},
		}
		differ := []struct {
			name   string
			req    Request
			fields []string
		}{
			{"template", with(func(r *Request) { r.TemplateID = "1002" }), []string{"TemplateID"}},
			{"params", with(func(r *Request) { r.Params = []string{"Foe"} }), []string{"Params"}},
			{"no params", with(func(r *Request) { r.Params = nil }), []string{"Params"}},
			{"sign", with(func(r *Request) { r.SignName = "Other" }), []string{"SignName"}},
			{"app", with(func(r *Request) { r.AppID = "1400000002" }), []string{"AppID"}},
			{"sender and extend code", with(func(r *Request) { r.SenderID, r.ExtendCode = "s", "12" }), []string{"SenderID", "ExtendCode"}},
			{"priority", with(func(r *Request) { r.Priority = "normal" }), []string{"Priority"}},
			{"send time", with(func(r *Request) { r.SendAt = at.Add(time.Minute) }), []string{"SendAt"}},
			{"now instead of later", with(func(r *Request) { r.SendAt = time.Time{} }), []string{"SendAt"}},
			{"expiry", with(func(r *Request) { r.Expire = 3 * time.Hour }), []string{"Expire"}},
			{"daily limit", with(func(r *Request) { r.DeferDailyLimit = true }), []string{"DeferDailyLimit"}},
			{"send window", with(func(r *Request) { r.Window = "08:00-20:00" }), []string{"Window"}},
			{"one recipient more", with(func(r *Request) { r.Recipients = append(r.Recipients, Recipient{Number: cn(3)}) }), []string{"Recipients"}},
			{"one recipient less", with(func(r *Request) { r.Recipients = r.Recipients[:2] }), []string{"Recipients"}},
			{"a recipient replaced", with(func(r *Request) { r.Recipients[0].Number = cn(4) }), []string{"Recipients"}},
			{"own params changed", with(func(r *Request) { r.Recipients[1].Params = []string{"Bob"} }), []string{"Recipients"}},
			{"other country for numbers without +", with(func(r *Request) { r.Country = "US"; r.Recipients[0].Number = "650 253 0000" }), []string{"Recipients"}},
			{"no valid recipient", with(func(r *Request) { r.Recipients = []Recipient{{Number: "nope"}} }), []string{"Recipients"}},
			{"template and recipients", with(func(r *Request) { r.TemplateID = "1003"; r.Recipients = r.Recipients[1:] }), []string{"TemplateID", "Recipients"}},
		}
		id := jobID(t, "idem")
		first := base
		first.JobID = id
		res, err := e.c.Send(ctx, first)
		if err != nil || !res.Created || res.Accepted != 3 {
			t.Fatalf("first = %+v, %v", res, err)
		}
		tasksBefore := len(e.jobTasks(t, id)["scheduled"])
		for _, tt := range same {
			t.Run("same/"+tt.name, func(t *testing.T) {
				req := tt.req
				req.JobID = id
				got, err := e.c.Send(ctx, req)
				if err != nil || got.Created || got.JobID != id || got.Accepted != 3 || got.Batches != res.Batches {
					t.Fatalf("Send = %+v, %v; want the existing job", got, err)
				}
			})
		}
		for _, tt := range differ {
			t.Run("differ/"+tt.name, func(t *testing.T) {
				req := tt.req
				req.JobID = id
				got, err := e.c.Send(ctx, req)
				var ie *IdempotencyError
				if !errors.As(err, &ie) || !errors.Is(err, ErrIdempotencyMismatch) || got.Created {
					t.Fatalf("Send = %+v, %v; want an IdempotencyError", got, err)
				}
				if !slices.Equal(ie.Fields(), tt.fields) || ie.JobID != id {
					t.Fatalf("differences %+v, want %v", ie.Differences, tt.fields)
				}
				for _, f := range tt.fields {
					if !strings.Contains(err.Error(), f) {
						t.Errorf("message %q does not name %s", err, f)
					}
				}
			})
		}
		if got := len(e.jobTasks(t, id)["scheduled"]); got != tasksBefore {
			t.Fatalf("%d tasks, want %d: a resend enqueued something", got, tasksBefore)
		}
		if st, err := e.c.Status(ctx, id); err != nil || st.Total != 3 {
			t.Fatalf("status %+v, %v", st, err)
		}
		job, err := e.c.Store().Job(ctx, id)
		if err != nil || job.TemplateID != "1001" || job.Priority != "bulk" {
			t.Fatalf("job changed: %+v, %v", job, err)
		}
	})
}

// TestSendIdempotencyDifferenceValues: the error says what the job has and what the request
// asks, so the user can tell which one is right.
func TestSendIdempotencyDifferenceValues(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "values")
		req := Request{JobID: id, TemplateID: "1001", Recipients: []Recipient{{Number: cn(1)}, {Number: cn(2)}}}
		if _, err := e.c.Send(ctx, req); err != nil {
			t.Fatal(err)
		}
		req.TemplateID, req.Priority, req.Recipients = "1002", "otp", req.Recipients[:1]
		_, err := e.c.Send(ctx, req)
		var ie *IdempotencyError
		if !errors.As(err, &ie) {
			t.Fatalf("err %v", err)
		}
		want := []Difference{
			{Field: "TemplateID", Job: `"1001"`, Request: `"1002"`},
			{Field: "Priority", Job: `"normal"`, Request: `"otp"`},
			{Field: "Expire", Job: `"never"`, Request: `"10m0s"`}, // otp's default expiry
			{Field: "Recipients", Job: "2 recipients", Request: "1 recipients"},
		}
		if !slices.Equal(ie.Differences, want) {
			t.Fatalf("differences\n got %+v\nwant %+v", ie.Differences, want)
		}
	})
}

// TestSendIdempotencyJobWithoutFingerprint: a job created before requests were fingerprinted
// (here: directly in the store) is returned for any request with its id, as before.
func TestSendIdempotencyJobWithoutFingerprint(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "old")
		job := store.Job{ID: id, AppID: testApp, TemplateID: "1001", Priority: store.PriorityNormal}
		if created, err := e.c.Store().CreateJob(ctx, job, nil, []store.NewBatch{{Numbers: []string{"+86" + cn(1)}}}, 0); err != nil || !created {
			t.Fatalf("CreateJob = %v, %v", created, err)
		}
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1009", Recipients: []Recipient{{Number: cn(7)}, {Number: cn(8)}}})
		if err != nil || res.Created || res.Accepted != 1 {
			t.Fatalf("Send = %+v, %v; want the existing job", res, err)
		}
	})
}

// TestSendFarFuture: a send time beyond MaxSendAhead is refused naming SendAt (it used to be
// stored already expired and reported as "already exists"); one just inside is scheduled.
func TestSendFarFuture(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := jobID(t, "far")
		_, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", SendAt: time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC),
			Recipients: []Recipient{{Number: cn(1)}}})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "SendAt" || !strings.Contains(fe.Reason, "a year") {
			t.Fatalf("err %v, want a FieldError for SendAt", err)
		}
		if _, err := e.c.Status(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("status err %v, want not found", err)
		}
		at := time.Now().Add(MaxSendAhead - time.Hour).Truncate(time.Second)
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", SendAt: at, Expire: MaxExpire,
			Recipients: []Recipient{{Number: cn(1)}}})
		if err != nil || !res.Created {
			t.Fatalf("Send = %+v, %v", res, err)
		}
		st, err := e.c.Status(ctx, id)
		if err != nil || st.State != store.StateScheduled || st.Total != 1 {
			t.Fatalf("status %+v, %v", st, err)
		}
	})
}

// TestSendEncoding: a GBK CSV (Excel on a Chinese Windows) read as UTF-8 is refused whole, every
// bad line reported with its number; read with Encoding gb18030 its params arrive intact.
func TestSendEncoding(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		csv, err := simplifiedchinese.GBK.NewEncoder().String("# 手机号,姓名\n" + cn(1) + ",张三\n" + cn(2) + ",Ada\n" + cn(3) + ",李四\n")
		if err != nil {
			t.Fatal(err)
		}
		id := jobID(t, "gbk")
		var lines []int
		res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Reader: strings.NewReader(csv),
			OnReject: func(le LineError) { lines = append(lines, le.Line) }})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "Encoding" || !strings.Contains(fe.Reason, "line 1 is not valid UTF-8 (3 such lines)") {
			t.Fatalf("Send = %+v, %v; want a FieldError for Encoding", res, err)
		}
		if !slices.Equal(lines, []int{1, 2, 4}) || res.Created || res.RejectedCount != 3 {
			t.Fatalf("rejected lines %v, result %+v", lines, res)
		}
		if _, err := e.c.Status(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("status err %v: nothing may be stored", err)
		}

		res, err = e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Reader: strings.NewReader(csv), Encoding: "gb18030"})
		if err != nil || !res.Created || res.Accepted != 3 || res.RejectedCount != 0 {
			t.Fatalf("Send gb18030 = %+v, %v", res, err)
		}
		var params [][]string
		for b := range res.Batches {
			cr, err := e.c.Store().Claim(ctx, id, b, "tok")
			if err != nil {
				t.Fatal(err)
			}
			params = append(params, cr.Params)
		}
		want := [][]string{{"张三"}, {"Ada"}, {"李四"}}
		if !slices.EqualFunc(params, want, slices.Equal) {
			t.Fatalf("params %q, want %q", params, want)
		}
		// The same file sent again with the same encoding is the same request.
		again, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Reader: strings.NewReader(csv), Encoding: "GBK"})
		if err != nil || again.Created {
			t.Fatalf("again = %+v, %v", again, err)
		}
	})
}
