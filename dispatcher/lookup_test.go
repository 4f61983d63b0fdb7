package dispatcher

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// appBatchesOnly restricts AwaitingReceipts to one app (a shared Redis holds other tests' jobs),
// applying the bound after the filter as the store does.
type appBatchesOnly struct {
	*store.Store
	app string
}

func (a appBatchesOnly) AwaitingReceipts(ctx context.Context, sentBefore time.Time, max int) ([]store.AwaitingBatch, error) {
	bs, err := a.Store.AwaitingReceipts(ctx, sentBefore, 1<<30)
	bs = slices.DeleteFunc(bs, func(b store.AwaitingBatch) bool { return b.App != a.app })
	left := max
	for i := range bs {
		if left == 0 {
			return bs[:i], err
		}
		if len(bs[i].Numbers) > left {
			bs[i].Numbers, bs[i].Partial = bs[i].Numbers[:left], true
		}
		left -= len(bs[i].Numbers)
	}
	return bs, err
}

// countingLookups wraps a PhoneStatusPuller and counts its calls per number, checking that each
// call was granted by the limiter first.
type countingLookups struct {
	next PhoneStatusPuller
	lim  *fakeLimiter

	mu     sync.Mutex
	calls  int
	per    map[string]int
	unpaid int // calls made without a limiter grant
}

func (c *countingLookups) PullSendStatusByPhoneNumber(ctx context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
	c.lim.mu.Lock()
	waits := c.lim.waits
	c.lim.mu.Unlock()
	c.mu.Lock()
	c.calls++
	if c.per == nil {
		c.per = map[string]int{}
	}
	c.per[r.PhoneNumber]++
	if waits < c.calls {
		c.unpaid++
	}
	c.mu.Unlock()
	return c.next.PullSendStatusByPhoneNumber(ctx, r)
}

func (it *itest) newLookup(t *testing.T, maxPerRun int) (*ReceiptLookup, *countingLookups) {
	t.Helper()
	lim := &fakeLimiter{}
	cl := &countingLookups{next: it.client, lim: lim}
	l, err := NewReceiptLookup(ReceiptLookupConfig{Store: appBatchesOnly{it.st, it.app}, Puller: cl, Limiter: lim,
		MaxPerRun: maxPerRun, Logger: zaptest.NewLogger(t), Now: it.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l, cl
}

// A worker killed between a pull's reply and the save of its page loses that page: the numbers
// get their receipts by lookup a few minutes later, each looked up once, through the limiter.
func TestIntegrationLostPageRecoveredByLookup(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityBulk, 250, 200)
		for batch := range 2 {
			if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
				t.Fatal(err)
			}
		}
		it.clock.Add(3 * time.Second)
		// The first page is pulled, and its puller dies before saving it.
		lost, err := it.client.PullSendStatus(it.ctx, it.app, tencentsms.MaxPullLimit)
		if err != nil || len(lost) != tencentsms.MaxPullLimit {
			t.Fatalf("pull = %d receipts, %v", len(lost), err)
		}
		if err := it.newPuller(t, "p1").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if st := it.status(t, job); st.Delivered+st.Undelivered != 150 || st.State != store.StateDelivering {
			t.Fatalf("after the lost page: %+v, want 150 receipts, delivering", st)
		}
		l, cl := it.newLookup(t, 0)
		if err := l.LookupOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if cl.calls != 0 {
			t.Fatalf("%d lookups before the lookup age", cl.calls)
		}

		it.clock.Add(DefaultReceiptLookupAge)
		if err := l.LookupOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		st := it.status(t, job)
		if st.Sent != 250 || st.Delivered+st.Undelivered != 250 || st.State != store.StateDone {
			t.Errorf("after the lookups: %+v, want 250 sent with receipts, done", st)
		}
		if cl.calls != 100 || len(cl.per) != 100 || cl.unpaid != 0 || l.limiter.(*fakeLimiter).waits != 100 {
			t.Errorf("%d lookups of %d numbers, %d limiter grants, %d without a grant; want 100 each, 0 without",
				cl.calls, len(cl.per), l.limiter.(*fakeLimiter).waits, cl.unpaid)
		}
		for _, r := range lost {
			if cl.per[r.PhoneNumber] != 1 {
				t.Errorf("lost number %s looked up %d times", tencentsms.MaskPhone(r.PhoneNumber), cl.per[r.PhoneNumber])
			}
		}
		if n, _ := it.st.UnmatchedCount(it.ctx, it.app); n != 0 {
			t.Errorf("unmatched receipts = %d, want 0", n)
		}
		// Nothing is looked up again: every number has its receipt.
		it.clock.Add(4 * DefaultReceiptLookupAge)
		if err := l.LookupOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if cl.calls != 100 {
			t.Errorf("%d lookups after the second round's time, want still 100", cl.calls)
		}
	})
}

// Lookups before the pull: the pulled receipts then count as duplicates. A bound smaller than the
// backlog spreads the lookups over runs, each number still looked up once.
func TestIntegrationLookupThenPullCountsOnce(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityNormal, 70, 200)
		if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, 0)); err != nil {
			t.Fatal(err)
		}
		it.clock.Add(DefaultReceiptLookupAge + time.Second)
		l, cl := it.newLookup(t, 30)
		for run := 1; run <= 3; run++ {
			if err := l.LookupOnce(it.ctx); err != nil {
				t.Fatal(err)
			}
			if want := min(30*run, 70); cl.calls != want {
				t.Fatalf("after run %d: %d lookups, want %d", run, cl.calls, want)
			}
		}
		if len(cl.per) != 70 || cl.unpaid != 0 {
			t.Errorf("%d numbers looked up, %d calls without a limiter grant; want 70 and 0", len(cl.per), cl.unpaid)
		}
		st := it.status(t, job)
		if st.Delivered+st.Undelivered != 70 {
			t.Fatalf("after the lookups: %+v", st)
		}
		if err := it.newPuller(t, "p1").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if st2 := it.status(t, job); st2.Delivered != st.Delivered || st2.Undelivered != st.Undelivered || st2.Sent != 70 {
			t.Errorf("receipts counted twice: %+v then %+v", st, st2)
		}
		if n, _ := it.st.UnmatchedCount(it.ctx, it.app); n != 0 {
			t.Errorf("unmatched receipts = %d, want 0", n)
		}
	})
}

// lookupStore is a LookupStore over one batch of sent numbers, for the loop's unit tests.
type lookupStore struct {
	fakeStore
	batch store.AwaitingBatch
	marks []store.LookupMark
	refs  map[string]store.SerialRef
	pages [][]store.Receipt
}

func (s *lookupStore) AwaitingReceipts(context.Context, time.Time, int) ([]store.AwaitingBatch, error) {
	b := s.batch
	b.Numbers = slices.DeleteFunc(slices.Clone(b.Numbers), func(u store.UnknownNumber) bool {
		return len(s.marks) > 0 && u.Index < s.marks[len(s.marks)-1].Next
	})
	if len(b.Numbers) == 0 {
		return nil, nil
	}
	return []store.AwaitingBatch{b}, nil
}

func (s *lookupStore) RecordLookup(_ context.Context, _ string, _ int, m store.LookupMark) error {
	s.marks = append(s.marks, m)
	return nil
}

func (s *lookupStore) SerialRefs(context.Context, []string) (map[string]store.SerialRef, error) {
	return s.refs, nil
}

func (s *lookupStore) SaveReceiptPage(_ context.Context, _ string, page []store.Receipt) (string, error) {
	s.pages = append(s.pages, page)
	return "page", nil
}

// Only a number's own receipts are applied; a throttled lookup stops the run and the number is
// looked up again next run; the round is marked done with the next round's time.
func TestReceiptLookupAppliesOwnReceiptsOnly(t *testing.T) {
	t.Parallel()
	sentAt := t0.Add(-10 * time.Minute)
	ref := store.BatchRef{Job: "j1", Batch: 3}
	st := &lookupStore{batch: store.AwaitingBatch{BatchRef: ref, App: testApp, Attempt: 1, SentAt: sentAt, Round: 1,
		Numbers: []store.UnknownNumber{{Index: 0, Number: testNumbers[0]}, {Index: 1, Number: testNumbers[1]}}}}
	st.refs = map[string]store.SerialRef{
		"own-0":   {BatchRef: ref, Index: 0},
		"other-0": {BatchRef: store.BatchRef{Job: "j0", Batch: 0}, Index: 5}, // an earlier job's send
	}
	snd := &fakeSender{}
	throttled := true
	snd.PullByPhoneFunc = func(_ context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error) {
		switch r.PhoneNumber {
		case testNumbers[0]:
			return []tencentsms.Receipt{
				{SerialNo: "other-0", PhoneNumber: r.PhoneNumber, ReportStatus: "SUCCESS"},
				{SerialNo: "own-0", PhoneNumber: r.PhoneNumber, ReportStatus: "FAIL"},
				{SerialNo: "unknown", PhoneNumber: r.PhoneNumber, ReportStatus: "SUCCESS"}, // not ours: no tie
			}, nil
		default:
			if throttled {
				throttled = false
				return nil, &tencentsms.Error{Code: "RequestLimitExceeded"}
			}
			return []tencentsms.Receipt{
				{SerialNo: "unindexed", PhoneNumber: r.PhoneNumber, ReportStatus: "SUCCESS",
					SessionContext: store.SessionContext("j1", 3, 1)},
				{SerialNo: "pending", PhoneNumber: r.PhoneNumber, SessionContext: store.SessionContext("j1", 3, 1)}, // no report yet
			}, nil
		}
	}
	lim := &fakeLimiter{}
	l, err := NewReceiptLookup(ReceiptLookupConfig{Store: st, Puller: snd, Limiter: lim, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *tencentsms.Error
	if err := l.LookupOnce(context.Background()); !errors.As(err, &apiErr) {
		t.Fatalf("first run = %v, want the throttling error", err)
	}
	if err := l.LookupOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(snd.byPhone) != 3 || lim.waits != 3 {
		t.Errorf("%d lookups, %d limiter grants; want 3 each (number 1 twice: throttled)", len(snd.byPhone), lim.waits)
	}
	if r := snd.byPhone[0]; r.AppID != testApp || !r.Begin.Equal(sentAt.Add(-DefaultEvidenceSlack)) || !r.End.Equal(t0) {
		t.Errorf("lookup request = %+v", r)
	}
	var serials []string
	for _, p := range st.pages {
		for _, r := range p {
			serials = append(serials, r.SerialNo)
		}
	}
	if !slices.Equal(serials, []string{"own-0", "unindexed"}) {
		t.Errorf("applied receipts %v, want own-0 and unindexed", serials)
	}
	want := []store.LookupMark{{Round: 1, Next: 1}, {Round: 1, Next: 2},
		{Round: 1, Done: true, NextDue: sentAt.Add(4 * DefaultReceiptLookupAge)}}
	if !slices.Equal(st.marks, want) {
		t.Errorf("marks = %+v, want %+v", st.marks, want)
	}
}

// A puller killed between a pull's reply and the save leaves its pull mark: the next holder of
// the pull lease records a suspected loss, and the numbers sent before it are looked up once
// ReceiptLossGrace has passed, not after the whole lookup age.
func TestIntegrationLeftPullMarkLooksUpSoon(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		it := newITest(t, db, nil)
		job := it.createJob(t, tasks.PriorityBulk, 250, 200)
		for batch := range 2 {
			if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
				t.Fatal(err)
			}
		}
		it.clock.Add(3 * time.Second)
		// The dead puller marked its pull, pulled the first page and died before saving it.
		if err := it.st.MarkPull(it.ctx, it.app, "p-dead", it.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := it.client.PullSendStatus(it.ctx, it.app, tencentsms.MaxPullLimit); err != nil {
			t.Fatal(err)
		}
		if err := it.newPuller(t, "p2").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if loss, err := it.st.ReceiptLossSuspected(it.ctx); err != nil || loss.IsZero() {
			t.Fatalf("ReceiptLossSuspected = %v, %v; want the dead pull's time", loss, err)
		}
		l, cl := it.newLookup(t, 0)
		if err := l.LookupOnce(it.ctx); err != nil || cl.calls != 0 {
			t.Fatalf("%d lookups within the grace (%v)", cl.calls, err)
		}
		it.clock.Add(ReceiptLossGrace)
		if err := l.LookupOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		st := it.status(t, job)
		if st.Delivered+st.Undelivered != 250 || st.State != store.StateDone || cl.calls != 100 {
			t.Errorf("after the lookups: %+v with %d lookups; want 250 receipts, done, 100 lookups", st, cl.calls)
		}
		// A puller that saves its pages leaves no mark.
		if _, ok, err := it.st.TakePullMark(it.ctx, it.app); err != nil || ok {
			t.Errorf("TakePullMark after clean pulls = %v, %v; want none", ok, err)
		}
	})
}
