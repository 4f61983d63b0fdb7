package recipients

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

// gbk encodes s as Excel on a Chinese Windows saves it.
func gbk(t testing.TB, s string) string {
	t.Helper()
	out, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func utf16LE(t testing.TB, s string) string {
	t.Helper()
	out, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readIn(t *testing.T, r io.Reader, encoding string) lineResult {
	t.Helper()
	seq, err := LinesIn(r, encoding)
	if err != nil {
		t.Fatal(err)
	}
	var res lineResult
	for rec, err := range seq {
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

// TestLinesEncoding: a GBK file read as UTF-8 rejects its non-UTF-8 lines with their line numbers
// (comments included) instead of yielding U+FFFD params; read as gb18030 it yields the right text.
func TestLinesEncoding(t *testing.T) {
	csv := "# 手机号,姓名\n13800138000,张三\n13800138001,Ada\n13800138002,李四,验证码\n"
	tests := []struct {
		name     string
		in       string
		encoding string
		want     []Record
		wantBad  []int
		wantWhy  string
	}{
		{
			name: "gbk read as utf-8", in: gbk(t, csv), encoding: "",
			want:    []Record{{Line: 3, Number: "13800138001", Params: []string{"Ada"}}},
			wantBad: []int{1, 2, 4}, wantWhy: "not valid UTF-8",
		},
		{
			name: "gbk read as gb18030", in: gbk(t, csv), encoding: "gb18030",
			want: []Record{
				{Line: 2, Number: "13800138000", Params: []string{"张三"}},
				{Line: 3, Number: "13800138001", Params: []string{"Ada"}},
				{Line: 4, Number: "13800138002", Params: []string{"李四", "验证码"}},
			},
		},
		{
			name: "gbk alias", in: gbk(t, "13800138000,王五\n"), encoding: "GBK",
			want: []Record{{Line: 1, Number: "13800138000", Params: []string{"王五"}}},
		},
		{
			name: "not valid gb18030", in: "13800138000,\x81\n13800138001,ok\n13800138002,\xff\xff\n", encoding: "gb18030",
			want:    []Record{{Line: 2, Number: "13800138001", Params: []string{"ok"}}},
			wantBad: []int{1, 3}, wantWhy: "not valid GB18030",
		},
		{
			name: "utf-8 with BOM named gb18030 is read as utf-8", in: "\xef\xbb\xbf13800138000,张三\n", encoding: "gb18030",
			want: []Record{{Line: 1, Number: "13800138000", Params: []string{"张三"}}},
		},
		{
			name: "utf-16 with BOM", in: utf16LE(t, "13800138000,张三\r\n13800138001\r\n"), encoding: "",
			want: []Record{{Line: 1, Number: "13800138000", Params: []string{"张三"}}, {Line: 2, Number: "13800138001"}},
		},
		{
			name: "utf-8", in: "13800138000,张三\n", encoding: "utf-8",
			want: []Record{{Line: 1, Number: "13800138000", Params: []string{"张三"}}},
		},
		{
			name: "stray byte in utf-8", in: "13800138000,caf\xe9\n13800138001,café\n", encoding: "utf8",
			want:    []Record{{Line: 2, Number: "13800138001", Params: []string{"café"}}},
			wantBad: []int{1}, wantWhy: "not valid UTF-8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				res := readIn(t, r, tt.encoding)
				if res.err != nil {
					t.Fatalf("read error %v", res.err)
				}
				if !reflect.DeepEqual(res.recs, tt.want) {
					t.Errorf("records\n got %#v\nwant %#v", res.recs, tt.want)
				}
				var bad []int
				for _, le := range res.errs {
					bad = append(bad, le.Line)
					if !errors.Is(&le, ErrEncoding) || le.Reason != tt.wantWhy {
						t.Errorf("line %d: %v (%s), want ErrEncoding: %s", le.Line, le.Err, le.Reason, tt.wantWhy)
					}
				}
				if !reflect.DeepEqual(bad, tt.wantBad) {
					t.Errorf("bad lines %v, want %v", bad, tt.wantBad)
				}
			}
		})
	}
}

func TestCanonicalEncoding(t *testing.T) {
	for in, want := range map[string]string{"": EncodingUTF8, "UTF-8": EncodingUTF8, "utf8": EncodingUTF8,
		" gb18030 ": EncodingGB18030, "GBK": EncodingGB18030, "gb2312": EncodingGB18030, "cp936": EncodingGB18030} {
		if got, err := CanonicalEncoding(in); err != nil || got != want {
			t.Errorf("CanonicalEncoding(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"latin1", "big5", "utf-16"} {
		if _, err := CanonicalEncoding(in); !errors.Is(err, ErrUnknownEncoding) {
			t.Errorf("CanonicalEncoding(%q) = %v, want ErrUnknownEncoding", in, err)
		}
		if _, err := LinesIn(strings.NewReader(""), in); !errors.Is(err, ErrUnknownEncoding) {
			t.Errorf("LinesIn(%q) = %v", in, err)
		}
		if _, err := NewBuilder(Options{Encoding: in}); !errors.Is(err, ErrUnknownEncoding) {
			t.Errorf("NewBuilder(%q) = %v", in, err)
		}
	}
}

// onceErrReader fails its first read and reports EOF after: the look for a byte order mark must
// not swallow that one error.
type onceErrReader struct {
	err  error
	done bool
}

func (r *onceErrReader) Read([]byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	return 0, r.err
}

func TestLinesFirstReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, enc := range Encodings() {
		if res := readIn(t, &onceErrReader{err: boom}, enc); !errors.Is(res.err, boom) {
			t.Fatalf("%s: err %v, want %v", enc, res.err, boom)
		}
	}
}

// TestBuilderEncoding: AddCSV reads Options.Encoding; AddRecipients rejects entries that are not
// valid UTF-8 (they would reach Tencent as U+FFFD).
func TestBuilderEncoding(t *testing.T) {
	ctx := context.Background()
	b, err := NewBuilder(Options{Encoding: EncodingGB18030})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddCSV(ctx, strings.NewReader(gbk(t, "13800138000,张三\n")), nil); err != nil {
		t.Fatal(err)
	}
	var rejected []LineError
	err = b.AddRecipients(ctx, []Recipient{{Number: "13800138001", Params: []string{"\xd5\xc5"}}, {Number: "1380013800\xff"}, {Number: "13800138002", Params: []string{"李四"}}},
		func(le LineError) { rejected = append(rejected, le) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 2 || rejected[0].Line != 1 || rejected[1].Line != 2 || !errors.Is(&rejected[0], ErrEncoding) ||
		!errors.Is(&rejected[1], ErrEncoding) || !utf8.ValidString(rejected[1].Input) {
		t.Fatalf("rejected %+v", rejected)
	}
	set := b.Finish()
	if got := set.ParamSets(); !reflect.DeepEqual(got, [][]string{{"张三"}, {"李四"}}) {
		t.Fatalf("param sets %q", got)
	}
}
