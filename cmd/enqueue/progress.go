package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
)

// progress shows status --wait's live progress on w: one line rewritten in place on a terminal,
// otherwise a new line whenever the counts change, at most one per every.
type progress struct {
	w        io.Writer
	tty      bool
	every    time.Duration
	last     string
	lastTime time.Time
	width    int
}

func newProgress(w io.Writer, every time.Duration) *progress {
	return &progress{w: w, tty: isTerminal(w), every: every}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func progressLine(st store.Status) string {
	done := st.Sent + st.Failed + st.Cancelled
	pct := 100.0
	if st.Total > 0 {
		pct = 100 * float64(done) / float64(st.Total)
	}
	return fmt.Sprintf("%s %s: %d/%d settled (%.1f%%) sent %d failed %d cancelled %d unknown %d pending %d delivered %d undelivered %d",
		st.ID, st.State, done, st.Total, pct, st.Sent, st.Failed, st.Cancelled, st.Unknown, st.Pending, st.Delivered, st.Undelivered)
}

// show is the callback of client.Wait.
func (p *progress) show(st store.Status) {
	line := progressLine(st)
	if p.tty {
		pad := ""
		if n := p.width - len(line); n > 0 {
			pad = fmt.Sprintf("%*s", n, "")
		}
		fmt.Fprint(p.w, "\r"+line+pad)
		p.width = len(line)
		return
	}
	now := time.Now()
	if line == p.last || (!p.lastTime.IsZero() && now.Sub(p.lastTime) < p.every) {
		return
	}
	fmt.Fprintln(p.w, line)
	p.last, p.lastTime = line, now
}

// done ends the live line.
func (p *progress) done() {
	if p.tty && p.width > 0 {
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
