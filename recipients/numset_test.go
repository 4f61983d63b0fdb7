package recipients

import (
	"math/rand/v2"
	"testing"
)

func TestNumSetMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s numSet
	m := map[Number]bool{}
	for i := range 200000 {
		var v Number
		switch i % 3 {
		case 0:
			v = Number(8613800000000 + uint64(i))
		case 1:
			v = Number(r.Uint64N(1e15) + 1)
		default:
			v = Number(8613800000000 + r.Uint64N(uint64(i)+1))
		}
		if got, want := s.add(v), !m[v]; got != want {
			t.Fatalf("add(%d) = %v, want %v", v, got, want)
		}
		m[v] = true
	}
	if s.n != len(m) {
		t.Fatalf("n = %d, want %d", s.n, len(m))
	}
	for v := range m {
		if !s.has(v) {
			t.Fatalf("lost %d", v)
		}
	}
	if s.has(1) && !m[1] {
		t.Fatal("has(1)")
	}
}
