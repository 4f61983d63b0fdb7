package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
)

// progress shows status --wait's live progress on w: one line rewritten in place on a terminal,
// cut to the terminal's width, otherwise a new line (with every field) whenever the counts
// change, at most one per every.
type progress struct {
	w        io.Writer
	tty      bool
	width    func() int // the terminal's columns, asked at each redraw (it may be resized)
	every    time.Duration
	last     string
	lastTime time.Time
	drawn    int // length of the line on the terminal, 0 before the first
}

func newProgress(w io.Writer, t terminal, every time.Duration) *progress {
	return &progress{w: w, tty: t.isTTY(w), width: func() int { return t.width(w) }, every: every}
}

// progressFields are the parts of a progress line, most important first: a terminal line keeps
// as many as fit, in this order.
func progressFields(st store.Status) []string {
	done := st.Sent + st.Failed + st.Cancelled + st.Suppressed
	pct := 100.0
	if st.Total > 0 {
		pct = 100 * float64(done) / float64(st.Total)
	}
	fields := []string{
		st.ID + " " + string(st.State) + ":",
		fmt.Sprintf("%d/%d settled (%.1f%%)", done, st.Total, pct),
		fmt.Sprintf("sent %d", st.Sent),
		fmt.Sprintf("failed %d", st.Failed),
		fmt.Sprintf("pending %d", st.Pending),
	}
	for _, f := range []struct {
		name string
		n    int64
	}{{"cancelled", st.Cancelled}, {"suppressed", st.Suppressed}, {"unknown", st.Unknown}, {"delivered", st.Delivered}, {"undelivered", st.Undelivered}} {
		fields = append(fields, fmt.Sprintf("%s %d", f.name, f.n))
	}
	return fields
}

// progressLine is the full progress line, for logs.
func progressLine(st store.Status) string { return strings.Join(progressFields(st), " ") }

// fitLine joins as many of fields as fit in width-1 columns (the last column stays free, so the
// terminal does not wrap), in order; the first field alone is cut to fit, its job id shortened
// with "~" in the middle.
func fitLine(fields []string, width int) string {
	if width <= 0 {
		width = defaultWidth
	}
	limit := width - 1
	line := fields[0]
	if len(line) > limit {
		line = shorten(line, limit)
	}
	for _, f := range fields[1:] {
		if len(line)+1+len(f) > limit {
			break
		}
		line += " " + f
	}
	return line
}

// shorten cuts s to n bytes, keeping its start and end around a "~".
func shorten(s string, n int) string {
	if n < 3 {
		return s[:max(n, 0)]
	}
	head := (n - 1) / 2
	return s[:head] + "~" + s[len(s)-(n-1-head):]
}

// show is the callback of the wait loop.
func (p *progress) show(st store.Status) {
	if p.tty {
		line := fitLine(progressFields(st), p.width())
		fmt.Fprint(p.w, "\r"+line+clearToEOL)
		p.drawn = len(line)
		return
	}
	line := progressLine(st)
	now := time.Now()
	if line == p.last || (!p.lastTime.IsZero() && now.Sub(p.lastTime) < p.every) {
		return
	}
	fmt.Fprintln(p.w, line)
	p.last, p.lastTime = line, now
}

// done ends the live line.
func (p *progress) done() {
	if p.tty && p.drawn > 0 {
		fmt.Fprintln(p.w)
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
