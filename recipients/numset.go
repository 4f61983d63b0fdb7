package recipients

// numSet is a set of non-zero Numbers, compact for millions of entries: 256 open-addressing
// (linear probing) tables selected by the top byte of a mixed hash, each growing on its own at
// 3/4 load. That is 11-21 bytes per number (Go's map[uint64]struct{} takes about 38), and growing
// one part copies only 1/256 of the set.
type numSet struct {
	parts [256]numPart
	n     int
}

type numPart struct {
	slots []Number // 0 = empty; len is a power of two
	n     int
}

// mix is the splitmix64 finaliser: it spreads sequential numbers over the whole hash space.
func mix(v uint64) uint64 {
	v ^= v >> 30
	v *= 0xbf58476d1ce4e5b9
	v ^= v >> 27
	v *= 0x94d049bb133111eb
	v ^= v >> 31
	return v
}

// add inserts v (non-zero) and reports whether it was not in the set yet.
func (s *numSet) add(v Number) bool {
	h := mix(uint64(v))
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

// has reports whether v is in the set.
func (s *numSet) has(v Number) bool {
	h := mix(uint64(v))
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

func (p *numPart) grow() {
	size := 16
	if len(p.slots) > 0 {
		size = 2 * len(p.slots)
	}
	old := p.slots
	p.slots = make([]Number, size)
	mask := uint64(size - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := mix(uint64(v)) & mask
		for p.slots[i] != 0 {
			i = (i + 1) & mask
		}
		p.slots[i] = v
	}
}
