package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

const testToken = "s3cret-callback-token"

// fakeSuppressionAdder records Suppress calls; Err, when set, fails them.
type fakeSuppressionAdder struct {
	mu    sync.Mutex
	calls []suppressCall
	Err   error
}

type suppressCall struct {
	numbers []string
	reason  string
}

func (f *fakeSuppressionAdder) Suppress(_ context.Context, numbers []string, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.calls = append(f.calls, suppressCall{append([]string(nil), numbers...), reason})
	return nil
}

func (f *fakeSuppressionAdder) got() []suppressCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]suppressCall(nil), f.calls...)
}

// callbackServer serves cfg's callbacks over a real HTTP server.
func callbackServer(t *testing.T, cfg CallbackConfig) *httptest.Server {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.App == "" {
		cfg.App = "1400000000"
	}
	if cfg.Suppressor == nil {
		cfg.Suppressor = &fakeSuppressionAdder{}
	}
	cfg.Logger = zaptest.NewLogger(t)
	cb, err := NewCallbacks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	cb.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// post POSTs body to url and returns the status code and the decoded answer.
func post(t *testing.T, url string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var ans map[string]any
	_ = json.Unmarshal(b, &ans)
	return resp.StatusCode, ans
}

// callbackBody renders sandbox receipts as Tencent's status callback.
func callbackBody(t *testing.T, rs []sandbox.Receipt) []byte {
	t.Helper()
	items := make([]sandbox.CallbackItem, len(rs))
	for i, r := range rs {
		items[i] = sandbox.CallbackItem{
			UserReceiveTime: r.ReceivedAt.In(beijing.Time).Format(callbackTime), NationCode: r.CountryCode,
			Mobile: r.SubscriberNumber, ReportStatus: r.ReportStatus, ErrMsg: r.ErrMsg, Description: r.Description,
			SID: r.SerialNo, Ext: json.RawMessage(`""`),
		}
	}
	b, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const goodStatusBody = `[{"user_receive_time":"2026-01-05 12:00:01","nationcode":"86","mobile":"13800000001",` +
	`"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户接收成功","sid":"2640:1","ext":""}]`

// TestStatusCallbackRefusals: a wrong token is 404, a malformed body 400, an oversized one 413,
// a non-POST 405; none of them reaches the store. A good body is saved, applied and answered as
// Tencent expects.
func TestStatusCallbackRefusals(t *testing.T) {
	t.Parallel()
	st, mem := &fakeStore{}, newMemReceipts()
	mem.install(st)
	srv := callbackServer(t, CallbackConfig{Store: st, MaxBodyBytes: 4 << 10})
	url := srv.URL + "/callback/status/" + testToken

	cases := []struct {
		name, url, body string
		want            int
	}{
		{"wrong token", srv.URL + "/callback/status/" + testToken + "x", goodStatusBody, http.StatusNotFound},
		{"token prefix", srv.URL + "/callback/status/s3cret", goodStatusBody, http.StatusNotFound},
		{"no token", srv.URL + "/callback/status/", goodStatusBody, http.StatusNotFound},
		{"not json", url, `hello`, http.StatusBadRequest},
		{"null", url, `null`, http.StatusBadRequest},
		{"object", url, `{"sid":"1"}`, http.StatusBadRequest},
		{"truncated", url, goodStatusBody[:40], http.StatusBadRequest},
		{"no sid", url, strings.Replace(goodStatusBody, `"sid":"2640:1"`, `"sid":""`, 1), http.StatusBadRequest},
		{"bad status", url, strings.Replace(goodStatusBody, "SUCCESS", "MAYBE", 1), http.StatusBadRequest},
		{"bad time", url, strings.Replace(goodStatusBody, "2026-01-05 12:00:01", "yesterday", 1), http.StatusBadRequest},
		{"bad mobile", url, strings.Replace(goodStatusBody, "13800000001", "138-0000", 1), http.StatusBadRequest},
		{"number as number", url, strings.Replace(goodStatusBody, `"13800000001"`, `13800000001`, 1), http.StatusBadRequest},
		{"one bad item spoils the body", url, `[` + goodStatusBody[1:len(goodStatusBody)-1] + `,{"sid":"x"}]`, http.StatusBadRequest},
		{"oversized", url, `[` + strings.Repeat(" ", 5<<10) + `]`, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		code, _ := post(t, tc.url, []byte(tc.body))
		if code != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, code, tc.want)
		}
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v, want 405", resp, err)
	} else {
		resp.Body.Close()
	}
	if n := st.count("SaveReceiptPage") + st.count("ApplyReceiptPage"); n != 0 {
		t.Fatalf("refused callbacks reached the store %d times", n)
	}

	code, ans := post(t, url, []byte(goodStatusBody))
	if code != http.StatusOK || ans["result"] != float64(0) || ans["errmsg"] != "OK" {
		t.Fatalf("good body: HTTP %d %v, want 200 {result:0, errmsg:OK}", code, ans)
	}
	if mem.applied["2640:1"] != 1 || len(mem.pages) != 0 {
		t.Fatalf("applied %v, pages left %d", mem.applied, len(mem.pages))
	}
	// An empty push is acknowledged and stores nothing.
	saves := st.count("SaveReceiptPage")
	if code, _ := post(t, url, []byte(`[]`)); code != http.StatusOK || st.count("SaveReceiptPage") != saves {
		t.Fatalf("empty push: HTTP %d, saves %d -> %d", code, saves, st.count("SaveReceiptPage"))
	}
}

// TestStatusCallbackStoreFailures: a page that cannot be saved is answered 503 (Tencent pushes it
// again); one saved but not applied is acknowledged, as the puller applies it.
func TestStatusCallbackStoreFailures(t *testing.T) {
	t.Parallel()
	st, mem := &fakeStore{}, newMemReceipts()
	mem.install(st)
	save := st.SaveReceiptPageFunc
	st.SaveReceiptPageFunc = func(context.Context, string, []store.Receipt) (string, error) {
		return "", errors.New("redis down")
	}
	srv := callbackServer(t, CallbackConfig{Store: st})
	url := srv.URL + "/callback/status/" + testToken
	if code, ans := post(t, url, []byte(goodStatusBody)); code != http.StatusServiceUnavailable || ans["result"] == float64(0) {
		t.Fatalf("save failing: HTTP %d %v, want 503 and a non-zero result", code, ans)
	}
	st.SaveReceiptPageFunc = save
	mem.failApply = 1
	if code, _ := post(t, url, []byte(goodStatusBody)); code != http.StatusOK {
		t.Fatalf("apply failing after the save: HTTP %d, want 200", code)
	}
	if len(mem.pages) != 1 {
		t.Fatalf("%d pages saved for the puller, want 1", len(mem.pages))
	}
}

// TestIntegrationCallbackAndPullCountOnce: the sandbox pushes every receipt to the worker's
// callback, then the puller pulls the same receipts, then a push is repeated: each receipt
// changes its number once, and wrong-token or malformed pushes change nothing.
func TestIntegrationCallbackAndPullCountOnce(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		var handler atomic.Pointer[http.Handler]
		var bodies struct {
			sync.Mutex
			b [][]byte
		}
		front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			bodies.Lock()
			bodies.b = append(bodies.b, b)
			bodies.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
			(*handler.Load()).ServeHTTP(rw, r)
		}))
		t.Cleanup(front.Close)
		it := newITest(t, db, func(c *sandbox.Config) {
			c.CallbackURL = front.URL + "/callback/status/" + testToken
			c.CallbackRetryInterval = time.Millisecond
		})
		cb, err := NewCallbacks(CallbackConfig{Store: it.st, Suppressor: &fakeSuppressionAdder{}, Token: testToken, App: it.app,
			Logger: zaptest.NewLogger(t), Now: it.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		cb.Register(mux)
		var h http.Handler = mux
		handler.Store(&h)

		job := it.createJob(t, tasks.PriorityNormal, 150, 100)
		for batch := range 2 {
			if err := it.send.ProcessTask(it.ctx, it.sendTask(t, job, batch)); err != nil {
				t.Fatal(err)
			}
		}
		// Before any receipt is ready: a wrong token and a malformed body, with real receipts.
		var rs []sandbox.Receipt
		for _, n := range it.numbers[:10] {
			rs = append(rs, it.sb.ReceiptsFor(n)...)
		}
		body := callbackBody(t, rs)
		if code, _ := post(t, front.URL+"/callback/status/wrong-token", body); code != http.StatusNotFound {
			t.Fatalf("wrong token: HTTP %d", code)
		}
		bad := append([]byte(nil), body[:len(body)-1]...)
		if code, _ := post(t, front.URL+"/callback/status/"+testToken, bad); code != http.StatusBadRequest {
			t.Fatalf("malformed: HTTP %d", code)
		}
		if st := it.status(t, job); st.Delivered+st.Undelivered != 0 {
			t.Fatalf("refused pushes changed the job: %+v", st)
		}

		bodies.Lock()
		bodies.b = nil // from here on, only the sandbox's pushes
		bodies.Unlock()

		it.clock.Add(3 * time.Second)
		ctx, cancel := context.WithTimeout(it.ctx, 30*time.Second)
		defer cancel()
		if err := it.sb.FlushCallbacks(ctx); err != nil {
			t.Fatal(err)
		}
		if s := it.sb.Stats(); s.CallbackItems != 150 || s.CallbackItemsFailed != 0 {
			t.Fatalf("sandbox pushed %d receipts (%d given up), want 150 acknowledged", s.CallbackItems, s.CallbackItemsFailed)
		}
		pushed := it.status(t, job)
		if pushed.Delivered+pushed.Undelivered != 150 || pushed.Undelivered == 0 || pushed.Delivered == 0 {
			t.Fatalf("after the push: %+v, want all 150 receipts applied", pushed)
		}
		// The same receipts by pull: nothing changes.
		if err := it.newPuller(t, "p1").PullOnce(it.ctx); err != nil {
			t.Fatal(err)
		}
		if got := it.sb.Stats().ReceiptsPulled; got != 150 {
			t.Fatalf("pulled %d receipts, want the same 150 again", got)
		}
		if got := it.status(t, job); got.Delivered != pushed.Delivered || got.Undelivered != pushed.Undelivered {
			t.Fatalf("after the pull: %+v, want the push's counts %+v", got, pushed)
		}
		// Every push again (Tencent retries), and the hand-made body: nothing changes.
		bodies.Lock()
		again := append([][]byte{body}, bodies.b...)
		bodies.Unlock()
		for _, b := range again {
			if code, _ := post(t, front.URL+"/callback/status/"+testToken, b); code != http.StatusOK {
				t.Fatalf("repeated push: HTTP %d", code)
			}
		}
		if got := it.status(t, job); got.Delivered != pushed.Delivered || got.Undelivered != pushed.Undelivered {
			t.Fatalf("after repeated pushes: %+v, want %+v", got, pushed)
		}
		if n, _ := it.st.UnmatchedCount(it.ctx, it.app); n != 0 {
			t.Errorf("unmatched = %d, want 0", n)
		}
		if pages, _ := it.st.SavedReceiptPages(it.ctx, it.app); len(pages) != 0 {
			t.Errorf("%d pages left saved", len(pages))
		}
		it.checkExactlyOnce(t)
	})
}

// TestReplyCallback: an unsubscribe reply suppresses its number with the reply as the reason;
// other replies do not; a malformed body or wrong token changes nothing; a failing suppression
// list is answered 503.
func TestReplyCallback(t *testing.T) {
	t.Parallel()
	supp := &fakeSuppressionAdder{}
	srv := callbackServer(t, CallbackConfig{Store: &fakeStore{}, Suppressor: supp})
	url := srv.URL + "/callback/reply/" + testToken
	reply := func(text string) []byte {
		b, _ := json.Marshal(map[string]any{"extend": "", "mobile": "13800000001", "nationcode": "86", "sign": "腾讯云",
			"text": text, "time": 1767225600})
		return b
	}
	for _, tc := range []struct {
		name, url string
		body      []byte
		want      int
	}{
		{"wrong token", srv.URL + "/callback/reply/nope", reply("TD"), http.StatusNotFound},
		{"malformed", url, []byte(`{"mobile":"13800000001","nationcode":"86","text":"TD","time":"soon"}`), http.StatusBadRequest},
		{"no number", url, []byte(`{"text":"TD"}`), http.StatusBadRequest},
		{"not json", url, []byte(`TD`), http.StatusBadRequest},
		{"not a keyword", url, reply("thanks, TD later"), http.StatusOK},
	} {
		if code, _ := post(t, tc.url, tc.body); code != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, code, tc.want)
		}
	}
	if got := supp.got(); len(got) != 0 {
		t.Fatalf("Suppress called %v", got)
	}
	if code, ans := post(t, url, reply("  td \n")); code != http.StatusOK || ans["result"] != float64(0) {
		t.Fatalf("unsubscribe: HTTP %d %v", code, ans)
	}
	want := []suppressCall{{[]string{"+8613800000001"}, "td"}}
	if got := supp.got(); len(got) != 1 || got[0].reason != want[0].reason || got[0].numbers[0] != want[0].numbers[0] || len(got[0].numbers) != 1 {
		t.Fatalf("Suppress calls = %v, want %v", got, want)
	}
	supp.mu.Lock()
	supp.Err = errors.New("redis down")
	supp.mu.Unlock()
	if code, _ := post(t, url, reply("STOP")); code != http.StatusServiceUnavailable {
		t.Fatalf("suppression failing: HTTP %d, want 503", code)
	}
}

// TestReplyKeywordsConfigurable: the keywords replace the defaults.
func TestReplyKeywordsConfigurable(t *testing.T) {
	t.Parallel()
	supp := &fakeSuppressionAdder{}
	srv := callbackServer(t, CallbackConfig{Store: &fakeStore{}, Suppressor: supp, Keywords: []string{"退订", "Halt"}})
	url := srv.URL + "/callback/reply/" + testToken
	for _, text := range []string{"TD", "STOP", "退订", "halt"} {
		body := `{"mobile":"4155550100","nationcode":"1","text":"` + text + `","time":"1767225600"}`
		if code, _ := post(t, url, []byte(body)); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", text, code)
		}
	}
	got := supp.got()
	if len(got) != 2 || got[0].reason != "退订" || got[1].reason != "halt" || got[0].numbers[0] != "+14155550100" {
		t.Fatalf("Suppress calls = %v, want 退订 and halt only", got)
	}
	if _, err := NewCallbacks(CallbackConfig{Store: &fakeStore{}, Suppressor: supp, Token: "t", App: "1",
		Keywords: []string{"two words"}}); err == nil {
		t.Fatal("a keyword with a space was accepted")
	}
}

// TestKeywordsMatch pins the matching rule: the whole reply, trimmed (ideographic spaces too),
// ignoring case.
func TestKeywordsMatch(t *testing.T) {
	t.Parallel()
	k, err := NewKeywords(DefaultUnsubscribeKeywords())
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]bool{
		"TD": true, "td": true, " T ": true, "n\n": true, "Stop": true, "unsubscribe": true, "QUIT\t": true,
		"\u3000TD\u3000": true, "TD please": false, "stopp": false, "": false, "NO": false, "T D": false,
	} {
		if got := k.Match(text); got != want {
			t.Errorf("Match(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestReplyCallbackFromSandbox: the sandbox's reply push (Tencent's format) reaches Suppress
// through the reply callback, with the reply as the reason.
func TestReplyCallbackFromSandbox(t *testing.T) {
	t.Parallel()
	supp := &fakeSuppressionAdder{}
	srv := callbackServer(t, CallbackConfig{Store: &fakeStore{}, Suppressor: supp})
	cfg := sandbox.DefaultConfig()
	cfg.ReplyCallbackURL = srv.URL + "/callback/reply/" + testToken
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	for _, r := range [][2]string{{"+8613800000001", "hi"}, {"+14155550100", "Unsubscribe"}} {
		if err := sb.InjectReply(r[0], r[1]); err != nil {
			t.Fatalf("push of %q refused: %v", r[1], err)
		}
	}
	got := supp.got()
	if len(got) != 1 || got[0].reason != "Unsubscribe" || len(got[0].numbers) != 1 || got[0].numbers[0] != "+14155550100" {
		t.Fatalf("Suppress calls = %v, want +14155550100 for Unsubscribe", got)
	}
}
