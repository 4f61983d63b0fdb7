package recipients

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Encodings of recipient lines (Options.Encoding, LinesIn).
const (
	// EncodingUTF8 is the default: lines must be valid UTF-8.
	EncodingUTF8 = "utf-8"
	// EncodingGB18030 is the encoding of a CSV saved by Excel on a Chinese Windows (GB18030 is a
	// superset of GBK and GB2312, so it reads those files too).
	EncodingGB18030 = "gb18030"
)

// Encodings lists the encoding names LinesIn accepts, canonical names first.
func Encodings() []string { return []string{EncodingUTF8, EncodingGB18030} }

var (
	// ErrEncoding is the cause of a LineError for a line that is not valid text in the input's
	// encoding (for UTF-8 input: not valid UTF-8, which is what a GBK file read as UTF-8 gives).
	ErrEncoding = errors.New("not valid text in the input's encoding")
	// ErrUnknownEncoding is returned for an encoding name LinesIn does not know.
	ErrUnknownEncoding = errors.New("unknown encoding")
)

// CanonicalEncoding returns the canonical name of an encoding name: EncodingUTF8 for "" , "utf-8"
// and "utf8"; EncodingGB18030 for "gb18030", "gbk", "gb2312", "cp936" (any case). Other names
// wrap ErrUnknownEncoding.
func CanonicalEncoding(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8":
		return EncodingUTF8, nil
	case "gb18030", "gbk", "gb2312", "cp936":
		return EncodingGB18030, nil
	}
	return "", fmt.Errorf("%w %q (want %s)", ErrUnknownEncoding, name, strings.Join(Encodings(), " or "))
}

// textSource is the line source Lines reads: r as UTF-8, plus how to check a line of it.
type textSource struct {
	br *bufio.Reader
	// decoded: the bytes were converted to UTF-8 from name, so they are valid UTF-8 and a U+FFFD
	// in them marks input that was not valid in that encoding.
	decoded bool
	name    string
}

// newTextSource reads r in the named encoding (canonical, see CanonicalEncoding). A byte order
// mark decides over the name: a UTF-8 BOM is dropped and the input read as UTF-8, a UTF-16 BOM
// (Excel's "Unicode text") makes it read as UTF-16.
func newTextSource(r io.Reader, encoding string) *textSource {
	br := bufio.NewReaderSize(&stickyReader{r: r}, MaxLineBytes)
	head, _ := br.Peek(3) // a short or failed peek leaves the error for the first read
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		_, _ = br.Discard(3)
		return &textSource{br: br, name: "UTF-8"}
	case bytes.HasPrefix(head, []byte("\xff\xfe")), bytes.HasPrefix(head, []byte("\xfe\xff")):
		dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
		return &textSource{br: bufio.NewReaderSize(transform.NewReader(br, dec), MaxLineBytes), decoded: true, name: "UTF-16"}
	case encoding == EncodingGB18030:
		dec := simplifiedchinese.GB18030.NewDecoder()
		return &textSource{br: bufio.NewReaderSize(transform.NewReader(br, dec), MaxLineBytes), decoded: true, name: "GB18030"}
	}
	return &textSource{br: br, name: "UTF-8"}
}

// check returns the LineError of line n when it is not valid text in the source's encoding.
func (s *textSource) check(n int, line []byte) *LineError {
	if s.decoded {
		if !bytes.ContainsRune(line, utf8.RuneError) {
			return nil
		}
	} else if utf8.Valid(line) {
		return nil
	}
	return &LineError{Line: n, Input: clip(string(line)), Reason: "not valid " + s.name, Err: ErrEncoding}
}

// stickyReader returns the first error of r on every later read too, so that the look for a byte
// order mark (a Peek, which swallows the error it meets) cannot lose a read error.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	return n, err
}
