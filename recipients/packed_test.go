package recipients

import (
	"fmt"
	"testing"
)

// TestPackedBatchMatchesBatches: PackedBatch(i) holds the numbers, param set and intl flag of the
// i-th batch Batches yields, over group sizes that cross every chunk boundary, with and without
// a reused buffer.
func TestPackedBatchMatchesBatches(t *testing.T) {
	for _, maxBatch := range []int{1, 7, 200} {
		t.Run(fmt.Sprint(maxBatch), func(t *testing.T) {
			b := mustBuilder(t, Options{MaxBatch: maxBatch})
			// Group (0, domestic) gets 40,000 numbers (chunks 8..8192, then several of 8192);
			// other groups are small or empty of one kind.
			for i := range 40_000 {
				if err := b.AddNumber(Number(8613800000000+uint64(i)), nil); err != nil {
					t.Fatal(err)
				}
				switch {
				case i%97 == 0:
					_ = b.AddNumber(Number(447700900000+uint64(i)), []string{"p", fmt.Sprint(i % 3)})
				case i%13 == 0:
					_ = b.AddNumber(Number(16502530000+uint64(i)), nil)
				}
			}
			s := b.Finish()
			var buf []uint64
			i := 0
			for want := range s.Batches() {
				fresh := s.PackedBatch(i, nil)
				reused := s.PackedBatch(i, buf)
				buf = reused.Packed
				for _, got := range []Batch{fresh, reused} {
					if got.Numbers != nil || got.ParamSet != want.ParamSet || got.Intl != want.Intl || len(got.Packed) != len(want.Numbers) {
						t.Fatalf("batch %d: got %+v, want %+v", i, got, want)
					}
					for j, v := range got.Packed {
						if Number(v).String() != want.Numbers[j] {
							t.Fatalf("batch %d number %d = %d, want %s", i, j, v, want.Numbers[j])
						}
					}
				}
				i++
			}
			if i != s.NumBatches() {
				t.Fatalf("Batches yielded %d, NumBatches %d", i, s.NumBatches())
			}
			for _, bad := range []int{-1, s.NumBatches()} {
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("PackedBatch(%d) did not panic", bad)
						}
					}()
					s.PackedBatch(bad, nil)
				}()
			}
		})
	}
}

// TestChunkPos checks chunkPos against the chunks group.add really makes.
func TestChunkPos(t *testing.T) {
	var g group
	for i := range 3*maxChunk + 12345 {
		g.add(Number(i + 1))
	}
	off := 0
	for ci, c := range g.chunks {
		for pos := range c {
			if gc, gp := chunkPos(off); gc != ci || gp != pos {
				t.Fatalf("chunkPos(%d) = %d, %d; want %d, %d", off, gc, gp, ci, pos)
			}
			off++
		}
	}
}
