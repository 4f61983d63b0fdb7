package recipients

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
)

// MaxLineBytes is the longest input line accepted; a longer line is reported as a LineError and
// skipped, and reading goes on with the next line.
const MaxLineBytes = 64 << 10

// LineError reports one bad input line (or one bad entry of a recipient slice: Line is then its
// 1-based position). The rest of the input is still read.
type LineError struct {
	Line   int    // 1-based line number
	Input  string // the line (trimmed, at most 128 bytes)
	Reason string // why it was rejected
	Err    error  // the cause: one of this package's Err* values, or a *csv.ParseError
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %q", e.Line, e.Reason, e.Input)
}

// Unwrap returns the cause, for errors.Is.
func (e *LineError) Unwrap() error { return e.Err }

// ErrLineTooLong is the cause of a LineError for a line longer than MaxLineBytes.
var ErrLineTooLong = errors.New("line too long")

// Record is one recipient read from a line: the raw number and its own template params (nil when
// the line has none).
type Record struct {
	Line   int
	Number string
	Params []string
}

// Recipient is one recipient given by an application: a number in any common notation and,
// optionally, its own template params (which replace the job's).
type Recipient struct {
	Number string
	Params []string
}

// Lines reads recipient lines from r, one record per line: `NUMBER` or `NUMBER,PARAM1,PARAM2,...`
// in CSV (quotes allowed, leniently). Blank lines and lines starting with '#' are skipped, a
// leading UTF-8 BOM and trailing "\r" are dropped, and fields are trimmed of surrounding spaces.
// A line whose params are all empty has none (Params == nil). Lines is LinesIn with EncodingUTF8:
// a line (comments included) that is not valid UTF-8 is a LineError whose cause is ErrEncoding.
//
// It yields (record, nil) for each good line and (Record{}, *LineError) for each bad one, going on
// with the next line; a read error from r is yielded last, unwrapped (not a *LineError). Each line
// is parsed on its own, so a stray quote never swallows the following lines. r is read in a
// streaming way: memory does not grow with the input.
func Lines(r io.Reader) iter.Seq2[Record, error] { return lines(newTextSource(r, EncodingUTF8)) }

// LinesIn is Lines for input in the named encoding (see CanonicalEncoding; "" is UTF-8). The input
// is decoded to UTF-8 as it is read, so records hold UTF-8 text; a line that is not valid in the
// encoding (it decodes with U+FFFD) is a LineError whose cause is ErrEncoding. A byte order mark
// decides over the name: a UTF-8 BOM means UTF-8, a UTF-16 BOM means UTF-16. Line numbers are
// those of the input. The error wraps ErrUnknownEncoding for an unknown name.
func LinesIn(r io.Reader, encoding string) (iter.Seq2[Record, error], error) {
	enc, err := CanonicalEncoding(encoding)
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	return lines(newTextSource(r, enc)), nil
}

func lines(src *textSource) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		br := src.br
		p := newLineParser()
		for n := 1; ; n++ {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				in := clip(string(line))
				for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
					_, err = br.ReadSlice('\n')
				}
				if !yield(Record{}, &LineError{Line: n, Input: in, Reason: ErrLineTooLong.Error(), Err: ErrLineTooLong}) {
					return
				}
				if err != nil {
					if !errors.Is(err, io.EOF) {
						yield(Record{}, err)
					}
					return
				}
				continue
			}
			if len(line) > 0 {
				if lerr := src.check(n, line); lerr != nil {
					if !yield(Record{}, lerr) {
						return
					}
				} else if rec, lerr, ok := p.parse(n, line); lerr != nil {
					if !yield(Record{}, lerr) {
						return
					}
				} else if ok {
					if !yield(rec, nil) {
						return
					}
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					yield(Record{}, fmt.Errorf("recipients: read line %d: %w", n, err))
				}
				return
			}
		}
	}
}

// lineParser parses single lines with one reused csv.Reader reading from a one-line source: the
// source reports io.EOF after the line, which ends an unterminated quoted field (LazyQuotes)
// instead of letting it run into the next lines.
type lineParser struct {
	src oneLine
	cr  *csv.Reader
}

type oneLine struct{ b []byte }

func (o *oneLine) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, o.b)
	o.b = o.b[n:]
	return n, nil
}

func newLineParser() *lineParser {
	p := &lineParser{}
	p.cr = csv.NewReader(&p.src)
	p.cr.FieldsPerRecord = -1
	p.cr.LazyQuotes = true
	p.cr.ReuseRecord = true
	return p
}

// parse returns the record of line n, or a *LineError, or ok=false for a line to skip.
func (p *lineParser) parse(n int, line []byte) (Record, *LineError, bool) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] == '#' {
		return Record{}, nil, false
	}
	p.src.b = trimmed
	fields, err := p.cr.Read()
	p.src.b = nil
	if err != nil || len(fields) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			err = ErrNotANumber
		}
		reason := err.Error()
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			reason = "bad CSV: " + pe.Err.Error()
		}
		return Record{}, &LineError{Line: n, Input: clip(string(trimmed)), Reason: reason, Err: err}, false
	}
	// Drain anything the csv.Reader did not consume (cannot happen for one line; be safe).
	for {
		if _, err := p.cr.Read(); err != nil {
			break
		}
	}
	rec := Record{Line: n, Number: strings.TrimSpace(fields[0])}
	if rec.Number == "" {
		return Record{}, &LineError{Line: n, Input: clip(string(trimmed)), Reason: ErrEmpty.Error(), Err: ErrEmpty}, false
	}
	rec.Params = cleanParams(fields[1:])
	return rec, nil, true
}

// cleanParams trims every param and returns nil when all are empty (the line then has no params
// of its own). The result never aliases fields.
func cleanParams(fields []string) []string {
	has := false
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = strings.TrimSpace(f)
	}
	return out
}

// clip bounds the input echoed in a LineError.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 128 {
		// Cut on a rune boundary.
		i := 128
		for i > 0 && !isRuneStart(s[i]) {
			i--
		}
		return s[:i] + "..."
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
