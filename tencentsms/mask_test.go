package tencentsms_test

import (
	"testing"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

func TestMaskPhone(t *testing.T) {
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
		if got := tencentsms.MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
