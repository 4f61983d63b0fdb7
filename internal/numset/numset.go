// Package numset holds the sets of phone numbers (E.164 digits packed in a uint64) that
// smsdispatch checks for repeats, millions of numbers at a time: Set, exact and compact, and
// Bloom, a filter that takes a fraction of the memory but can only say "maybe seen". Both hash
// with Mix, the splitmix64 finaliser, which also hashes the recipients digest (digests are
// stored, so Mix must never change) and the store's checksum of a job's batches.
package numset

import "math/bits"

// Mix is the splitmix64 finaliser: it spreads similar (sequential) numbers over the whole hash
// space.
func Mix(v uint64) uint64 {
	v ^= v >> 30
	v *= 0xbf58476d1ce4e5b9
	v ^= v >> 27
	v *= 0x94d049bb133111eb
	v ^= v >> 31
	return v
}

// Set is a set of non-zero numbers, compact for millions of entries: 256 open-addressing
// (linear probing) tables selected by the top byte of Mix, each growing on its own at 3/4 load.
// That is 11-21 bytes per number (Go's map[uint64]struct{} takes about 38), and growing one part
// copies only 1/256 of the set. The zero Set is empty and ready to use.
type Set struct {
	parts [256]part
	n     int
}

type part struct {
	slots []uint64 // 0 = empty; len is a power of two
	n     int
}

// Len returns the number of numbers in the set.
func (s *Set) Len() int { return s.n }

// Add inserts v (non-zero: 0 marks an empty slot) and reports whether it was not in the set yet.
func (s *Set) Add(v uint64) bool {
	h := Mix(v)
	p := &s.parts[h>>56]
	if (p.n+1)*4 > len(p.slots)*3 {
		p.grow()
	}
	mask := uint64(len(p.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch p.slots[i] {
		case 0:
			p.slots[i] = v
			p.n++
			s.n++
			return true
		case v:
			return false
		}
	}
}

// Has reports whether v is in the set.
func (s *Set) Has(v uint64) bool {
	h := Mix(v)
	p := &s.parts[h>>56]
	if len(p.slots) == 0 {
		return false
	}
	mask := uint64(len(p.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch p.slots[i] {
		case 0:
			return false
		case v:
			return true
		}
	}
}

func (p *part) grow() {
	size := 16
	if len(p.slots) > 0 {
		size = 2 * len(p.slots)
	}
	old := p.slots
	p.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := Mix(v) & mask
		for p.slots[i] != 0 {
			i = (i + 1) & mask
		}
		p.slots[i] = v
	}
}

// Bloom is a blocked Bloom filter of numbers: each number sets BloomK bits of one 512-bit block
// (a cache line). At BloomBits bits per number it answers "maybe added" for about 1% of the
// numbers never added.
type Bloom struct {
	blocks [][8]uint64
}

// Size of a Bloom filter.
const (
	BloomBits = 10 // bits per number the filter is made for
	BloomK    = 7  // bits set per number, 9 bits of one 64-bit hash each
)

// NewBloom returns an empty filter sized for n numbers.
func NewBloom(n int) *Bloom {
	return &Bloom{blocks: make([][8]uint64, (max(n, 1)*BloomBits+511)/512)}
}

// Add adds v and reports whether every bit of v was set already (v may have been added before).
func (f *Bloom) Add(v uint64) (maybeSeen bool) {
	h := Mix(v)
	blk, _ := bits.Mul64(h, uint64(len(f.blocks)))
	b := &f.blocks[blk]
	g := Mix(h ^ 0x9e3779b97f4a7c15)
	maybeSeen = true
	for range BloomK {
		bit := g & 511
		g >>= 9
		w, m := bit>>6, uint64(1)<<(bit&63)
		if b[w]&m == 0 {
			maybeSeen = false
			b[w] |= m
		}
	}
	return maybeSeen
}
