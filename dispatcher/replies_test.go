package dispatcher

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// replyWorld is a sandbox with a Tencent client and a ReplyLoop over a fake store.
type replyWorld struct {
	sb     *sandbox.Server
	client *tencentsms.Client
	supp   *fakeSuppressionAdder
	lim    *fakeLimiter
	loop   *ReplyLoop
}

func newReplyWorld(t *testing.T, keywords []string) *replyWorld {
	t.Helper()
	cfg := sandbox.DefaultConfig()
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); _ = sb.Close() })
	client, err := tencentsms.New(tencentsms.Config{SecretID: cfg.SecretID, SecretKey: cfg.SecretKey, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	w := &replyWorld{sb: sb, client: client, supp: &fakeSuppressionAdder{}, lim: &fakeLimiter{}}
	w.loop, err = NewReplyLoop(ReplyLoopConfig{Store: &fakeStore{}, Puller: client, Suppressor: w.supp, Limiter: w.lim,
		Apps: []string{cfg.AppID}, Keywords: keywords, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *replyWorld) inject(t *testing.T, replies ...[2]string) {
	t.Helper()
	for _, r := range replies {
		if err := w.sb.InjectReply(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplyPullSuppresses: pulled unsubscribe replies suppress their numbers with the reply as
// the reason, others do not; every pull waits on the limiter.
func TestReplyPullSuppresses(t *testing.T) {
	t.Parallel()
	w := newReplyWorld(t, nil)
	w.inject(t, [2]string{"+8613800000001", "TD"}, [2]string{"+8613800000002", "who is this?"},
		[2]string{"+14155550100", " stop "}, [2]string{"+8613800000003", "td"})
	if err := w.loop.PullOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := w.supp.got()
	want := []suppressCall{{[]string{"+8613800000001"}, "TD"}, {[]string{"+14155550100"}, "stop"}, {[]string{"+8613800000003"}, "td"}}
	if len(got) != len(want) {
		t.Fatalf("Suppress calls = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].reason != want[i].reason || !slices.Equal(got[i].numbers, want[i].numbers) {
			t.Fatalf("Suppress calls = %v, want %v", got, want)
		}
	}
	if w.sb.PendingReplies() != 0 || w.lim.waits == 0 {
		t.Fatalf("pending %d, limiter waits %d", w.sb.PendingReplies(), w.lim.waits)
	}
}

// TestReplyPullKeepsUnhandled: replies pulled while the suppression list fails are kept and
// handled first on the next run, before anything more is pulled.
func TestReplyPullKeepsUnhandled(t *testing.T) {
	t.Parallel()
	w := newReplyWorld(t, []string{"ARRET"})
	w.inject(t, [2]string{"+33612345678", "arret"})
	w.supp.Err = errors.New("redis down")
	if err := w.loop.PullOnce(context.Background()); err == nil {
		t.Fatal("PullOnce with the suppression list down: no error")
	}
	if w.sb.PendingReplies() != 0 {
		t.Fatal("the reply was not pulled")
	}
	w.inject(t, [2]string{"+8613800000001", "TD"}) // not a keyword here
	w.supp.mu.Lock()
	w.supp.Err = nil
	w.supp.mu.Unlock()
	if err := w.loop.PullOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := w.supp.got()
	if len(got) != 1 || got[0].reason != "arret" || got[0].numbers[0] != "+33612345678" {
		t.Fatalf("Suppress calls = %v, want the kept reply only", got)
	}
	if len(w.loop.heldReplies()) != 0 {
		t.Fatal("replies still held")
	}
}

// TestReplyPullRefusedApp: an app whose pull Tencent refuses is left alone for DisabledRecheck.
func TestReplyPullRefusedApp(t *testing.T) {
	t.Parallel()
	clock := t0
	calls := 0
	puller := replyPullerFunc(func(context.Context, string, int) ([]tencentsms.Reply, error) {
		calls++
		return nil, &tencentsms.Error{Code: "UnauthorizedOperation.RequestPermissionDeny"}
	})
	loop, err := NewReplyLoop(ReplyLoopConfig{Store: &fakeStore{}, Puller: puller, Suppressor: &fakeSuppressionAdder{},
		Limiter: &fakeLimiter{}, Apps: []string{"1400000000"}, DisabledRecheck: time.Hour, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := loop.PullOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d pulls within the hour, want 1", calls)
	}
	clock = clock.Add(time.Hour)
	if err := loop.PullOnce(context.Background()); err != nil || calls != 2 {
		t.Fatalf("after the hour: %v, %d pulls, want 2", err, calls)
	}
}

type replyPullerFunc func(ctx context.Context, app string, limit int) ([]tencentsms.Reply, error)

func (f replyPullerFunc) PullSmsReplyStatus(ctx context.Context, app string, limit int) ([]tencentsms.Reply, error) {
	return f(ctx, app, limit)
}
