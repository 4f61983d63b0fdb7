package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// terminal tells whether a file (stdin, stderr) is a terminal and how wide it is. The default
// looks at the file descriptor; tests give a fake one.
type terminal interface {
	isTTY(f any) bool
	width(f any) int // columns; 0 when unknown
}

// osTerminal is the terminal of the process's own files.
type osTerminal struct{}

func (osTerminal) isTTY(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (osTerminal) width(v any) int {
	f, ok := v.(*os.File)
	if !ok {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return cols
}

// defaultWidth is the width assumed for a terminal that does not tell its own.
const defaultWidth = 80

// ctxReader is a reader whose Read returns ctx's error as soon as ctx ends, even while the
// underlying Read blocks (a terminal or pipe on stdin): Ctrl-C stops `send --file -` at once.
// The blocked Read goes on in its goroutine until it returns; its data is then dropped.
type ctxReader struct {
	ctx     context.Context
	r       io.Reader
	pending chan readResult // the read in flight, nil when none
	buf     []byte          // data read and not yet returned
}

type readResult struct {
	b   []byte
	err error
}

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader { return &ctxReader{ctx: ctx, r: r} }

func (c *ctxReader) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if c.pending == nil {
		ch := make(chan readResult, 1)
		go func(r io.Reader, size int) {
			b := make([]byte, size)
			n, err := r.Read(b)
			ch <- readResult{b[:n], err}
		}(c.r, max(len(p), 32<<10))
		c.pending = ch
	}
	select {
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	case res := <-c.pending:
		c.pending = nil
		n := copy(p, res.b)
		c.buf = res.b[n:]
		if len(c.buf) > 0 {
			return n, nil // the error, if any, comes again with the next Read
		}
		return n, res.err
	}
}

// readProgress counts the lines read through it and, on a terminal, shows them on one line
// rewritten in place: a bar when the size is known (a file), the lines and their rate always. It
// shows nothing when w is not a terminal (piped, or a log).
type readProgress struct {
	r     io.Reader
	w     io.Writer
	show  bool
	width func() int
	size  int64 // bytes in all; 0 when unknown (stdin)
	read  int64
	lines int64
	start time.Time
	last  time.Time
	now   func() time.Time
	every time.Duration
	drawn bool // the line is on the terminal
}

// newReadProgress shows the progress of reading r on w when w is a terminal and quiet is false.
func newReadProgress(r io.Reader, w io.Writer, t terminal, size int64, quiet bool) *readProgress {
	return &readProgress{r: r, w: w, show: !quiet && t.isTTY(w), width: func() int { return t.width(w) }, size: size,
		now: time.Now, every: 100 * time.Millisecond}
}

func (p *readProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	for _, c := range b[:n] {
		if c == '\n' {
			p.lines++
		}
	}
	if p.show {
		now := p.now()
		if p.start.IsZero() {
			p.start = now
		}
		if now.Sub(p.last) >= p.every {
			p.last = now
			p.draw(now)
		}
	}
	return n, err
}

// line renders the progress line for a terminal of width columns.
func (p *readProgress) line(now time.Time, width int) string {
	if width <= 0 {
		width = defaultWidth
	}
	rate := ""
	if el := now.Sub(p.start).Seconds(); el > 0 {
		rate = fmt.Sprintf(", %s lines/s", humanCount(int64(float64(p.lines)/el)))
	}
	text := fmt.Sprintf("reading recipients: %s lines%s", humanCount(p.lines), rate)
	if p.size > 0 {
		pct := min(100, 100*p.read/p.size)
		if bar := width - 1 - len(text) - len(" [] 100%"); bar >= 10 {
			bar = min(bar, 40)
			fill := int(int64(bar) * pct / 100)
			text += fmt.Sprintf(" [%s%s] %3d%%", repeat('#', fill), repeat('.', bar-fill), pct)
		}
	}
	return fit(text, width)
}

func (p *readProgress) draw(now time.Time) {
	line := p.line(now, p.width())
	fmt.Fprint(p.w, "\r"+line+clearToEOL)
	p.drawn = true
}

// interrupt clears the drawn line, for another message; the next read draws it again.
func (p *readProgress) interrupt() {
	if p.drawn {
		fmt.Fprint(p.w, "\r"+clearToEOL)
		p.drawn = false
		p.last = time.Time{}
	}
}

// done draws the final counts and ends the line.
func (p *readProgress) done() {
	if !p.show || p.start.IsZero() {
		return
	}
	p.draw(p.now())
	fmt.Fprintln(p.w)
}

func repeat(c byte, n int) string {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// clearToEOL erases the rest of a terminal line (ECMA-48 EL): a shorter line redrawn with \r
// leaves nothing of the longer one behind, whatever the terminal's width now.
const clearToEOL = "\x1b[K"

// fit cuts an ASCII line to width-1 columns (the last column is left free: writing into it makes
// some terminals wrap).
func fit(s string, width int) string {
	if len(s) > width-1 && width > 1 {
		return s[:width-1]
	}
	return s
}

// humanCount renders n with thousands separators: 1234567 -> 1,234,567.
func humanCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
