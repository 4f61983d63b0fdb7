package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// memReceipts is an in-memory receipt inbox with the store's semantics: saved pages stay until
// applied; applying counts each serial once.
type memReceipts struct {
	mu      sync.Mutex
	next    int
	pages   map[string][]store.Receipt
	applied map[string]int // serial -> times applied (must stay 1)
	// failApply makes the next n ApplyReceiptPage calls fail (a crash between save and apply).
	failApply int
}

func newMemReceipts() *memReceipts {
	return &memReceipts{pages: map[string][]store.Receipt{}, applied: map[string]int{}}
}

func (m *memReceipts) install(f *fakeStore) {
	f.SaveReceiptPageFunc = func(_ context.Context, _ string, page []store.Receipt) (string, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.next++
		id := fmt.Sprintf("p%04d", m.next)
		m.pages[id] = slices.Clone(page)
		return id, nil
	}
	f.SavedReceiptPagesFunc = func(context.Context, string) ([]store.SavedPage, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		var out []store.SavedPage
		for id, p := range m.pages {
			out = append(out, store.SavedPage{ID: id, Receipts: slices.Clone(p)})
		}
		slices.SortFunc(out, func(a, b store.SavedPage) int { return cmpString(a.ID, b.ID) })
		return out, nil
	}
	f.ApplyReceiptPageFunc = func(_ context.Context, _ string, p store.SavedPage) (store.ApplyStats, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.failApply > 0 {
			m.failApply--
			return store.ApplyStats{}, errors.New("crash before apply")
		}
		var st store.ApplyStats
		if _, ok := m.pages[p.ID]; !ok {
			st.Duplicate = len(p.Receipts)
			return st, nil
		}
		for _, r := range p.Receipts {
			if m.applied[r.SerialNo] > 0 {
				st.Duplicate++
				continue
			}
			m.applied[r.SerialNo]++
			st.Applied++
		}
		delete(m.pages, p.ID)
		return st, nil
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// receiptSource hands out n receipts, at most limit per pull, like a destructive read.
type receiptSource struct {
	mu   sync.Mutex
	left []tencentsms.Receipt
}

func newReceiptSource(n int) *receiptSource {
	s := &receiptSource{}
	for i := range n {
		s.left = append(s.left, tencentsms.Receipt{SerialNo: fmt.Sprintf("sn-%05d", i),
			PhoneNumber: fmt.Sprintf("+86138%08d", i), ReportStatus: tencentsms.ReportSuccess})
	}
	return s
}

func (s *receiptSource) pull(_ context.Context, _ string, limit int) ([]tencentsms.Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(limit, len(s.left))
	out := slices.Clone(s.left[:n])
	s.left = s.left[n:]
	return out, nil
}

func newTestPuller(t *testing.T, st *fakeStore, snd *fakeSender, apps ...string) *Puller {
	t.Helper()
	p, err := NewPuller(PullerConfig{Store: st, Puller: snd, Limiter: &fakeLimiter{}, Apps: apps, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPullerStopsAtShortPage(t *testing.T) {
	t.Parallel()
	st, snd, mem := &fakeStore{}, &fakeSender{}, newMemReceipts()
	mem.install(st)
	src := newReceiptSource(237)
	snd.PullFunc = src.pull
	p := newTestPuller(t, st, snd, testApp)
	if err := p.PullOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if snd.pulls != 3 {
		t.Errorf("pulls = %d, want 3 (100, 100, 37)", snd.pulls)
	}
	if len(mem.applied) != 237 || len(mem.pages) != 0 {
		t.Errorf("applied %d receipts, %d pages left", len(mem.applied), len(mem.pages))
	}
	if calls := st.called(); slices.Index(calls, "SaveReceiptPage") > slices.Index(calls, "ApplyReceiptPage") {
		t.Errorf("applied before saving: %v", calls)
	}
}

func TestPullerExactPagesEndOnEmptyPage(t *testing.T) {
	t.Parallel()
	st, snd, mem := &fakeStore{}, &fakeSender{}, newMemReceipts()
	mem.install(st)
	snd.PullFunc = newReceiptSource(200).pull
	if err := newTestPuller(t, st, snd, testApp).PullOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if snd.pulls != 3 || len(mem.applied) != 200 {
		t.Errorf("pulls = %d, applied = %d; want 3 and 200", snd.pulls, len(mem.applied))
	}
}

func TestPullerCrashAfterSaveLosesNothing(t *testing.T) {
	t.Parallel()
	st, snd, mem := &fakeStore{}, &fakeSender{}, newMemReceipts()
	mem.install(st)
	src := newReceiptSource(150)
	snd.PullFunc = src.pull
	mem.failApply = 1 // the first page is saved, then the puller "crashes"
	p := newTestPuller(t, st, snd, testApp)
	if err := p.PullOnce(context.Background()); err == nil {
		t.Fatal("PullOnce = nil, want the apply error")
	}
	if len(mem.pages) != 1 || len(mem.applied) != 0 || snd.pulls != 1 {
		t.Fatalf("after the crash: %d pages saved, %d applied, %d pulls; want 1, 0, 1", len(mem.pages), len(mem.applied), snd.pulls)
	}
	// Another worker's puller (a new instance) takes over: the saved page first, then the rest.
	p2 := newTestPuller(t, st, snd, testApp)
	if err := p2.PullOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(mem.applied) != 150 || len(mem.pages) != 0 {
		t.Errorf("applied %d of 150, %d pages left", len(mem.applied), len(mem.pages))
	}
	for sn, n := range mem.applied {
		if n != 1 {
			t.Errorf("%s applied %d times", sn, n)
		}
	}
}

func TestPullerSkipsAppsLeasedElsewhere(t *testing.T) {
	t.Parallel()
	st, snd := &fakeStore{}, &fakeSender{}
	st.AppsFunc = func(context.Context) ([]string, error) { return []string{"1400000001"}, nil }
	var leased []string
	st.AcquireLeaseFunc = func(_ context.Context, name, _ string, ttl time.Duration) (bool, error) {
		leased = append(leased, name)
		return name == "pull:1400000001", nil
	}
	var pulledApps []string
	snd.PullFunc = func(_ context.Context, app string, _ int) ([]tencentsms.Receipt, error) {
		pulledApps = append(pulledApps, app)
		return nil, nil
	}
	if err := newTestPuller(t, st, snd, testApp).PullOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(leased, []string{"pull:1400000001", "pull:" + testApp}) {
		t.Errorf("leases asked = %v", leased)
	}
	if !slices.Equal(pulledApps, []string{"1400000001"}) {
		t.Errorf("pulled %v, want only the leased app", pulledApps)
	}
}

func TestPullerReportsAPossiblyLostPage(t *testing.T) {
	t.Parallel()
	st, snd := &fakeStore{}, &fakeSender{}
	snd.PullFunc = func(context.Context, string, int) ([]tencentsms.Receipt, error) {
		return nil, &tencentsms.TransportError{Sent: true, Err: errors.New("reset")}
	}
	err := newTestPuller(t, st, snd, testApp).PullOnce(context.Background())
	if !errors.Is(err, tencentsms.ErrOutcomeUnknown) {
		t.Errorf("PullOnce = %v, want the outcome-unknown error", err)
	}
}

func TestPullerSavesAfterContextEnds(t *testing.T) {
	t.Parallel()
	st, snd, mem := &fakeStore{}, &fakeSender{}, newMemReceipts()
	mem.install(st)
	ctx, cancel := context.WithCancel(context.Background())
	src := newReceiptSource(10)
	snd.PullFunc = func(ctx context.Context, app string, limit int) ([]tencentsms.Receipt, error) {
		cancel() // shutdown begins while the page is in flight
		return src.pull(ctx, app, limit)
	}
	if err := newTestPuller(t, st, snd, testApp).PullOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(mem.applied) != 10 {
		t.Errorf("applied %d of the 10 pulled receipts", len(mem.applied))
	}
	if err := st.ctxErrOf("SaveReceiptPage"); err != nil {
		t.Errorf("page saved on an ended context: %v", err)
	}
}

func TestPullerRunReleasesLeases(t *testing.T) {
	t.Parallel()
	st, snd := &fakeStore{}, &fakeSender{}
	ctx, cancel := context.WithCancel(context.Background())
	snd.PullFunc = func(context.Context, string, int) ([]tencentsms.Receipt, error) {
		cancel()
		return nil, nil
	}
	if err := newTestPuller(t, st, snd, testApp).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st.count("ReleaseLease") != 1 {
		t.Errorf("store calls = %v, want the lease released", st.called())
	}
}
