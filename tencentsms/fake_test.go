package tencentsms_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

const (
	testSecretID  = "AKIDtest0000000000000000000000000000"
	testSecretKey = "s3cr3t-key-never-in-logs-0123456789"
	testRegion    = "ap-guangzhou"
	testAppID     = "1400006666"
)

// call is one request as the fake server received it.
type call struct {
	Action string
	Header http.Header
	Body   []byte
}

// decode unmarshals the request body into v (an SDK ...RequestParams).
func (c call) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(c.Body, v); err != nil {
		t.Errorf("fake: %s: decoding request body: %v", c.Action, err)
	}
}

// reply is the fake server's answer: Response is wrapped as {"Response": ...}
// (with a RequestId added to a map that lacks one); Raw, if set, is written
// verbatim instead.
type reply struct {
	Status   int
	Response map[string]any
	Raw      string
}

func ok(resp map[string]any) reply { return reply{Status: http.StatusOK, Response: resp} }

func apiError(status int, code, msg, requestID string) reply {
	return reply{Status: status, Response: map[string]any{
		"Error":     map[string]any{"Code": code, "Message": msg},
		"RequestId": requestID,
	}}
}

// fakeTencent is a small Tencent-shaped API server for tests. It checks the
// transport-level invariants on every request (POST, JSON, API version,
// region, a valid TC3 signature with the test key, no idempotency headers)
// and leaves the body to the test's handler.
type fakeTencent struct {
	t        *testing.T
	srv      *httptest.Server
	requests atomic.Int64
	handle   func(call) reply
	seq      atomic.Int64
}

func newFake(t *testing.T, handle func(call) reply) *fakeTencent {
	t.Helper()
	f := &fakeTencent{t: t, handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// url is the server's base URL, "http://127.0.0.1:port".
func (f *fakeTencent) url() string { return f.srv.URL }

func (f *fakeTencent) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("fake: reading body: %v", err)
		return
	}
	f.check(r, body)
	rep := f.handle(call{Action: r.Header.Get("X-TC-Action"), Header: r.Header.Clone(), Body: body})
	w.Header().Set("Content-Type", "application/json")
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	if rep.Raw != "" || rep.Response == nil {
		w.WriteHeader(status)
		io.WriteString(w, rep.Raw)
		return
	}
	if _, has := rep.Response["RequestId"]; !has {
		rep.Response["RequestId"] = fmt.Sprintf("req-%d", f.seq.Add(1))
	}
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(map[string]any{"Response": rep.Response}); err != nil {
		f.t.Errorf("fake: encoding reply: %v", err)
	}
}

func (f *fakeTencent) check(r *http.Request, body []byte) {
	t := f.t
	if r.Method != http.MethodPost {
		t.Errorf("fake: method %s, want POST", r.Method)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("fake: Content-Type %q", got)
	}
	if got := r.Header.Get("X-TC-Version"); got != "2021-01-11" {
		t.Errorf("fake: X-TC-Version %q", got)
	}
	if got := r.Header.Get("X-TC-Region"); got != testRegion {
		t.Errorf("fake: X-TC-Region %q", got)
	}
	for _, h := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
		if _, has := r.Header[http.CanonicalHeaderKey(h)]; has {
			t.Errorf("fake: request carries %s: net/http would replay it", h)
		}
	}
	if err := verifyTC3(r, body, testSecretID, testSecretKey); err != nil {
		t.Errorf("fake: %s: %v", r.Header.Get("X-TC-Action"), err)
	}
}

// verifyTC3 checks a TC3-HMAC-SHA256 signature the way Tencent documents it,
// to prove that the SDK was given our key and signs the Host we connect to.
func verifyTC3(r *http.Request, body []byte, id, key string) error {
	ts := r.Header.Get("X-TC-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad X-TC-Timestamp %q", ts)
	}
	date := time.Unix(sec, 0).UTC().Format("2006-01-02")
	scope := date + "/sms/tc3_request"
	payload := sha256.Sum256(body)
	canonical := "POST\n/\n\n" +
		"content-type:" + r.Header.Get("Content-Type") + "\nhost:" + r.Host + "\n\n" +
		"content-type;host\n" + hex.EncodeToString(payload[:])
	hashed := sha256.Sum256([]byte(canonical))
	toSign := "TC3-HMAC-SHA256\n" + ts + "\n" + scope + "\n" + hex.EncodeToString(hashed[:])
	mac := func(k []byte, s string) []byte {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	signing := mac(mac(mac([]byte("TC3"+key), date), "sms"), "tc3_request")
	want := "TC3-HMAC-SHA256 Credential=" + id + "/" + scope +
		", SignedHeaders=content-type;host, Signature=" + hex.EncodeToString(mac(signing, toSign))
	if got := r.Header.Get("Authorization"); got != want {
		return fmt.Errorf("bad Authorization %q, want %q", got, want)
	}
	return nil
}

// newClient returns a client for endpoint with test credentials, closed at
// the end of the test. mod may adjust the Config.
func newClient(t *testing.T, endpoint string, mod ...func(*tencentsms.Config)) *tencentsms.Client {
	t.Helper()
	cfg := tencentsms.Config{
		SecretID:  testSecretID,
		SecretKey: testSecretKey,
		Region:    testRegion,
		Endpoint:  endpoint,
		Timeout:   5 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := tencentsms.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedPort returns "http://127.0.0.1:port" for a port that was just
// listened on and closed, so that connecting is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// hangingServer reads each request completely, reports it on got, then
// answers nothing until the client goes away or the test ends. It counts
// requests.
func hangingServer(t *testing.T) (srvURL string, got <-chan struct{}, requests *atomic.Int64) {
	t.Helper()
	n := new(atomic.Int64)
	ch := make(chan struct{}, 16)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		ch <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // runs before srv.Close
	return srv.URL, ch, n
}

// hijackServer reads each request completely, then takes over the connection,
// writes raw (possibly nothing) and closes it. It counts requests.
func hijackServer(t *testing.T, raw string) (srvURL string, requests *atomic.Int64) {
	t.Helper()
	n := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if raw != "" {
			buf.WriteString(raw)
			buf.Flush()
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, n
}

func phoneNumbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+86138%08d", i)
	}
	return out
}

func sendReq(numbers ...string) tencentsms.SendRequest {
	return tencentsms.SendRequest{
		AppID:          testAppID,
		SignName:       "Tencent",
		TemplateID:     "449739",
		TemplateParams: []string{"1234", "5"},
		PhoneNumbers:   numbers,
	}
}

// noSecret fails the test if err's text contains the secret key.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testSecretKey) {
		t.Errorf("error text contains the secret key: %v", err)
	}
}
