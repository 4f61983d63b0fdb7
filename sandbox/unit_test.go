package sandbox

import (
	"strings"
	"testing"
)

func TestSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		intl bool
		want uint64
	}{
		{strings.Repeat("字", 70), false, 1},
		{strings.Repeat("字", 71), false, 2},
		{strings.Repeat("字", 134), false, 2},
		{strings.Repeat("字", 135), false, 3},
		{strings.Repeat("a", 160), true, 1},
		{strings.Repeat("a", 161), true, 2},
		{strings.Repeat("é", 71), true, 2},
		{"", false, 1},
	}
	for _, tc := range tests {
		if got := segments(tc.text, tc.intl); got != tc.want {
			t.Errorf("segments(%d runes, intl=%v) = %d, want %d", len([]rune(tc.text)), tc.intl, got, tc.want)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		content string
		want    int
		wantErr bool
	}{
		{"no params", 0, false},
		{"{1} and {2}", 2, false},
		{"{2}{1}{1}", 2, false},
		{"{1}{3}", 0, true},
		{"{0}", 0, true},
		{"{x} {} {12", 0, false},
	}
	for _, tc := range tests {
		got, err := countPlaceholders(tc.content)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("countPlaceholders(%q) = %d, %v", tc.content, got, err)
		}
	}
	if got := render("码{1}，{2}分钟，{3}", []string{"42", "5"}); got != "码42，5分钟，{3}" {
		t.Errorf("render = %q", got)
	}
}

func TestParsePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, e164, iso string
		ok            bool
	}{
		{"+8613812345678", "+8613812345678", "CN", true},
		{"008613812345678", "+8613812345678", "CN", true},
		{"8613812345678", "+8613812345678", "CN", true},
		{"13812345678", "+8613812345678", "CN", true},
		{" +8613812345678 ", "+8613812345678", "CN", true},
		{"+8612812345678", "", "", false}, // not a mobile range
		{"+861381234567", "", "", false},
		{"+14155550123", "+14155550123", "US", true},
		{"+85291234567", "+85291234567", "HK", true},
		{"+1415555012", "", "", false},
		{"1381234567a", "", "", false},
		{"", "", "", false},
		{"+", "", "", false},
	}
	for _, tc := range tests {
		p, ok := parsePhone(tc.in)
		if ok != tc.ok || (ok && (p.e164() != tc.e164 || p.iso != tc.iso)) {
			t.Errorf("parsePhone(%q) = %s %s %v, want %s %s %v", tc.in, p.e164(), p.iso, ok, tc.e164, tc.iso, tc.ok)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("TC3-HMAC-SHA256 Credential=AKID/2024-01-02/sms/tc3_request, SignedHeaders=content-type;host, Signature=abc")
	f.Add("TC3-HMAC-SHA256 Credential=/,,=")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			return
		}
		if a.SecretID == "" || a.Signature == "" || len(a.SignedHeaders) < 2 {
			t.Errorf("accepted incomplete header %q: %+v", h, a)
		}
	})
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{"+8613812345678", "13812345678", "+14155550123", "0086", "+0", "+999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := parsePhone(s)
		if !ok {
			return
		}
		q, ok := parsePhone(p.e164())
		if !ok || q != p {
			t.Errorf("parsePhone(%q) = %+v, but its E.164 %q parses to %+v, %v", s, p, p.e164(), q, ok)
		}
		if cc, sub := p.split(); cc == "" || sub == "" {
			t.Errorf("split of %q: %q %q", p.e164(), cc, sub)
		}
	})
}
