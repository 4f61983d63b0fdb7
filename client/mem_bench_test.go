package client

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/recipients"
	"github.com/smsdispatch/smsdispatch/store"
)

// heapPeaks samples the heap every millisecond until stop is called and returns the highest
// HeapInuse and HeapAlloc seen (both include garbage not yet collected: that is the heap the
// process really needs at GOGC=100). A sample can miss a spike shorter than the interval.
func heapPeaks() (stop func() (inuse, alloc uint64)) {
	var (
		mu           sync.Mutex
		pInuse, pAll uint64
		done         = make(chan struct{})
		wg           sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mu.Lock()
			pInuse, pAll = max(pInuse, ms.HeapInuse), max(pAll, ms.HeapAlloc)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return max(pInuse, ms.HeapInuse), max(pAll, ms.HeapAlloc)
	}
}

// settledHeap collects garbage and returns the MemStats of what is live.
func settledHeap() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// reportHeap reports, per recipient, the sampled peaks over base and the bytes allocated since.
func reportHeap(b *testing.B, prefix string, base runtime.MemStats, inuse, alloc uint64, n int) {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	per := func(v, from uint64) float64 {
		if v < from {
			return 0
		}
		return float64(v-from) / float64(n)
	}
	b.ReportMetric(per(inuse, base.HeapInuse), prefix+"peak-inuse-B/rcpt")
	b.ReportMetric(per(alloc, base.HeapAlloc), prefix+"peak-alloc-B/rcpt")
	b.ReportMetric(per(ms.TotalAlloc, base.TotalAlloc), prefix+"total-alloc-B/rcpt")
}

// BenchmarkSendMemory1M sends a 1,000,000-recipient CSV job end to end and reports the
// producer's heap per recipient over the heap before Send: the sampled peaks of HeapInuse and
// HeapAlloc, and TotalAlloc (every byte allocated, garbage included). Run it with REDIS_URL: with
// miniredis the Redis data lives in this process's heap and is counted too.
func BenchmarkSendMemory1M(b *testing.B) {
	rdb, where := benchRedis(b)
	b.Logf("backend: %s", where)
	c, err := New(rdb, Options{AppID: "1400000000"})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench-sendmem-%d-%s", i, NewJobID())
		base := settledHeap()
		stop := heapPeaks()
		res, err := c.Send(context.Background(), Request{JobID: id, TemplateID: "1", Reader: &lines{n: n}})
		inuse, alloc := stop()
		if err != nil || res.Accepted != n || res.Batches != n/200 {
			b.Fatalf("%+v, %v", res, err)
		}
		reportHeap(b, "", base, inuse, alloc, n)
		cleanupBench(b, c, rdb, id, res.Batches)
	}
}

// BenchmarkCreateMemory1M measures the job-writing step of Send alone: a 1,000,000-recipient
// recipients.Set is built first (not measured), then written to Redis the way Send writes it.
// It reports the set's own live heap per recipient, and over it (so: beyond the set) the sampled
// peaks of HeapInuse and HeapAlloc and the bytes allocated while writing.
func BenchmarkCreateMemory1M(b *testing.B) {
	rdb, where := benchRedis(b)
	b.Logf("backend: %s", where)
	c, err := New(rdb, Options{AppID: "1400000000"})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		empty := settledHeap()
		bl, err := recipients.NewBuilder(recipients.Options{Params: []string{"1234"}})
		if err != nil {
			b.Fatal(err)
		}
		for k := range n {
			num := recipients.Number(8613800000000 + uint64(k))
			if k%10 == 3 {
				num = recipients.Number(16502000000 + uint64(k))
			}
			if err := bl.AddNumber(num, nil); err != nil {
				b.Fatal(err)
			}
		}
		set := bl.Finish()
		job := store.Job{ID: fmt.Sprintf("bench-createmem-%d-%s", i, NewJobID()), AppID: "1400000000",
			TemplateID: "1", Priority: store.PriorityBulk}
		base := settledHeap()
		b.ReportMetric(float64(base.HeapAlloc-min(base.HeapAlloc, empty.HeapAlloc))/n, "set-live-B/rcpt")
		b.StartTimer()
		stop := heapPeaks()
		created, err := c.createJob(context.Background(), job, set, 0)
		inuse, alloc := stop()
		if err != nil || !created {
			b.Fatalf("createJob = %v, %v", created, err)
		}
		reportHeap(b, "", base, inuse, alloc, n)
		runtime.KeepAlive(set)
		b.StopTimer()
		_, _ = c.Cancel(context.Background(), job.ID)
		b.StartTimer()
	}
}
