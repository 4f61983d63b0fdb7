package numset

import (
	"math/rand/v2"
	"testing"
)

func TestSetMatchesMap(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var s Set
	m := map[uint64]bool{}
	for i := range 200000 {
		var v uint64
		switch i % 3 {
		case 0:
			v = 8613800000000 + uint64(i)
		case 1:
			v = r.Uint64N(1e15) + 1
		default:
			v = 8613800000000 + r.Uint64N(uint64(i)+1)
		}
		if got, want := s.Add(v), !m[v]; got != want {
			t.Fatalf("Add(%d) = %v, want %v", v, got, want)
		}
		m[v] = true
	}
	if s.Len() != len(m) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(m))
	}
	for v := range m {
		if !s.Has(v) {
			t.Fatalf("lost %d", v)
		}
	}
	if s.Has(1) && !m[1] {
		t.Fatal("Has(1)")
	}
}

// maxPacked is the largest packed E.164 number (15 digits).
const maxPacked = 999_999_999_999_999

func TestSetNearMax(t *testing.T) {
	t.Parallel()
	var s Set
	if s.Has(maxPacked) {
		t.Fatal("the empty set has a number")
	}
	for i := range uint64(1000) {
		if !s.Add(maxPacked - i) {
			t.Fatalf("add %d: already there", i)
		}
	}
	if s.Add(maxPacked) || s.Len() != 1000 {
		t.Fatal("add of a present number")
	}
	if s.Has(12345) || !s.Has(maxPacked-3) || s.Has(maxPacked-1000) {
		t.Fatal("Has confused numbers")
	}
}

// TestBloom: the filter never forgets a number and rarely suspects a new one.
func TestBloom(t *testing.T) {
	t.Parallel()
	const n = 200_000
	f := NewBloom(n)
	suspects := 0
	for i := range uint64(n) {
		if f.Add(8613800000000 + i*7) {
			suspects++ // a false suspect: every number is new
		}
	}
	for i := range uint64(n) {
		if !f.Add(8613800000000 + i*7) {
			t.Fatalf("bloom forgot %d", i)
		}
	}
	// Filling up to n, the filter suspects well under 1% of new numbers (about 1% when full).
	if rate := float64(suspects) / n; rate > 0.01 {
		t.Fatalf("false suspect rate %.4f, want < 0.01", rate)
	}
	t.Logf("false suspects while filling: %.4f at %d bits per number", float64(suspects)/n, BloomBits)
}

// TestMix pins the splitmix64 finaliser: stored digests and checksums depend on its values.
func TestMix(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want uint64 }{
		{0, 0},
		{1, 0x5692161d100b05e5},
		{8613800138000, 0x9e54fcc2d244aa71},
	} {
		if got := Mix(c.in); got != c.want {
			t.Errorf("Mix(%d) = %#x, want %#x", c.in, got, c.want)
		}
	}
}
