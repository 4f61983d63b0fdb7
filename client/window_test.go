package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
)

// closedWindow returns a Beijing-time window that opens two hours after now (truncated to the
// minute) and lasts three hours, as HH:MM-HH:MM, with the time it opens.
func closedWindow(now time.Time) (span string, opens time.Time) {
	loc, _ := time.LoadLocation(store.BeijingTZ)
	now = now.Truncate(time.Minute)
	lt := now.In(loc)
	from := (lt.Hour()*60 + lt.Minute() + 120) % 1440
	to := (from + 180) % 1440
	return fmt.Sprintf("%02d:%02d-%02d:%02d", from/60, from%60, to/60, to%60), now.Add(2 * time.Hour)
}

// TestSendWindow: the window asked for is stored on the job (Beijing time unless TimeZone says
// otherwise), a marketing template gets the regulated 08:00-22:00 Beijing time when none is
// given (not for otp), and the batch tasks of a job outside its window are due when it opens.
func TestSendWindow(t *testing.T) {
	t.Parallel()
	clock := redistest.NewClock(time.Now()) // asynq schedules by the real clock
	span, opens := closedWindow(clock.Now())
	closed, err := store.ParseWindow(span, "")
	if err != nil {
		t.Fatal(err)
	}
	backends(t, Options{Store: store.Options{Now: clock.Now}}, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			req  Request
			want store.Window
		}{
			{"none", Request{}, store.Window{}},
			{"closed, Beijing by default", Request{Window: span}, closed},
			{"other zone", Request{Window: "22:00-06:00", TimeZone: "Europe/Berlin"}, store.Window{From: 1320, To: 360, TZ: "Europe/Berlin"}},
			{"marketing default", Request{TemplateType: "marketing"}, store.MarketingWindow},
			{"marketing with its own window", Request{TemplateType: "Marketing", Window: span}, closed},
			{"notification: no default", Request{TemplateType: "notification"}, store.Window{}},
			{"otp marketing: no default", Request{TemplateType: "marketing", Priority: "otp"}, store.Window{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := tc.req
				req.JobID, req.TemplateID, req.Recipients = jobID(t, "win"), "1001", []Recipient{{Number: cn(1)}}
				if _, err := e.c.Send(ctx, req); err != nil {
					t.Fatal(err)
				}
				job, err := e.c.Store().Job(ctx, req.JobID)
				if err != nil || job.Window != tc.want {
					t.Fatalf("job window = %+v, %v; want %+v", job.Window, err, tc.want)
				}
				// Due at once when the window is open now (or there is none), else when it opens.
				tk := e.jobTasks(t, req.JobID)
				if at := tc.want.NextOpen(clock.Now()); at.After(clock.Now()) {
					if len(tk["scheduled"]) != 1 || !tk["scheduled"][0].NextProcessAt.Equal(at) {
						t.Errorf("tasks %v; want one scheduled at %v", tk, at)
					}
				} else if len(tk["pending"]) != 1 {
					t.Errorf("tasks %v; want one pending", tk)
				}
				if tc.want == closed && !tc.want.NextOpen(clock.Now()).Equal(opens) {
					t.Errorf("window %v opens at %v, want %v", closed, tc.want.NextOpen(clock.Now()), opens)
				}
			})
		}
	})
}

func TestSendWindowInvalid(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			req   Request
			field string
		}{
			{Request{Window: "8-22"}, "Window"},
			{Request{Window: "08:00-08:00"}, "Window"},
			{Request{Window: "08:00-24:00"}, "Window"},
			{Request{Window: "08:00-22:00", TimeZone: "Mars/Olympus"}, "TimeZone"},
			{Request{Window: "08:00-22:00", TimeZone: "Local"}, "TimeZone"},
			{Request{TimeZone: "Asia/Shanghai"}, "TimeZone"},
			{Request{TemplateType: "promo"}, "TemplateType"},
		} {
			req := tc.req
			req.JobID, req.TemplateID, req.Recipients = jobID(t, "bad"), "1001", []Recipient{{Number: cn(1)}}
			_, err := e.c.Send(context.Background(), req)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("Send(window %q, zone %q, type %q) = %v; want a FieldError for %s", tc.req.Window, tc.req.TimeZone,
					tc.req.TemplateType, err, tc.field)
			}
			if _, err := e.c.Store().Job(context.Background(), req.JobID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("job stored after a refused request: %v", err)
			}
		}
	})
}
