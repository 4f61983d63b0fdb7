package recipients

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

type lineResult struct {
	recs []Record
	errs []LineError
	err  error
}

func readAll(r io.Reader) lineResult {
	var res lineResult
	for rec, err := range Lines(r) {
		var le *LineError
		switch {
		case errors.As(err, &le):
			res.errs = append(res.errs, *le)
		case err != nil:
			res.err = err
		default:
			res.recs = append(res.recs, rec)
		}
	}
	return res
}

func TestLines(t *testing.T) {
	long := strings.Repeat("9", MaxLineBytes+10)
	tests := []struct {
		name    string
		in      string
		want    []Record
		wantBad []int // line numbers of LineErrors
		wantWhy []error
	}{
		{
			name: "numbers params comments and blanks",
			in:   "# header comment\n13800138000\n\n   \n13800138001,1234,5\n  # indented comment\n+1 650 253 0000 , a , b \n",
			want: []Record{
				{Line: 2, Number: "13800138000"},
				{Line: 5, Number: "13800138001", Params: []string{"1234", "5"}},
				{Line: 7, Number: "+1 650 253 0000", Params: []string{"a", "b"}},
			},
		},
		{
			name: "crlf bom and no final newline",
			in:   "\xef\xbb\xbf13800138000\r\n13800138001,x\r\n13800138002",
			want: []Record{
				{Line: 1, Number: "13800138000"},
				{Line: 2, Number: "13800138001", Params: []string{"x"}},
				{Line: 3, Number: "13800138002"},
			},
		},
		{
			name: "quoted params with commas and quotes",
			in:   "13800138000,\"a,b\",\"say \"\"hi\"\"\"\n",
			want: []Record{{Line: 1, Number: "13800138000", Params: []string{"a,b", `say "hi"`}}},
		},
		{
			name: "empty params mean none",
			in:   "13800138000,,\n13800138001,,x\n",
			want: []Record{
				{Line: 1, Number: "13800138000"},
				{Line: 2, Number: "13800138001", Params: []string{"", "x"}},
			},
		},
		{
			name: "unterminated quote stays on its line",
			in:   "\"13800138000,abc\n13800138001\n13800138002,\"x\n13800138003\n",
			want: []Record{
				{Line: 1, Number: "13800138000,abc"},
				{Line: 2, Number: "13800138001"},
				{Line: 3, Number: "13800138002", Params: []string{"x"}},
				{Line: 4, Number: "13800138003"},
			},
		},
		{
			name:    "empty number field",
			in:      ",1234\n13800138000\n",
			want:    []Record{{Line: 2, Number: "13800138000"}},
			wantBad: []int{1},
			wantWhy: []error{ErrEmpty},
		},
		{
			name:    "line too long is skipped",
			in:      "13800138000\n" + long + "\n13800138001\n",
			want:    []Record{{Line: 1, Number: "13800138000"}, {Line: 3, Number: "13800138001"}},
			wantBad: []int{2},
			wantWhy: []error{ErrLineTooLong},
		},
		{
			name:    "line too long at eof",
			in:      "13800138000\n" + long,
			want:    []Record{{Line: 1, Number: "13800138000"}},
			wantBad: []int{2},
			wantWhy: []error{ErrLineTooLong},
		},
		{name: "empty input", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				res := readAll(r)
				if res.err != nil {
					t.Fatalf("read error %v", res.err)
				}
				if !reflect.DeepEqual(res.recs, tt.want) {
					t.Errorf("records\n got %#v\nwant %#v", res.recs, tt.want)
				}
				var bad []int
				for i, le := range res.errs {
					bad = append(bad, le.Line)
					if i < len(tt.wantWhy) && !errors.Is(&le, tt.wantWhy[i]) {
						t.Errorf("line %d: error %v, want %v", le.Line, le.Err, tt.wantWhy[i])
					}
					if len(le.Input) > 131 {
						t.Errorf("line %d: input not clipped (%d bytes)", le.Line, len(le.Input))
					}
				}
				if !reflect.DeepEqual(bad, tt.wantBad) {
					t.Errorf("bad lines %v, want %v", bad, tt.wantBad)
				}
			}
		})
	}
}

func TestLinesReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("13800138000\n13800138001\n"), iotest.ErrReader(boom))
	res := readAll(r)
	if len(res.recs) != 2 || !errors.Is(res.err, boom) {
		t.Fatalf("got %d records, err %v; want 2 and %v", len(res.recs), res.err, boom)
	}
	var le *LineError
	if errors.As(res.err, &le) {
		t.Fatalf("read error must not be a LineError: %v", res.err)
	}
}

func TestLinesStopEarly(t *testing.T) {
	n := 0
	for range Lines(strings.NewReader("13800138000\n13800138001\n13800138002\n")) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("got %d", n)
	}
}

// FuzzLines checks that the line parser never panics, reports records and bad lines in line
// order with line numbers within the input, never yields an empty number, and never yields more
// entries than the input has lines; in every encoding, records hold valid UTF-8 (no U+FFFD for
// decoded input) and a line rejected for its encoding is never also yielded as a record.
func FuzzLines(f *testing.F) {
	for _, s := range []string{"13800138000\n", "13800138000,1,2\n# c\n\n+1 650 253 0000\n", "\"a,b\n\"c\n",
		"\xef\xbb\xbf1\r\n2\r\n", ",\n,,,\n\"\"\n", "a\"b,c\"d\n", "\r\r\r\n", "\"\"\"\n13800138000",
		"13800138000,\xd5\xc5\xc8\xfd\n", "\x81\n\xff\xfe1\x00\n\x00", "\xff\xfe1\x003\x00\n\x00", "1,\xef\xbf\xbd\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, enc := range Encodings() {
			seq, err := LinesIn(strings.NewReader(in), enc)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Count(in, "\n") + 1
			last, entries := 0, 0
			for rec, err := range seq {
				var le *LineError
				line := rec.Line
				switch {
				case errors.As(err, &le):
					line = le.Line
					if le.Reason == "" {
						t.Fatalf("%s: line %d: empty reason", enc, le.Line)
					}
				case err != nil:
					t.Fatalf("%s: read error from a strings.Reader: %v", enc, err)
				default:
					if strings.TrimSpace(rec.Number) != rec.Number || rec.Number == "" {
						t.Fatalf("%s: line %d: bad number %q", enc, rec.Line, rec.Number)
					}
					if rec.Params != nil && len(rec.Params) == 0 {
						t.Fatalf("%s: line %d: empty non-nil params", enc, rec.Line)
					}
					for _, s := range append([]string{rec.Number}, rec.Params...) {
						if !utf8.ValidString(s) {
							t.Fatalf("%s: line %d: invalid UTF-8 %q", enc, rec.Line, s)
						}
					}
				}
				if line <= last || line > lines {
					t.Fatalf("%s: line %d after %d (input has %d lines)", enc, line, last, lines)
				}
				last = line
				entries++
			}
			if entries > lines {
				t.Fatalf("%s: %d entries from %d lines", enc, entries, lines)
			}
		}
	})
}
