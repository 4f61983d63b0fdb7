package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // windows name IANA zones; a host without a zone database still knows them
)

// Window is a job's send window: its numbers may be sent only while the local wall-clock time
// in TZ is at or after From and before To, both in minutes after local midnight (0..1439). A
// window with To < From wraps midnight (22:00-06:00 is open from 22:00 to 06:00 the next day).
// The zero Window means none: the job may send at any time. A day whose wall clock skips part
// of the window (a daylight-saving jump) opens at the first instant its wall clock is inside.
type Window struct {
	From, To int    // minutes after local midnight, 0..1439, From != To
	TZ       string // IANA time zone name, e.g. "Asia/Shanghai"
}

// Regulated send window of marketing messages in China: 08:00-22:00 Beijing time.
const (
	// BeijingTZ is the zone of Beijing time, the regulated zone and the default of a window.
	BeijingTZ = "Asia/Shanghai"
	// MarketingFrom and MarketingTo bound the default window of marketing templates.
	MarketingFrom = 8 * 60
	MarketingTo   = 22 * 60
)

// MarketingWindow is the window a marketing job gets when none is given: 08:00-22:00 Beijing time.
var MarketingWindow = Window{From: MarketingFrom, To: MarketingTo, TZ: BeijingTZ}

// IsZero reports whether w is the zero Window (no window).
func (w Window) IsZero() bool { return w == Window{} }

// Validate reports why w is not a window, or nil (the zero Window is valid: no window). An error
// wraps ErrInvalid.
func (w Window) Validate() error {
	if w.IsZero() {
		return nil
	}
	switch {
	case w.From < 0 || w.From >= 24*60 || w.To < 0 || w.To >= 24*60:
		return invalidf("send window %d-%d: minutes after midnight must be 0..1439", w.From, w.To)
	case w.From == w.To:
		return invalidf("send window %s: start and end are equal", w.Span())
	}
	if _, err := w.location(); err != nil {
		return err
	}
	return nil
}

// location loads w's time zone (see CheckTimeZone).
func (w Window) location() (*time.Location, error) { return loadZone(w.TZ) }

// CheckTimeZone reports why tz cannot be a window's zone, or nil: it must be an IANA zone name
// ("Local", which means a different zone on every host, and "" are refused). An error wraps
// ErrInvalid.
func CheckTimeZone(tz string) error {
	_, err := loadZone(tz)
	return err
}

func loadZone(tz string) (*time.Location, error) {
	if tz == "" || strings.EqualFold(tz, "local") {
		return nil, invalidf("send window: time zone %q is not an IANA zone name such as %s", tz, BeijingTZ)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, invalidf("send window: unknown time zone %q", tz)
	}
	return loc, nil
}

// Span renders the window's bounds as HH:MM-HH:MM.
func (w Window) Span() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.From/60, w.From%60, w.To/60, w.To%60)
}

// String renders w as "HH:MM-HH:MM Zone", or "" for no window.
func (w Window) String() string {
	if w.IsZero() {
		return ""
	}
	return w.Span() + " " + w.TZ
}

// ParseWindow parses a window given as HH:MM-HH:MM (24-hour clock) in the zone tz (an IANA
// name, BeijingTZ when empty) and validates it. An error wraps ErrInvalid.
func ParseWindow(span, tz string) (Window, error) {
	if tz = strings.TrimSpace(tz); tz == "" {
		tz = BeijingTZ
	}
	a, b, ok := strings.Cut(strings.TrimSpace(span), "-")
	from, errA := parseClock(a)
	to, errB := parseClock(b)
	if !ok || errA != nil || errB != nil {
		return Window{}, invalidf("send window %q is not HH:MM-HH:MM such as 08:00-22:00", span)
	}
	w := Window{From: from, To: to, TZ: tz}
	return w, w.Validate()
}

// parseClock parses HH:MM, 00:00..23:59, into minutes after midnight.
func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, invalidf("%q is not HH:MM", s)
	}
	hh, err1 := strconv.ParseUint(h, 10, 8)
	mm, err2 := strconv.ParseUint(m, 10, 8)
	if err1 != nil || err2 != nil || hh > 23 || mm > 59 {
		return 0, invalidf("%q is not HH:MM", s)
	}
	return int(hh)*60 + int(mm), nil
}

// encode is the window as the job hash stores it ("From-To" in minutes; "" for none).
func (w Window) encode() string {
	if w.IsZero() {
		return ""
	}
	return strconv.Itoa(w.From) + "-" + strconv.Itoa(w.To)
}

// decodeWindow reads a window stored by encode and its zone; a malformed or missing value is no
// window.
func decodeWindow(span, tz string) Window {
	a, b, ok := strings.Cut(span, "-")
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || tz == "" {
		return Window{}
	}
	return Window{From: from, To: to, TZ: tz}
}

// inside reports whether the minute of day m is in the window.
func (w Window) inside(m int) bool {
	if w.From < w.To {
		return m >= w.From && m < w.To
	}
	return m >= w.From || m < w.To
}

// Open reports whether the window is open at t. The zero Window is always open; so is a window
// whose zone cannot be loaded (Validate refuses it before it is stored).
func (w Window) Open(t time.Time) bool {
	if w.IsZero() {
		return true
	}
	loc, err := w.location()
	if err != nil {
		return true
	}
	lt := t.In(loc)
	return w.inside(lt.Hour()*60 + lt.Minute())
}

// NextOpen returns t when the window is open at t, else the first instant after t at which it
// opens (daylight-saving jumps included: a wall-clock hour skipped or repeated is accounted for).
func (w Window) NextOpen(t time.Time) time.Time {
	if w.IsZero() {
		return t
	}
	loc, err := w.location()
	if err != nil {
		return t
	}
	u := t
	// Within one zone offset the wall clock runs with real time, so it reaches From after the
	// wall-clock distance to it; when the offset changes first, look again from the change. A
	// day has at most a few changes: the loop ends long before its bound.
	for range 16 {
		lt := u.In(loc)
		if w.inside(lt.Hour()*60 + lt.Minute()) {
			return u
		}
		sinceMidnight := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute +
			time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())
		d := (time.Duration(w.From)*time.Minute - sinceMidnight + 24*time.Hour) % (24 * time.Hour)
		next := u.Add(d)
		if _, end := lt.ZoneBounds(); !end.IsZero() && end.After(u) && !next.Before(end) {
			u = end
			continue
		}
		return next
	}
	return u
}
