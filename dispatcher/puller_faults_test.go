package dispatcher

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// failingSaves makes the first n SaveReceiptPage calls of an installed memReceipts fail (Redis
// down), then lets them through.
type failingSaves struct {
	mu    sync.Mutex
	left  int // failures still to come
	tries int // every SaveReceiptPage call
}

func (f *failingSaves) install(st *fakeStore, n int) {
	f.left = n
	save := st.SaveReceiptPageFunc
	st.SaveReceiptPageFunc = func(ctx context.Context, app string, page []store.Receipt) (string, error) {
		f.mu.Lock()
		f.tries++
		fail := f.left > 0
		if fail {
			f.left--
		}
		f.mu.Unlock()
		if fail {
			return "", errors.New("redis: connection refused")
		}
		return save(ctx, app, page)
	}
}

func (f *failingSaves) failing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.left > 0
}

func newFaultPuller(t *testing.T, st *fakeStore, snd *fakeSender, now func() time.Time, apps ...string) *Puller {
	t.Helper()
	p, err := NewPuller(PullerConfig{Store: st, Puller: snd, Limiter: &fakeLimiter{}, Apps: apps, Now: now,
		SaveTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.backoff = time.Millisecond
	return p
}

// A Redis outage longer than any fixed number of tries: the pulled page is kept, nothing more is
// pulled meanwhile, and once Redis is back every receipt is applied once.
func TestPullerKeepsAnUnsavedPageAndStopsPulling(t *testing.T) {
	t.Parallel()
	st, snd, mem := &fakeStore{}, &fakeSender{}, newMemReceipts()
	mem.install(st)
	fails := &failingSaves{}
	fails.install(st, 25)
	src := newReceiptSource(150)
	var pullsWhileFailing int
	snd.PullFunc = func(ctx context.Context, app string, limit int) ([]tencentsms.Receipt, error) {
		if fails.failing() && snd.pulls > 1 {
			pullsWhileFailing++
		}
		return src.pull(ctx, app, limit)
	}
	p := newFaultPuller(t, st, snd, func() time.Time { return t0 }, testApp)
	runs := 0
	for ; runs < 1000 && len(mem.applied) < 150; runs++ {
		err := p.PullOnce(context.Background())
		if fails.failing() && err == nil {
			t.Fatal("PullOnce = nil while the page cannot be saved")
		}
	}
	if runs < 2 {
		t.Fatalf("the outage lasted %d runs; the test needs several", runs)
	}
	if pullsWhileFailing > 0 || snd.pulls != 2 {
		t.Errorf("%d pulls while a page was unsaved; %d pulls in all, want 2 (100 + 50)", pullsWhileFailing, snd.pulls)
	}
	if len(mem.applied) != 150 || len(mem.pages) != 0 {
		t.Fatalf("applied %d of 150 receipts, %d pages left (save tries: %d)", len(mem.applied), len(mem.pages), fails.tries)
	}
	for sn, n := range mem.applied {
		if n != 1 {
			t.Errorf("%s applied %d times", sn, n)
		}
	}
}

// Shutdown during an outage: Run tries once more after its context ends, on a context of its own.
func TestPullerRunSavesTheKeptPageWhenStopping(t *testing.T) {
	t.Parallel()
	st, snd, mem := &fakeStore{}, &fakeSender{}, newMemReceipts()
	mem.install(st)
	ctx, cancel := context.WithCancel(context.Background())
	save := st.SaveReceiptPageFunc
	st.SaveReceiptPageFunc = func(sctx context.Context, app string, page []store.Receipt) (string, error) {
		if ctx.Err() == nil {
			cancel() // shutdown begins while Redis is down
			return "", errors.New("redis: connection refused")
		}
		return save(sctx, app, page)
	}
	snd.PullFunc = newReceiptSource(10).pull
	if err := newFaultPuller(t, st, snd, func() time.Time { return t0 }, testApp).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(mem.applied) != 10 || snd.pulls != 1 {
		t.Errorf("applied %d of 10 receipts after %d pulls, want 10 after 1", len(mem.applied), snd.pulls)
	}
	if err := st.ctxErrOf("SaveReceiptPage"); err != nil {
		t.Errorf("page saved on an ended context: %v", err)
	}
}

// An app that answers SdkAppIdNotExist is not pulled again until MissingAppRecheck has passed;
// the others are pulled on every run.
func TestPullerSkipsAnAppThatDoesNotExist(t *testing.T) {
	t.Parallel()
	const missingApp = "1400000999"
	st, snd := &fakeStore{}, &fakeSender{}
	st.AppsFunc = func(context.Context) ([]string, error) { return []string{missingApp}, nil }
	var mu sync.Mutex
	var pulled []string
	snd.PullFunc = func(_ context.Context, app string, _ int) ([]tencentsms.Receipt, error) {
		mu.Lock()
		pulled = append(pulled, app)
		mu.Unlock()
		if app == missingApp {
			return nil, &tencentsms.Error{Action: "PullSmsSendStatus", Code: retry.CodeSdkAppIdNotExist}
		}
		return nil, nil
	}
	clock := redistest.NewClock(t0)
	p := newFaultPuller(t, st, snd, clock.Now, testApp)
	for range 3 {
		if err := p.PullOnce(context.Background()); err != nil {
			t.Fatalf("PullOnce = %v", err)
		}
		clock.Add(DefaultPullInterval)
	}
	if want := []string{missingApp, testApp, testApp, testApp}; !slices.Equal(pulled, want) {
		t.Errorf("pulled %v, want %v", pulled, want)
	}
	clock.Add(DefaultMissingAppRecheck)
	pulled = nil
	if err := p.PullOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{missingApp, testApp}; !slices.Equal(pulled, want) {
		t.Errorf("after the recheck time pulled %v, want %v", pulled, want)
	}
}
