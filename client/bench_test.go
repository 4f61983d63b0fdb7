package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// benchRedis returns the private Redis at REDIS_URL when set (see redistest.Open), else a
// miniredis.
func benchRedis(b *testing.B) (redis.UniversalClient, redistest.Backend) {
	b.Helper()
	backend := redistest.Miniredis
	if os.Getenv(redistest.EnvURL) != "" {
		backend = redistest.Redis
	}
	db := redistest.Open(b, backend)
	return db.Client, db.Backend
}

// lines produces n CSV lines of distinct mainland mobiles, every 10th an international number.
type lines struct {
	i, n int
	buf  []byte
}

func (g *lines) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		if g.i%10 == 3 {
			g.buf = append(g.buf, "+1650"...)
			g.buf = strconv.AppendInt(g.buf, 2000000+int64(g.i), 10)
		} else {
			g.buf = strconv.AppendInt(g.buf, 13800000000+int64(g.i), 10)
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

// peakHeap samples the live heap until stop is called and returns the highest value seen.
func peakHeap() (stop func() uint64) {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapAlloc)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkSend1M sends a 1,000,000-recipient CSV job end to end (parse, normalise, batch,
// CreateJob, 5,000 task enqueues) and reports recipients/s and the producer's peak heap.
func BenchmarkSend1M(b *testing.B) {
	rdb, where := benchRedis(b)
	c, err := New(rdb, Options{AppID: "1400000000"})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	b.Logf("backend: %s", where)
	for i := 0; b.Loop(); i++ {
		runtime.GC()
		stop := peakHeap()
		id := fmt.Sprintf("bench-send-%d-%s", i, NewJobID())
		start := time.Now()
		res, err := c.Send(context.Background(), Request{JobID: id, TemplateID: "1", Reader: &lines{n: n}})
		elapsed := time.Since(start)
		peak := stop()
		if err != nil || res.Accepted != n || res.Batches != n/200 {
			b.Fatalf("%+v, %v", res, err)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "recipients/s")
		b.ReportMetric(float64(peak)/float64(n), "peak-heap-B/recipient")
		cleanupBench(b, c, rdb, id, res.Batches)
	}
}

// BenchmarkEnqueue5000 enqueues the 5,000 batch tasks of a 1M-recipient job on the bounded pool.
func BenchmarkEnqueue5000(b *testing.B) {
	rdb, where := benchRedis(b)
	c, err := New(rdb, Options{AppID: "1400000000"})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("backend: %s", where)
	const n = 5000
	for i := 0; b.Loop(); i++ {
		job := store.Job{ID: fmt.Sprintf("bench-enq-%d-%s", i, NewJobID()), Priority: "bulk"}
		start := time.Now()
		if failed, err := c.enqueueAll(context.Background(), n, func(i int) (store.Job, int) { return job, i }); err != nil {
			b.Fatalf("%d failed: %v", failed, err)
		}
		b.ReportMetric(n/time.Since(start).Seconds(), "tasks/s")
		cleanupBench(b, c, rdb, job.ID, n)
	}
}

// cleanupBench removes a benchmark job's tasks and cancels it (outside the timing).
func cleanupBench(b *testing.B, c *Client, rdb redis.UniversalClient, job string, batches int) {
	b.StopTimer()
	defer b.StartTimer()
	ins := asynq.NewInspectorFromRedisClient(rdb)
	for _, q := range []string{"sms-normal", "sms-bulk"} {
		for i := range batches {
			_ = ins.DeleteTask(q, tasks.SendBatchTaskID(job, i))
		}
	}
	_, _ = c.Cancel(context.Background(), job)
}
