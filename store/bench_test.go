package store

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// newBenchEnv returns the REDIS_URL env when set, a miniredis one otherwise.
func newBenchEnv(b *testing.B) *env {
	if os.Getenv("REDIS_URL") != "" {
		return newEnv(b, redisBackend, Options{})
	}
	return newEnv(b, miniBackend, Options{})
}

// BenchmarkMemoryPerNumber reports the Redis memory of a queued job per number
// (bytes/number; MEMORY USAGE on real Redis when REDIS_URL is set, miniredis's estimate otherwise).
func BenchmarkMemoryPerNumber(b *testing.B) {
	ctx := context.Background()
	e := newBenchEnv(b)
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
}

// BenchmarkClaimCommit measures one batch of 200 through Claim and Commit.
func BenchmarkClaimCommit(b *testing.B) {
	ctx := context.Background()
	e := newBenchEnv(b)
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
}
