package recipients

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		name string
		text string
		intl bool
		want SegmentCount
	}{
		{"empty", "", false, SegmentCount{Chars: 0, Segments: 0}},
		{"domestic ascii is ucs-2", strings.Repeat("a", 70), false, SegmentCount{Chars: 70, Segments: 1}},
		{"domestic 71", strings.Repeat("a", 71), false, SegmentCount{Chars: 71, Segments: 2}},
		{"domestic 134", strings.Repeat("码", 134), false, SegmentCount{Chars: 134, Segments: 2}},
		{"domestic 135", strings.Repeat("码", 135), false, SegmentCount{Chars: 135, Segments: 3}},
		{"intl gsm 160", strings.Repeat("a", 160), true, SegmentCount{GSM: true, Chars: 160, Segments: 1}},
		{"intl gsm 161", strings.Repeat("a", 161), true, SegmentCount{GSM: true, Chars: 161, Segments: 2}},
		{"intl gsm 306", strings.Repeat("a", 306), true, SegmentCount{GSM: true, Chars: 306, Segments: 2}},
		{"intl gsm 307", strings.Repeat("a", 307), true, SegmentCount{GSM: true, Chars: 307, Segments: 3}},
		{"intl extension counts two", strings.Repeat("€", 80), true, SegmentCount{GSM: true, Chars: 160, Segments: 1}},
		{"intl extension 81", strings.Repeat("€", 81), true, SegmentCount{GSM: true, Chars: 162, Segments: 2}},
		{"intl one chinese char makes ucs-2", strings.Repeat("a", 69) + "码", true, SegmentCount{Chars: 70, Segments: 1}},
		{"intl ucs-2 71", strings.Repeat("a", 70) + "码", true, SegmentCount{Chars: 71, Segments: 2}},
		{"emoji counts two", strings.Repeat("😀", 35), false, SegmentCount{Chars: 70, Segments: 1}},
		{"emoji 36", strings.Repeat("😀", 36), true, SegmentCount{Chars: 72, Segments: 2}},
		{"invalid utf-8", "\xff\xfe", true, SegmentCount{Chars: 2, Segments: 1}},
		{"signed domestic", MessageText("腾讯云", strings.Repeat("码", 65), false), false, SegmentCount{Chars: 70, Segments: 1}},
		{"signed domestic one over", MessageText("腾讯云", strings.Repeat("码", 66), false), false, SegmentCount{Chars: 71, Segments: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Segments(tt.text, tt.intl); got != tt.want {
				t.Fatalf("Segments = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMessageText(t *testing.T) {
	if got := MessageText("Acme", "hi", false); got != "【Acme】hi" {
		t.Fatalf("domestic %q", got)
	}
	if got := MessageText("Acme", "hi", true); got != "hi" {
		t.Fatalf("international %q", got)
	}
	if got := MessageText("", "hi", false); got != "hi" {
		t.Fatalf("unsigned %q", got)
	}
}

// FuzzSegments checks the invariants of any text: segments fit the characters (one segment holds
// at most the single-segment size, more segments each at most the multi size), GSM only for
// international text, and a domestic count is never below the international one.
func FuzzSegments(f *testing.F) {
	for _, s := range []string{"", "hello", "验证码 1234", "€[]", "😀", "\xff", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, intl := range []bool{false, true} {
			c := Segments(text, intl)
			if c.GSM && !intl {
				t.Fatalf("domestic %q counted as GSM", text)
			}
			single, multi := SegmentUCS2Single, SegmentUCS2Multi
			if c.GSM {
				single, multi = SegmentGSMSingle, SegmentGSMMulti
			}
			switch {
			case c.Chars == 0 && c.Segments != 0, c.Chars > 0 && c.Segments < 1:
				t.Fatalf("%q: %+v", text, c)
			case c.Segments == 1 && c.Chars > single:
				t.Fatalf("%q: %d characters in one segment", text, c.Chars)
			case c.Segments > 1 && (c.Chars > c.Segments*multi || c.Chars <= (c.Segments-1)*multi):
				t.Fatalf("%q: %d characters in %d segments", text, c.Chars, c.Segments)
			}
			if !c.GSM && c.Chars < utf8.RuneCountInString(text) {
				t.Fatalf("%q: %d UCS-2 units for %d runes", text, c.Chars, utf8.RuneCountInString(text))
			}
		}
		if Segments(text, false).Segments < Segments(text, true).Segments {
			t.Fatalf("%q: domestic fewer segments than international", text)
		}
	})
}
