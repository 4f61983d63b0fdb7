package phonemask_test

import (
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/smsdispatch/smsdispatch/internal/phonemask"
)

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"+8613812345678", "+86138****5678"},
		{"13812345678", "138****5678"},
		{"+14155552671", "+141****2671"},
		{"+861381234567890", "+86138******7890"},
		{"12345678", "****5678"},
		{"12345", "****5"},
		{"1234", "****"},
		{"1", "*"},
		{"", ""},
		{"+86 138 1234 5678", "+86 13*******5678"},
		{"电话号码一二三四五", "电****二三四五"},
	}
	for _, tt := range tests {
		if got := phonemask.Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"", "1", "1234", "12345", "+8613812345678", "+86 138 1234 5678", "电话", "\xff\xfe1234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := phonemask.Mask(s) // must not panic
		in := []rune(s)
		out := []rune(got)
		if len(out) != len(in) {
			t.Fatalf("Mask(%q) = %q: %d runes, want %d", s, got, len(out), len(in))
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Mask(%q) = %q is not valid UTF-8", s, got)
		}
		// At least min(n, 4) positions are starred, and every position that
		// is not starred shows the input's rune there.
		hidden := 0
		for i, r := range out {
			switch {
			case r == '*':
				hidden++
			case r != in[i]:
				t.Fatalf("Mask(%q) = %q changes rune %d", s, got, i)
			}
		}
		if want := min(len(in), 4); hidden < want {
			t.Fatalf("Mask(%q) = %q hides %d runes, want at least %d", s, got, hidden, want)
		}
	})
}

func ExampleMask() {
	fmt.Println(phonemask.Mask("+8613812345678"))
	fmt.Println(phonemask.Mask("13812345678"))
	// Output:
	// +86138****5678
	// 138****5678
}
