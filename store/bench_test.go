package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// benchBackends runs bench on miniredis and on the private Redis at REDIS_URL (skipped when unset),
// as sub-benchmarks named after the backend.
func benchBackends(b *testing.B, bench func(b *testing.B, e *env)) {
	for _, be := range redistest.Backends() {
		b.Run(string(be), func(b *testing.B) { bench(b, newEnv(b, redistest.Open(b, be), Options{})) })
	}
}

// BenchmarkMemoryPerNumber reports the Redis memory of a queued job per number
// (bytes/number; MEMORY USAGE on the real Redis, miniredis's estimate on miniredis).
func BenchmarkMemoryPerNumber(b *testing.B) {
	benchBackends(b, func(b *testing.B, e *env) {
		ctx := context.Background()
		var per float64
		for i := 0; b.Loop(); i++ {
			id := fmt.Sprintf("mem-%d", i)
			if _, err := e.s.CreateJob(ctx, testJob(id), [][]string{{"1234"}}, batchesOf(nums(0, 10_000), MaxBatchSize), 0); err != nil {
				b.Fatal(err)
			}
			var err error
			if per, err = e.s.MemoryPerNumber(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(per, "bytes/number")
	})
}

// BenchmarkClaimCommit measures one batch of 200 through Claim and Commit.
func BenchmarkClaimCommit(b *testing.B) {
	benchBackends(b, func(b *testing.B, e *env) {
		ctx := context.Background()
		if _, err := e.s.CreateJob(ctx, testJob("bench"), [][]string{{"1"}}, batchesOf(nums(0, 200*b.N), MaxBatchSize), 0); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			tok := fmt.Sprint(i)
			c, err := e.s.Claim(ctx, "bench", i, tok)
			if err != nil || c.Outcome != Claimed {
				b.Fatalf("claim %d: %v %v", i, c.Outcome, err)
			}
			if _, err := e.s.Commit(ctx, "bench", i, tok, allSent("bench", i, c)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*MaxBatchSize), "µs/number")
	})
}

// BenchmarkIndexSerials measures the serial index write of one accepted batch of 200 (the send
// path's per-number Redis write).
func BenchmarkIndexSerials(b *testing.B) {
	benchBackends(b, func(b *testing.B, e *env) {
		ctx := context.Background()
		rs := make([]NumberResult, MaxBatchSize)
		for i := 0; b.Loop(); i++ {
			for j := range rs {
				rs[j] = NumberResult{Index: j, State: Sent, SerialNo: fmt.Sprintf("2433:%010d%010d", i, j)}
			}
			if err := e.s.IndexSerials(ctx, "cvw6ttlmubtqjlvxvt527jto", i, rs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*MaxBatchSize), "µs/number")
	})
}

// BenchmarkApplyReceiptPage measures applying pages of 100 receipts matched by serial (lookups
// in the serial index and the per-job receipt script).
func BenchmarkApplyReceiptPage(b *testing.B) {
	benchBackends(b, func(b *testing.B, e *env) {
		ctx := context.Background()
		const batches = 50
		if _, err := e.s.CreateJob(ctx, testJob("bench"), [][]string{{"1"}}, batchesOf(nums(0, MaxBatchSize*batches), MaxBatchSize), 0); err != nil {
			b.Fatal(err)
		}
		numbers := nums(0, MaxBatchSize*batches)
		var pages [][]Receipt
		for bt := range batches {
			tok := fmt.Sprint(bt)
			c, err := e.s.Claim(ctx, "bench", bt, tok)
			if err != nil {
				b.Fatal(err)
			}
			rs := allSent("bench", bt, c)
			if err := e.s.IndexSerials(ctx, "bench", bt, rs); err != nil {
				b.Fatal(err)
			}
			if _, err := e.s.Commit(ctx, "bench", bt, tok, rs); err != nil {
				b.Fatal(err)
			}
			for p := 0; p < MaxBatchSize; p += 100 {
				var page []Receipt
				for i := p; i < p+100; i++ {
					r := receiptFor("bench", bt, i, numbers[bt*MaxBatchSize+i], ReceiptSuccess)
					r.ReceivedAt = e.clock.Now()
					page = append(page, r)
				}
				pages = append(pages, page)
			}
		}
		for i := 0; b.Loop(); i++ {
			page := pages[i%len(pages)] // after the first round: duplicates, the same lookups
			id, err := e.s.SaveReceiptPage(ctx, testApp, page)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.s.ApplyReceiptPage(ctx, testApp, SavedPage{ID: id, Receipts: page}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*100), "µs/receipt")
	})
}
