package recipients

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"

	"github.com/smsdispatch/smsdispatch/internal/numset"
)

// Defaults of Options.
const (
	DefaultMaxBatch      = 200
	DefaultMaxRecipients = 10_000_000
)

var (
	// ErrDuplicate is returned by Builder.Add for a number already in the job; it is counted in
	// Stats.Duplicates, not as a rejection.
	ErrDuplicate = errors.New("duplicate number")
	// ErrTooMany is returned once a job would exceed Options.MaxRecipients valid unique numbers.
	ErrTooMany = errors.New("recipients: too many recipients")
)

// Options configure a Builder. Zero fields take their defaults.
type Options struct {
	// Region is the region of numbers written without '+' (a region code such as "CN", any
	// case). Default DefaultRegion ("CN").
	Region string
	// Params are the job's template params, used for recipients that carry none of their own.
	Params []string
	// MaxBatch is the most numbers per batch, 1..DefaultMaxBatch. Default DefaultMaxBatch (200,
	// Tencent's limit, which is also the upper bound).
	MaxBatch int
	// MaxRecipients bounds the valid unique numbers of one job. Zero or negative means
	// DefaultMaxRecipients (10,000,000).
	MaxRecipients int
	// Workers is how many goroutines normalise numbers in AddCSV and AddRecipients. Zero or
	// negative means runtime.GOMAXPROCS(0) at the time of the call.
	Workers int
	// Encoding is the encoding of AddCSV's input (see CanonicalEncoding): "" or EncodingUTF8,
	// or EncodingGB18030. Default EncodingUTF8.
	Encoding string
}

// normalRegion is region trimmed and in upper case.
func normalRegion(region string) string { return strings.ToUpper(strings.TrimSpace(region)) }

// validate reports the first bad field of o (before withDefaults): an unknown Region, a MaxBatch
// outside 1..DefaultMaxBatch, or an unknown Encoding.
func (o Options) validate() error {
	if r := normalRegion(o.Region); r != "" && !ValidRegion(r) {
		return fmt.Errorf("recipients: %w %q", ErrUnknownRegion, o.Region)
	}
	if o.MaxBatch != 0 && (o.MaxBatch < 1 || o.MaxBatch > DefaultMaxBatch) {
		return fmt.Errorf("recipients: max batch %d outside 1..%d", o.MaxBatch, DefaultMaxBatch)
	}
	if _, err := CanonicalEncoding(o.Encoding); err != nil {
		return fmt.Errorf("recipients: %w", err)
	}
	return nil
}

// withDefaults returns o, which must be valid, with Region normalised and Encoding canonical, and
// every empty or zero field set to its default (a negative MaxRecipients too).
func (o Options) withDefaults() Options {
	o.Region = normalRegion(o.Region)
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = DefaultMaxRecipients
	}
	o.Encoding, _ = CanonicalEncoding(o.Encoding) // checked by validate
	return o
}

// Stats counts what a Builder was given.
type Stats struct {
	Accepted   int // valid unique numbers
	Duplicates int // valid numbers already in the job (dropped)
	Rejected   int // invalid numbers and bad lines
}

// Builder accumulates a job's recipients. It is not safe for concurrent use (AddCSV and
// AddRecipients parallelise internally). Call Finish once every recipient has been added.
type Builder struct {
	region        string
	maxBatch      int
	maxRecipients int
	workers       int
	encoding      string
	defaultKey    string

	seen      *numset.Set
	paramIdx  map[string]int32
	paramKeys []string // encoded param sets, by index
	groupIdx  map[groupKey]*group
	groups    []*group
	last      *group
	stats     Stats
	digest    digest
}

type groupKey struct {
	pi   int32
	intl bool
}

// group holds the numbers of one (param set, domestic/international) group in insertion order,
// in chunks so that growing never copies a large slice.
type group struct {
	key    groupKey
	n      int
	chunks [][]Number
}

const maxChunk = 8192

func (g *group) add(n Number) {
	if len(g.chunks) == 0 || len(g.chunks[len(g.chunks)-1]) == cap(g.chunks[len(g.chunks)-1]) {
		size := 8
		if len(g.chunks) > 0 {
			size = min(2*cap(g.chunks[len(g.chunks)-1]), maxChunk)
		}
		g.chunks = append(g.chunks, make([]Number, 0, size))
	}
	last := len(g.chunks) - 1
	g.chunks[last] = append(g.chunks[last], n)
	g.n++
}

// NewBuilder returns an empty Builder. It fails for an unknown region or a MaxBatch outside 1..200.
func NewBuilder(opts Options) (*Builder, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	return &Builder{
		encoding:      opts.Encoding,
		region:        opts.Region,
		maxBatch:      opts.MaxBatch,
		maxRecipients: opts.MaxRecipients,
		workers:       opts.Workers,
		defaultKey:    encodeParams(opts.Params),
		seen:          new(numset.Set),
		paramIdx:      make(map[string]int32),
		groupIdx:      make(map[groupKey]*group),
	}, nil
}

// Region is the builder's region for numbers without '+'.
func (b *Builder) Region() string { return b.region }

// Stats returns the counts so far.
func (b *Builder) Stats() Stats { return b.stats }

// Add normalises number and adds it with its own params (nil: the job's params). It returns nil
// when the number was accepted, ErrDuplicate when the job already has it (the first occurrence
// and its params win), ErrTooMany when the job is full, or the normalisation error (counted as
// rejected).
func (b *Builder) Add(number string, params []string) error {
	n, err := Normalize(number, b.region)
	if err != nil {
		b.stats.Rejected++
		return err
	}
	return b.AddNumber(n, params)
}

// AddNumber adds an already normalised number (see Add). It panics if called after Finish.
func (b *Builder) AddNumber(n Number, params []string) error {
	if n == 0 {
		b.stats.Rejected++
		return ErrNotANumber
	}
	if b.stats.Accepted >= b.maxRecipients {
		if b.seen.Has(uint64(n)) {
			b.stats.Duplicates++
			return ErrDuplicate
		}
		return fmt.Errorf("%w (more than %d)", ErrTooMany, b.maxRecipients)
	}
	if !b.seen.Add(uint64(n)) {
		b.stats.Duplicates++
		return ErrDuplicate
	}
	pkey, ph := b.defaultKey, uint64(defaultParamsHash)
	if params != nil {
		pkey = encodeParams(params)
		ph = paramsHash(pkey)
	}
	b.digest.add(n, ph)
	key := groupKey{pi: b.paramIndex(pkey), intl: !n.Domestic()}
	g := b.last
	if g == nil || g.key != key {
		g = b.groupIdx[key]
		if g == nil {
			g = &group{key: key}
			b.groupIdx[key] = g
			b.groups = append(b.groups, g)
		}
		b.last = g
	}
	g.add(n)
	b.stats.Accepted++
	return nil
}

// RecordRejected counts a rejection found outside the builder (a bad input line).
func (b *Builder) RecordRejected() { b.stats.Rejected++ }

func (b *Builder) paramIndex(key string) int32 {
	if i, ok := b.paramIdx[key]; ok {
		return i
	}
	i := int32(len(b.paramKeys))
	b.paramIdx[key] = i
	b.paramKeys = append(b.paramKeys, key)
	return i
}

// encodeParams encodes a param list unambiguously: each param as uvarint(length) + bytes.
func encodeParams(params []string) string {
	size := 0
	for _, p := range params {
		size += binary.MaxVarintLen64 + len(p)
	}
	buf := make([]byte, 0, size)
	for _, p := range params {
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	return string(buf)
}

func decodeParams(key string) []string {
	out := []string{}
	for len(key) > 0 {
		l, n := binary.Uvarint([]byte(key[:min(len(key), binary.MaxVarintLen64)]))
		key = key[n:]
		out = append(out, key[:l])
		key = key[l:]
	}
	return out
}

// Finish ends the building and returns the job's recipients grouped into batches. The Builder
// must not be used afterwards (its deduplication set is released).
func (b *Builder) Finish() *Set {
	groups := slices.Clone(b.groups)
	slices.SortFunc(groups, func(x, y *group) int {
		if x.key.pi != y.key.pi {
			return int(x.key.pi - y.key.pi)
		}
		switch {
		case x.key.intl == y.key.intl:
			return 0
		case !x.key.intl:
			return -1
		}
		return 1
	})
	first := make([]int, len(groups)+1)
	for i, g := range groups {
		first[i+1] = first[i] + (g.n+b.maxBatch-1)/b.maxBatch
	}
	s := &Set{groups: groups, firstBatch: first, paramKeys: b.paramKeys, maxBatch: b.maxBatch, stats: b.stats, digest: b.digest}
	*b = Builder{}
	return s
}

// Set is a job's accepted recipients, grouped. It is immutable and safe for concurrent reads.
type Set struct {
	groups     []*group
	firstBatch []int // index of each group's first batch; the last entry is NumBatches
	paramKeys  []string
	maxBatch   int
	stats      Stats
	digest     digest
}

// Batch is one batch of a job, shaped like store.NewBatch (convert with store.NewBatch(b)). Its
// numbers are in Numbers (from Batches) or in Packed (from PackedBatch), never in both.
type Batch struct {
	ParamSet int      // index into Set.ParamSets()
	Intl     bool     // international numbers (never mixed with +86 in one batch)
	Numbers  []string // E.164 with '+', 1..MaxBatch, unique within the job
	Packed   []uint64 // or: the numbers as uint64(Number), the E.164 digits
}

// Stats returns the counts of the builder that made the set.
func (s *Set) Stats() Stats { return s.stats }

// Digest is a digest of the accepted recipients, for telling two requests apart: the set of
// accepted numbers (E.164), each with its own params or none (the job's then apply). It does not
// depend on the order of the input, on duplicates, on rejected lines, or on how the numbers were
// written; it changes when a number, or a number's own params, is added, removed or changed. It
// is stable across processes and versions (it is stored with a job), and it is not a
// cryptographic hash: it tells honest requests apart, it does not resist a forger.
func (s *Set) Digest() string { return s.digest.String() }

// Len is the number of accepted recipients.
func (s *Set) Len() int { return s.stats.Accepted }

// ParamSets returns the distinct template param sets, indexed by Batch.ParamSet, in order of
// first use. A set is never nil (a template without params has an empty set).
func (s *Set) ParamSets() [][]string {
	out := make([][]string, len(s.paramKeys))
	for i, k := range s.paramKeys {
		out[i] = decodeParams(k)
	}
	return out
}

// NumBatches is how many batches Batches yields.
func (s *Set) NumBatches() int { return s.firstBatch[len(s.firstBatch)-1] }

// PackedBatch returns batch i (0 <= i < NumBatches; the i-th batch Batches yields) without
// rendering it: Packed holds its numbers as uint64(Number), Numbers is nil. The numbers are
// written into buf when it is large enough, so passing the previous batch's Packed reuses its
// memory. It panics when i is out of range. Safe for concurrent use with distinct bufs.
func (s *Set) PackedBatch(i int, buf []uint64) Batch {
	if i < 0 || i >= s.NumBatches() {
		panic(fmt.Sprintf("recipients: batch %d out of range [0, %d)", i, s.NumBatches()))
	}
	gi := sort.Search(len(s.groups), func(k int) bool { return s.firstBatch[k+1] > i })
	g := s.groups[gi]
	off := (i - s.firstBatch[gi]) * s.maxBatch
	n := min(s.maxBatch, g.n-off)
	out := buf[:0]
	for ci, pos := chunkPos(off); len(out) < n; ci, pos = ci+1, 0 {
		c := g.chunks[ci][pos:]
		for _, v := range c[:min(n-len(out), len(c))] {
			out = append(out, uint64(v))
		}
	}
	return Batch{ParamSet: int(g.key.pi), Intl: g.key.intl, Packed: out}
}

// chunkPos returns the chunk holding a group's off-th number and its position there. Chunk
// capacities are those group.add allocates: 8, 16, 32, ... up to maxChunk, then maxChunk each.
func chunkPos(off int) (chunk, pos int) {
	size := 8
	for ; size < maxChunk; size *= 2 {
		if off < size {
			return chunk, off
		}
		off -= size
		chunk++
	}
	return chunk + off/maxChunk, off % maxChunk
}

// Batches yields the batches in a deterministic order: by param set, domestic before
// international, numbers in input order. Each batch is rendered when yielded, so iterating
// holds one batch of strings at a time.
func (s *Set) Batches() iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		for _, g := range s.groups {
			var cur []Number
			flush := func() bool {
				if len(cur) == 0 {
					return true
				}
				b := Batch{ParamSet: int(g.key.pi), Intl: g.key.intl, Numbers: render(cur)}
				cur = cur[:0]
				return yield(b)
			}
			cur = make([]Number, 0, s.maxBatch)
			for _, c := range g.chunks {
				for len(c) > 0 {
					take := min(s.maxBatch-len(cur), len(c))
					cur = append(cur, c[:take]...)
					c = c[take:]
					if len(cur) == s.maxBatch && !flush() {
						return
					}
				}
			}
			if !flush() {
				return
			}
		}
	}
}

// render turns numbers into E.164 strings sharing one backing string (no per-number allocation).
func render(nums []Number) []string {
	var sb strings.Builder
	sb.Grow(17 * len(nums))
	ends := make([]int, len(nums))
	var tmp [20]byte
	for i, n := range nums {
		sb.Write(n.AppendE164(tmp[:0]))
		ends[i] = sb.Len()
	}
	all := sb.String()
	out := make([]string, len(nums))
	start := 0
	for i, e := range ends {
		out[i] = all[start:e]
		start = e
	}
	return out
}
