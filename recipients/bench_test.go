package recipients

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"testing"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// benchNumber returns the i-th number of a synthetic job: mostly distinct mainland mobiles,
// every 10th an international (UK mobile) number, every 20th a duplicate of an earlier number.
func benchNumber(i int) Number {
	switch {
	case i%20 == 19:
		return benchNumber(i / 2)
	case i%10 == 3:
		return Number(16502000000 + uint64(i))
	default:
		return Number(8613800000000 + uint64(i)*7%100000000)
	}
}

// BenchmarkBuilder1M adds 1,000,000 already-normalised recipients (dedupe and grouping only),
// then renders every batch, and reports the builder's live bytes per recipient.
func BenchmarkBuilder1M(b *testing.B) { benchBuilder(b, 1_000_000) }

// BenchmarkBuilder10M is BenchmarkBuilder1M at the largest job size (about 300 MB of heap).
func BenchmarkBuilder10M(b *testing.B) { benchBuilder(b, 10_000_000) }

func benchBuilder(b *testing.B, n int) {
	for b.Loop() {
		before := heapInUse()
		bl, _ := NewBuilder(Options{Params: []string{"1234", "5"}})
		for i := range n {
			_ = bl.AddNumber(benchNumber(i), nil)
		}
		b.ReportMetric(float64(heapInUse()-before)/float64(bl.Stats().Accepted), "B/recipient")
		set := bl.Finish()
		b.ReportMetric(float64(heapInUse()-before)/float64(set.Len()), "set-B/recipient")
		batches := 0
		for range set.Batches() {
			batches++
		}
		if batches != set.NumBatches() {
			b.Fatal("batch count")
		}
		runtime.KeepAlive(set)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
}

// genReader produces n CSV lines of benchNumber numbers (national notation, as a file would
// have them) without holding the file in memory.
type genReader struct {
	i, n int
	buf  []byte
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		num := benchNumber(g.i)
		if num.Domestic() {
			g.buf = strconv.AppendUint(g.buf, uint64(num)-8600000000000, 10)
		} else {
			g.buf = num.AppendE164(g.buf)
		}
		if g.i%100 == 0 {
			g.buf = append(g.buf, ",own,params"...)
		}
		g.buf = append(g.buf, '\n')
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	c := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[c:])]
	return c, nil
}

// BenchmarkAddCSV1M reads 1,000,000 CSV lines through the whole producer path: line parsing,
// phonenumbers normalisation on GOMAXPROCS goroutines, dedupe and grouping.
func BenchmarkAddCSV1M(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		before := heapInUse()
		bl, _ := NewBuilder(Options{Params: []string{"1234", "5"}})
		if err := bl.AddCSV(context.Background(), &genReader{n: n}, nil); err != nil {
			b.Fatal(err)
		}
		st := bl.Stats()
		if st.Accepted+st.Duplicates+st.Rejected != n || st.Rejected != 0 {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(float64(heapInUse()-before)/float64(st.Accepted), "B/recipient")
		runtime.KeepAlive(bl)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
}

// BenchmarkNormalize is the cost of one phonenumbers normalisation.
func BenchmarkNormalize(b *testing.B) {
	i := 0
	for b.Loop() {
		if _, err := Normalize("1380013"+strconv.Itoa(8000+i%1000), "CN"); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
