package recipients

import (
	"context"
	"strings"
	"testing"
)

func digestOf(t *testing.T, params []string, csv string) string {
	t.Helper()
	b, err := NewBuilder(Options{Params: params, MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddCSV(context.Background(), strings.NewReader(csv), nil); err != nil {
		t.Fatal(err)
	}
	return b.Finish().Digest()
}

// TestSetDigest: the digest is the set of accepted (number, own params) pairs: order, notation,
// duplicates and bad lines do not change it; a number or a number's own params do.
func TestSetDigest(t *testing.T) {
	base := digestOf(t, []string{"job"}, "13800138000\n13800138001,a,b\n+1 650 253 0000\n")
	same := []struct{ name, csv string }{
		{"reordered", "+1 650 253 0000\n13800138001,a,b\n13800138000\n"},
		{"other notation", "+86 138 0013 8000\n13800138001 , a , b\n+16502530000\n"},
		{"duplicates and bad lines", "13800138000\nbad\n13800138001,a,b\n13800138000,x\n+1 650 253 0000\n# c\n"},
	}
	for _, tt := range same {
		if got := digestOf(t, []string{"job"}, tt.csv); got != base {
			t.Errorf("%s: digest %s, want %s", tt.name, got, base)
		}
	}
	// The job's params are not part of it (the caller compares them apart).
	if got := digestOf(t, []string{"other"}, "13800138000\n13800138001,a,b\n+1 650 253 0000\n"); got != base {
		t.Errorf("job params changed the recipients digest")
	}
	differ := []struct{ name, csv string }{
		{"one number more", "13800138000\n13800138001,a,b\n+1 650 253 0000\n13800138002\n"},
		{"one number less", "13800138000\n13800138001,a,b\n"},
		{"a number changed", "13800138009\n13800138001,a,b\n+1 650 253 0000\n"},
		{"own params changed", "13800138000\n13800138001,a,c\n+1 650 253 0000\n"},
		{"own params moved", "13800138000,a,b\n13800138001\n+1 650 253 0000\n"},
		{"own params equal to the job's", "13800138000,job\n13800138001,a,b\n+1 650 253 0000\n"},
		{"params split differently", "13800138000\n13800138001,\"a,b\"\n+1 650 253 0000\n"},
	}
	for _, tt := range differ {
		if got := digestOf(t, []string{"job"}, tt.csv); got == base {
			t.Errorf("%s: same digest %s", tt.name, got)
		}
	}
	// Digests are stored with jobs: they must not change between versions.
	if want := "3:4f6c614d86a4523c75c4ae80cd37e62e"; base != want {
		t.Errorf("digest %s, want %s (a change breaks the comparison with every stored job)", base, want)
	}
}
