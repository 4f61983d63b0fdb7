package worker

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
)

const testCallbackToken = "worker-callback-token-0123"

func httpPost(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCallbacksEndToEnd: the sandbox pushes its receipts to the worker's status callback while
// the worker also pulls them; every number counts one receipt. The callbacks are served on the
// metrics listener or on their own (CallbackAddr); a wrong token is 404 there; the reply pull
// takes the sandbox's replies.
func TestCallbacksEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("own-listener=%v", own), func(t *testing.T) {
			t.Parallel()
			redistest.Each(t, func(t *testing.T, db *redistest.DB) {
				// The sandbox pushes to a proxy that forwards to the worker once it listens.
				var target atomic.Pointer[httputil.ReverseProxy]
				front := http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					if p := target.Load(); p != nil {
						p.ServeHTTP(rw, r)
						return
					}
					http.Error(rw, "not yet", http.StatusServiceUnavailable)
				})}
				ln := listen(t)
				go func() { _ = front.Serve(ln) }()
				t.Cleanup(func() { _ = front.Close() })
				f := newFakeTencent(t, func(c *sandbox.Config) {
					c.CallbackURL = "http://" + ln.Addr().String() + "/callback/status/" + testCallbackToken
					c.CallbackRetryInterval = 50 * time.Millisecond
				})
				cfg := testConfig(db.Client, f)
				cfg.MetricsAddr = "127.0.0.1:0"
				cfg.CallbackToken = testCallbackToken
				if own {
					cfg.CallbackAddr = "127.0.0.1:0"
				}
				w := startWorker(t, cfg)
				if own == (w.CallbackAddr() == w.MetricsAddr()) || w.CallbackAddr() == "" {
					t.Fatalf("callback addr %q, metrics addr %q", w.CallbackAddr(), w.MetricsAddr())
				}
				u, _ := url.Parse("http://" + w.CallbackAddr())
				target.Store(httputil.NewSingleHostReverseProxy(u))

				base := "http://" + w.CallbackAddr()
				if code := httpPost(t, base+"/callback/status/not-the-token", "[]"); code != http.StatusNotFound {
					t.Fatalf("wrong token: HTTP %d", code)
				}
				if code := httpPost(t, base+"/callback/reply/"+testCallbackToken, "{"); code != http.StatusBadRequest {
					t.Fatalf("malformed reply: HTTP %d", code)
				}

				prod := newProducer(t, db.Client, cfg)
				var csv strings.Builder
				const n = 60
				for i := range n {
					fmt.Fprintf(&csv, "%s\n", number(300_000+i))
				}
				ctx := context.Background()
				res, err := prod.Send(ctx, client.Request{TemplateID: sandbox.TemplateNotice, Params: []string{"A"},
					Reader: strings.NewReader(csv.String())})
				if err != nil {
					t.Fatal(err)
				}
				st := waitFor(t, prod, res.JobID, 20*time.Second, "receipted", func(st store.Status) bool {
					return st.Sent == n && st.Delivered+st.Undelivered == n
				})
				fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				if err := f.sb.FlushCallbacks(fctx); err != nil {
					t.Fatal(err)
				}
				s := f.sb.Stats()
				if s.CallbackItems != n {
					t.Fatalf("the worker acknowledged %d pushed receipts, want %d (%+v)", s.CallbackItems, n, s)
				}
				if err := f.sb.InjectReply(number(300_000), "hello"); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(20 * time.Second)
				for f.sb.Stats().ReceiptsPulled < n || f.sb.PendingReplies() > 0 {
					if time.Now().After(deadline) {
						t.Fatalf("pulled %d receipts, %d replies left", f.sb.Stats().ReceiptsPulled, f.sb.PendingReplies())
					}
					time.Sleep(50 * time.Millisecond)
				}
				if got, err := prod.Status(ctx, res.JobID); err != nil || got.Delivered != st.Delivered || got.Undelivered != st.Undelivered {
					t.Fatalf("after push and pull: %+v, %v; want %+v", got, err, st)
				}
			})
		})
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
