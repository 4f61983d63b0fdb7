package tencentsms_test

import (
	"testing"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	// The rules are internal/phonemask's (tested there); this checks the exported name uses them.
	if got, want := tencentsms.MaskPhone("+8613812345678"), "+86138****5678"; got != want {
		t.Errorf("MaskPhone = %q, want %q", got, want)
	}
}
