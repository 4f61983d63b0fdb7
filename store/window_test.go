package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		span, tz string
		want     Window
		ok       bool
	}{
		{"08:00-22:00", "", Window{480, 1320, BeijingTZ}, true},
		{" 22:00 - 06:00 ", "Europe/Berlin", Window{1320, 360, "Europe/Berlin"}, true},
		{"00:00-23:59", "UTC", Window{0, 1439, "UTC"}, true},
		{"8:00-22:00", "", Window{}, false},  // one-digit hour
		{"08:00-24:00", "", Window{}, false}, // 24:00 is no time of day
		{"08:60-22:00", "", Window{}, false},
		{"08:00", "", Window{}, false},
		{"08:00-22:00-23:00", "", Window{}, false},
		{"+8:00-22:00", "", Window{}, false},
		{"08:00-08:00", "", Window{}, false}, // equal ends
		{"08:00-22:00", "Mars/Olympus", Window{}, false},
		{"08:00-22:00", "Local", Window{}, false},
		{"", "", Window{}, false},
	} {
		w, err := ParseWindow(tc.span, tc.tz)
		if tc.ok != (err == nil) || (tc.ok && w != tc.want) {
			t.Errorf("ParseWindow(%q, %q) = %+v, %v; want %+v, ok %v", tc.span, tc.tz, w, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseWindow(%q, %q): %v does not wrap ErrInvalid", tc.span, tc.tz, err)
		}
	}
}

func TestWindowValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		w  Window
		ok bool
	}{
		{Window{}, true},
		{MarketingWindow, true},
		{Window{From: 0, To: 600}, false}, // no zone
		{Window{From: -1, To: 600, TZ: "UTC"}, false},
		{Window{From: 0, To: 1440, TZ: "UTC"}, false},
		{Window{From: 600, To: 600, TZ: "UTC"}, false},
		{Window{From: 600, To: 60, TZ: "Nowhere/Town"}, false},
	} {
		if err := tc.w.Validate(); tc.ok != (err == nil) {
			t.Errorf("%+v.Validate() = %v, want ok %v", tc.w, err, tc.ok)
		}
	}
}

func TestWindowNextOpen(t *testing.T) {
	t.Parallel()
	sh, berlin := mustZone(t, BeijingTZ), mustZone(t, "Europe/Berlin")
	day := Window{From: 8 * 60, To: 22 * 60, TZ: BeijingTZ}
	night := Window{From: 22 * 60, To: 6 * 60, TZ: BeijingTZ}
	bday := Window{From: 8 * 60, To: 22 * 60, TZ: "Europe/Berlin"}
	bnight := Window{From: 22 * 60, To: 6 * 60, TZ: "Europe/Berlin"}
	at := func(loc *time.Location, y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, loc)
	}
	utc := func(mo time.Month, d, h, mi int) time.Time { return time.Date(2026, mo, d, h, mi, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		w    Window
		t    time.Time
		want time.Time // == t: open
	}{
		{"before opening", day, at(sh, 2026, 12, 4, 7, 59, 59), at(sh, 2026, 12, 4, 8, 0, 0)},
		{"at opening", day, at(sh, 2026, 12, 4, 8, 0, 0), at(sh, 2026, 12, 4, 8, 0, 0)},
		{"last second", day, at(sh, 2026, 12, 4, 21, 59, 59), at(sh, 2026, 12, 4, 21, 59, 59)},
		{"at closing", day, at(sh, 2026, 12, 4, 22, 0, 0), at(sh, 2026, 12, 5, 8, 0, 0)},
		{"after midnight", day, at(sh, 2026, 12, 5, 0, 30, 0), at(sh, 2026, 12, 5, 8, 0, 0)},
		{"year end", day, at(sh, 2026, 12, 31, 23, 0, 0), at(sh, 2027, 1, 1, 8, 0, 0)},
		{"given in UTC", day, utc(12, 4, 14, 0), utc(12, 5, 0, 0)}, // 22:00 Beijing
		{"wrap: late evening", night, at(sh, 2026, 12, 4, 23, 0, 0), at(sh, 2026, 12, 4, 23, 0, 0)},
		{"wrap: early morning", night, at(sh, 2026, 12, 5, 5, 59, 0), at(sh, 2026, 12, 5, 5, 59, 0)},
		{"wrap: at closing", night, at(sh, 2026, 12, 5, 6, 0, 0), at(sh, 2026, 12, 5, 22, 0, 0)},
		{"wrap: afternoon", night, at(sh, 2026, 12, 5, 15, 0, 0), at(sh, 2026, 12, 5, 22, 0, 0)},

		// Berlin springs forward on 2026-03-29 at 02:00 CET (01:00 UTC) to 03:00 CEST.
		{"spring: night before", bday, utc(3, 28, 22, 0), utc(3, 29, 6, 0)}, // 8 h, not the wall clock's 9
		{"spring: opening in the skipped hour", Window{150, 300, "Europe/Berlin"}, utc(3, 29, 0, 0), utc(3, 29, 1, 0)},
		{"spring: window inside the skipped hour", Window{135, 165, "Europe/Berlin"}, utc(3, 29, 0, 0), utc(3, 30, 0, 15)},
		{"spring: wrap closes at 06:00 CEST", bnight, utc(3, 29, 3, 59), utc(3, 29, 3, 59)},
		{"spring: wrap reopens at 22:00 CEST", bnight, utc(3, 29, 4, 0), utc(3, 29, 20, 0)},
		// Berlin falls back on 2026-10-25 at 03:00 CEST (01:00 UTC) to 02:00 CET.
		{"fall: night before", bday, utc(10, 24, 20, 30), utc(10, 25, 7, 0)}, // 10.5 h, not 9.5
		{"fall: repeated hour, first pass over", Window{150, 165, "Europe/Berlin"}, utc(10, 25, 0, 50), utc(10, 25, 1, 30)},
		{"fall: repeated hour, second pass", Window{150, 165, "Europe/Berlin"}, utc(10, 25, 1, 40), utc(10, 25, 1, 40)},
		{"fall: wrap closes at 06:00 CET", bnight, utc(10, 25, 5, 0), utc(10, 25, 21, 0)},
		{"berlin winter", bday, at(berlin, 2026, 12, 4, 7, 0, 0), at(berlin, 2026, 12, 4, 8, 0, 0)},
	} {
		got := tc.w.NextOpen(tc.t)
		if !got.Equal(tc.want) {
			t.Errorf("%s: %v.NextOpen(%v) = %v, want %v", tc.name, tc.w, tc.t.UTC(), got.UTC(), tc.want.UTC())
		}
		if open := tc.w.Open(tc.t); open != tc.want.Equal(tc.t) {
			t.Errorf("%s: Open(%v) = %v, want %v", tc.name, tc.t.UTC(), open, !open)
		}
		if !tc.w.Open(got) {
			t.Errorf("%s: not open at NextOpen %v", tc.name, got.UTC())
		}
	}
	if got := (Window{}).NextOpen(utc(1, 1, 3, 0)); !got.Equal(utc(1, 1, 3, 0)) || !(Window{}).Open(got) {
		t.Errorf("zero window: NextOpen = %v, want now and open", got)
	}
}

// TestWindowNextOpenMatchesMinuteScan compares NextOpen with a scan of every minute (zone
// changes fall on whole minutes) over random windows, instants and zones, DST zones included.
func TestWindowNextOpenMatchesMinuteScan(t *testing.T) {
	t.Parallel()
	zones := []string{BeijingTZ, "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"}
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		locs[i] = mustZone(t, z)
	}
	rng := rand.New(rand.NewPCG(13, 13))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 300 {
		zi := rng.IntN(len(zones))
		w := Window{From: rng.IntN(1440), To: rng.IntN(1440), TZ: zones[zi]}
		if w.From == w.To {
			continue
		}
		// Instants near the zones' DST changes half of the time.
		var tm time.Time
		if rng.IntN(2) == 0 {
			tm = base.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		} else {
			tm = []time.Time{time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC),
				time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC),
				time.Date(2026, 4, 4, 14, 0, 0, 0, time.UTC), time.Date(2026, 10, 3, 15, 0, 0, 0, time.UTC)}[rng.IntN(6)].
				Add(time.Duration(rng.Int64N(int64(48*time.Hour))) - 24*time.Hour)
		}
		openAt := func(u time.Time) bool {
			lt := u.In(locs[zi])
			return w.inside(lt.Hour()*60 + lt.Minute())
		}
		want := tm
		if !openAt(tm) {
			want = tm.Truncate(time.Minute)
			for want = want.Add(time.Minute); !openAt(want); want = want.Add(time.Minute) {
			}
		}
		if got := w.NextOpen(tm); !got.Equal(want) {
			t.Errorf("%v.NextOpen(%v) = %v, want %v", w, tm, got, want)
		}
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"08:00-22:00", "22:00-06:00", "00:00-23:59", "8:00-22:00", "08:00-08:00", "", "-", "99:99-00:00"} {
		f.Add(s, "")
	}
	f.Add("08:00-22:00", "Europe/Berlin")
	f.Fuzz(func(t *testing.T, span, tz string) {
		w, err := ParseWindow(span, tz)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseWindow(%q, %q): %v does not wrap ErrInvalid", span, tz, err)
			}
			return
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("ParseWindow(%q, %q) = %+v, which Validate refuses: %v", span, tz, w, err)
		}
		if back, err := ParseWindow(w.Span(), w.TZ); err != nil || back != w {
			t.Fatalf("ParseWindow(%q) = %+v, %v; want %+v", w.Span(), back, err, w)
		}
		if back := decodeWindow(w.encode(), w.TZ); back != w {
			t.Fatalf("decodeWindow(encode(%+v)) = %+v", w, back)
		}
	})
}

// TestJobWindowStored: the window and template type are part of the job spec (Job, Claim), a bad
// window or type is refused before anything is written, and Status shows the window and when it
// opens next.
func TestJobWindowStored(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// T0 is 17:00 Beijing time: a 20:00-06:00 window is closed, it opens in three hours.
		win := Window{From: 20 * 60, To: 6 * 60, TZ: BeijingTZ}
		job := testJob("win")
		job.Window, job.TemplateType = win, TemplateMarketing
		e.create(t, job, 3, 200)
		got, err := e.s.Job(ctx, "win")
		if err != nil || got.Window != win || got.TemplateType != TemplateMarketing || got.SendWindow() != win {
			t.Fatalf("Job = %+v, %v; want window %v and type marketing", got, err, win)
		}
		st := e.status(t, "win")
		wantOpen := e.clock.Now().Add(3 * time.Hour)
		if st.State != StateScheduled || st.Window != "20:00-06:00 Asia/Shanghai" || !st.NextOpen.Equal(wantOpen) {
			t.Errorf("status = %s, window %q, next_open %v; want scheduled, 20:00-06:00 Asia/Shanghai, %v",
				st.State, st.Window, st.NextOpen, wantOpen)
		}
		c := e.mustReserve(t, "win", 0, "t")
		if c.Job.Window != win || c.Job.TemplateType != TemplateMarketing {
			t.Errorf("claimed job = %+v, want window %v", c.Job, win)
		}
		e.advance(3 * time.Hour)
		if st := e.status(t, "win"); st.State != StateRunning || !st.NextOpen.IsZero() {
			t.Errorf("window open: status = %s, next_open %v; want running, none", st.State, st.NextOpen)
		}

		// otp ignores the window: no window in status, never scheduled for it.
		otp := testJob("otp")
		otp.Priority, otp.Window = PriorityOTP, win
		e.clock.Set(e.clock.Now().Add(12 * time.Hour)) // 08:00 Beijing, closed
		e.create(t, otp, 1, 200)
		if st := e.status(t, "otp"); st.State != StateRunning || st.Window != "" || !st.NextOpen.IsZero() {
			t.Errorf("otp: status = %s, window %q, next_open %v; want running, none", st.State, st.Window, st.NextOpen)
		}
		// A job with no window has none in status.
		e.create(t, testJob("none"), 1, 200)
		if st := e.status(t, "none"); st.Window != "" || !st.NextOpen.IsZero() {
			t.Errorf("no window: window %q, next_open %v", st.Window, st.NextOpen)
		}

		for _, bad := range []Job{
			{ID: "bad1", AppID: testApp, TemplateID: "1", Window: Window{From: 60, To: 60, TZ: BeijingTZ}},
			{ID: "bad2", AppID: testApp, TemplateID: "1", Window: Window{From: 60, To: 120, TZ: "No/Where"}},
			{ID: "bad3", AppID: testApp, TemplateID: "1", TemplateType: "promo"},
		} {
			created, err := e.s.CreateJob(ctx, bad, nil, batchesOf(nums(500, 1), 200), 0)
			if created || !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateJob(%+v) = %v, %v; want ErrInvalid", bad, created, err)
			}
			if _, err := e.s.Job(ctx, bad.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Job(%s) after a refused create: %v, want ErrNotFound", bad.ID, err)
			}
		}
	})
}
