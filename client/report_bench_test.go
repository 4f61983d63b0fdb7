package client

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
)

// BenchmarkReportMemory1M writes the CSV report of a 1,000,000-recipient job whose every number
// was sent (Tencent-length serials) and got a receipt, to io.Discard, and reports the heap it
// needs over the heap before: the sampled peaks of HeapInuse and HeapAlloc per recipient and in
// all (peak-inuse-MB), and the bytes allocated. Run it with REDIS_URL: with miniredis the Redis
// data lives in this process's heap. The setup (send, commit, receipts) is not measured.
func BenchmarkReportMemory1M(b *testing.B) {
	rdb, where := benchRedis(b)
	b.Logf("backend: %s", where)
	c, err := New(rdb, Options{AppID: "1400000000"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const n = 1_000_000
	id := "bench-report-" + NewJobID()
	res, err := c.Send(ctx, Request{JobID: id, TemplateID: "1", Reader: &lines{n: n}})
	if err != nil || res.Accepted != n {
		b.Fatalf("%+v, %v", res, err)
	}
	s := c.Store()
	serial := func(b, i int) string { return "2640:" + fmt.Sprintf("%010d%012d", b, i) }
	for bt := range res.Batches {
		cl, err := s.Claim(ctx, id, bt, "t")
		if err == nil {
			_, err = s.Launch(ctx, id, bt, "t")
		}
		if err != nil {
			b.Fatal(err)
		}
		rs := make([]store.NumberResult, len(cl.Indexes))
		page := make([]store.Receipt, len(cl.Indexes))
		for i, idx := range cl.Indexes {
			rs[i] = store.NumberResult{Index: idx, State: store.Sent, SerialNo: serial(bt, idx), Fee: 1, Code: "Ok"}
			page[i] = store.Receipt{SerialNo: rs[i].SerialNo, PhoneNumber: cl.Numbers[i], Status: store.ReceiptSuccess,
				Description: "DELIVRD", ReceivedAt: time.Now().Add(time.Minute)}
		}
		if err := s.IndexSerials(ctx, id, bt, rs); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Commit(ctx, id, bt, "t", rs); err != nil {
			b.Fatal(err)
		}
		for p := 0; p < len(page); p += 100 {
			part := page[p:min(p+100, len(page))]
			pid, err := s.SaveReceiptPage(ctx, "1400000000", part)
			if err == nil {
				_, err = s.ApplyReceiptPage(ctx, "1400000000", store.SavedPage{ID: pid, Receipts: part})
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		base := settledHeap()
		stop := heapPeaks()
		w, err := NewReportWriter(io.Discard, ReportCSV, true)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		err = c.Report(ctx, id, ReportFilter{}, func(r ReportRow) error { rows++; return w.Write(r) })
		if err == nil {
			err = w.Flush()
		}
		inuse, alloc := stop()
		if err != nil || rows != n {
			b.Fatalf("%d rows, %v", rows, err)
		}
		reportHeap(b, "", base, inuse, alloc, n)
		b.ReportMetric(float64(inuse-min(inuse, base.HeapInuse))/(1<<20), "peak-inuse-MB")
	}
	b.StopTimer()
	cleanupBench(b, c, rdb, id, res.Batches)
}
