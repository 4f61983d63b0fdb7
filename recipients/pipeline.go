package recipients

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
)

// chunkSize is how many lines one normalisation work item carries.
const chunkSize = 512

type item struct {
	line   int
	raw    string
	params []string
	num    Number
	err    error      // normalisation error
	lerr   *LineError // bad line found by the line parser
}

type chunk struct {
	items []item
	done  chan struct{}
}

// AddCSV reads recipient lines from r in Options.Encoding (see LinesIn) and adds them, normalising numbers on
// Options.Workers goroutines while keeping input order (so the first occurrence of a number
// still wins). onErr, when not nil, is called in line order on the calling goroutine for every
// bad line or invalid number; those are counted in Stats.Rejected. Duplicates are counted, not
// reported.
//
// It returns a read error of r, ErrTooMany, or ctx's error; the recipients added before such an
// error stay in the builder. When it returns early, a goroutine may still be blocked in r.Read
// until that call returns.
func (b *Builder) AddCSV(ctx context.Context, r io.Reader, onErr func(LineError)) error {
	return b.addAll(ctx, func(yield func(item) bool) error {
		for rec, err := range lines(newTextSource(r, b.encoding)) {
			var le *LineError
			switch {
			case errors.As(err, &le):
				if !yield(item{line: le.Line, lerr: le}) {
					return nil
				}
			case err != nil:
				return err
			default:
				if !yield(item{line: rec.Line, raw: rec.Number, params: rec.Params}) {
					return nil
				}
			}
		}
		return nil
	}, onErr)
}

// AddRecipients adds rs like AddCSV adds lines; a LineError's Line is the 1-based position in rs.
// A recipient's Params (when not nil) replace the job's. A recipient whose number or params are
// not valid UTF-8 is rejected with the cause ErrEncoding.
func (b *Builder) AddRecipients(ctx context.Context, rs []Recipient, onErr func(LineError)) error {
	return b.addAll(ctx, func(yield func(item) bool) error {
		for i, r := range rs {
			it := item{line: i + 1, raw: r.Number, params: r.Params}
			if !validUTF8(r) {
				it.lerr = &LineError{Line: i + 1, Input: clip(strings.ToValidUTF8(r.Number, "\uFFFD")), Reason: "not valid UTF-8", Err: ErrEncoding}
			}
			if !yield(it) {
				return nil
			}
		}
		return nil
	}, onErr)
}

// validUTF8 reports whether r's number and params are valid UTF-8.
func validUTF8(r Recipient) bool {
	if !utf8.ValidString(r.Number) {
		return false
	}
	for _, p := range r.Params {
		if !utf8.ValidString(p) {
			return false
		}
	}
	return true
}

// addAll runs source through a pipeline: one producer goroutine cuts items into chunks, workers
// normalise chunks, and the calling goroutine adds them to the builder in input order.
func (b *Builder) addAll(ctx context.Context, source func(yield func(item) bool) error, onErr func(LineError)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	workers := b.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	work := make(chan *chunk, 2*workers)
	ordered := make(chan *chunk, 4*workers)
	var srcErr error
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		defer close(ordered)
		defer close(work)
		cur := &chunk{items: make([]item, 0, chunkSize), done: make(chan struct{})}
		send := func() bool {
			for _, ch := range []chan *chunk{ordered, work} {
				select {
				case ch <- cur:
				case <-ctx.Done():
					return false
				}
			}
			cur = &chunk{items: make([]item, 0, chunkSize), done: make(chan struct{})}
			return true
		}
		srcErr = source(func(it item) bool {
			cur.items = append(cur.items, it)
			if len(cur.items) == chunkSize {
				return send()
			}
			return true
		})
		if len(cur.items) > 0 {
			send()
		}
	}()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var c *chunk
				select {
				case c = <-work:
				case <-ctx.Done():
					return
				}
				if c == nil {
					return // work closed
				}
				for i := range c.items {
					it := &c.items[i]
					if it.lerr == nil {
						it.num, it.err = Normalize(it.raw, b.region)
					}
				}
				close(c.done)
			}
		}()
	}

	err := b.collect(ctx, ordered, onErr)
	if err != nil {
		cancel()
		wg.Wait() // workers watch ctx; the producer may still be blocked in r.Read
		return err
	}
	<-producerDone
	wg.Wait()
	if srcErr != nil {
		return srcErr
	}
	return ctx.Err()
}

func (b *Builder) collect(ctx context.Context, ordered <-chan *chunk, onErr func(LineError)) error {
	for c := range ordered {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		for i := range c.items {
			it := &c.items[i]
			switch {
			case it.lerr != nil:
				b.stats.Rejected++
				if onErr != nil {
					onErr(*it.lerr)
				}
			case it.err != nil:
				b.stats.Rejected++
				if onErr != nil {
					onErr(LineError{Line: it.line, Input: clip(it.raw), Reason: it.err.Error(), Err: it.err})
				}
			default:
				if err := b.AddNumber(it.num, it.params); err != nil && !errors.Is(err, ErrDuplicate) {
					return err
				}
			}
		}
	}
	return nil
}
