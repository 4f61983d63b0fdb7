package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/worker"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of the logger and the banner.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address nothing listens on (never 127.0.0.1:6379).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// testEnv is a runEnv that never touches 127.0.0.1:6379 or :9000.
func testEnv(t *testing.T, redisAddr string) (runEnv, <-chan *worker.Worker) {
	started := make(chan *worker.Worker, 1)
	return runEnv{
		localRedisAddr: redisAddr,
		sandboxAddr:    "127.0.0.1:0",
		started:        func(w *worker.Worker) { started <- w },
	}, started
}

type runResult struct {
	err    error
	stderr *syncBuffer
}

// startRun runs e.run in the background; cancel ends it.
func startRun(t *testing.T, e runEnv, args []string, env map[string]string) (cancel func(), done <-chan runResult) {
	t.Helper()
	ctx, cancelCtx := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ch := make(chan runResult, 1)
	go func() {
		err := e.run(ctx, append([]string{"--metrics-addr=127.0.0.1:0", "--shutdown-timeout=2s"}, args...), envOf(env), out)
		ch <- runResult{err, out}
	}()
	return cancelCtx, ch
}

func waitStarted(t *testing.T, started <-chan *worker.Worker, done <-chan runResult) *worker.Worker {
	t.Helper()
	select {
	case w := <-started:
		return w
	case r := <-done:
		t.Fatalf("run ended before start: %v\n%s", r.err, r.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not start")
	}
	return nil
}

func stop(t *testing.T, cancel func(), done <-chan runResult) string {
	t.Helper()
	cancel()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("run: %v\n%s", r.err, r.stderr)
		}
		return r.stderr.String()
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestZeroSetup runs the program with no settings at all: it must serve an embedded Redis on the
// (test) local address, start the sandbox in-process, say both loudly, serve its HTTP endpoints and
// stop cleanly when ctx ends.
func TestZeroSetup(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	e, started := testEnv(t, addr)
	cancel, done := startRun(t, e, nil, nil)
	w := waitStarted(t, started, done)

	// enqueue can reach the embedded Redis at the local address.
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("embedded redis on %s: %v", addr, err)
	}
	// The README's second command: a producer enqueues an OTP into the embedded Redis, and the
	// worker sends it through the in-process sandbox.
	prod, err := client.New(rdb, client.Options{AppID: sandbox.DefaultAppID, SignName: sandbox.DefaultSignName})
	if err != nil {
		t.Fatal(err)
	}
	res, err := prod.Send(context.Background(), client.Request{
		TemplateID: sandbox.TemplateOTP, Params: []string{"123456", "5"}, Priority: "otp",
		Recipients: []client.Recipient{{Number: "+8613800000001"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := prod.Status(context.Background(), res.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OTP not sent in zero-setup mode: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}

	base := "http://" + w.MetricsAddr()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, base+path); code != 200 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d", code)
	}

	out := stop(t, cancel, done)
	for _, want := range []string{
		"SANDBOX MODE: no TENCENTCLOUD_SECRET_ID/SMS_ENDPOINT set; messages go to an in-process fake Tencent API at http://127.0.0.1:",
		"nothing is really sent",
		"EMBEDDED REDIS: REDIS_URL is unset and nothing answers on " + addr,
		"NOT DURABLE",
		`"level":"warn"`, // the log lines, besides the banners
		"worker stopped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	// The embedded Redis is gone with the worker.
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Error("embedded redis still answers after run returned")
	}
}

// TestLocalRedisAnswering: REDIS_URL unset but a Redis answers on the local address: it is used,
// and no embedded Redis is announced.
func TestLocalRedisAnswering(t *testing.T) {
	t.Parallel()
	mr := redistest.Mini(t).Mini
	e, started := testEnv(t, mr.Addr())
	cancel, done := startRun(t, e, nil, nil)
	waitStarted(t, started, done)
	// The worker registers its asynq servers in that Redis.
	deadline := time.Now().Add(10 * time.Second)
	for !mr.Exists("asynq:servers") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !mr.Exists("asynq:servers") {
		t.Error("worker registered no asynq server in the local redis")
	}
	out := stop(t, cancel, done)
	if strings.Contains(out, "EMBEDDED REDIS") {
		t.Errorf("embedded redis announced although %s answers:\n%s", mr.Addr(), out)
	}
	if !strings.Contains(out, "SANDBOX MODE") {
		t.Errorf("no sandbox banner:\n%s", out)
	}
}

// TestProductionShape: credentials, an endpoint and REDIS_URL given: neither banner.
func TestProductionShape(t *testing.T) {
	t.Parallel()
	e, started := testEnv(t, freeAddr(t))
	cancel, done := startRun(t, e, nil, map[string]string{
		"REDIS_URL":               redistest.Mini(t).URL,
		"TENCENTCLOUD_SECRET_ID":  "AKIDsandbox000000000000000000000000",
		"TENCENTCLOUD_SECRET_KEY": "sandbox-secret-key",
		"SMS_ENDPOINT":            "http://" + freeAddr(t),
		"SMS_SDK_APP_ID":          "1400000000",
		"SMS_SIGN_NAME":           "Sandbox",
	})
	waitStarted(t, started, done)
	out := stop(t, cancel, done)
	if strings.Contains(out, "SANDBOX MODE") || strings.Contains(out, "EMBEDDED REDIS") {
		t.Errorf("zero-setup banner in production shape:\n%s", out)
	}
}

// TestStartupErrors: bad settings stop start-up with a message naming them, before anything runs.
func TestStartupErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env: map[string]string{"SMS_RATE_LIMIT": "abc"}, want: `SMS_RATE_LIMIT: "abc" is not a positive integer`},
		{env: map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDx", "TENCENTCLOUD_SECRET_KEY": "k"}, want: "SMS_SDK_APP_ID: required"},
		{args: []string{"--worker-concurrency=0"}, want: `--worker-concurrency: "0" is not a positive integer`},
		// A REDIS_URL that is set but does not answer is an error (no fallback to the embedded one).
		{env: map[string]string{"REDIS_URL": "redis://" + freeAddr(t) + "/0"}, want: "does not answer"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			e, _ := testEnv(t, freeAddr(t))
			err := e.run(context.Background(), tc.args, envOf(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("env %v args %v: err %v, want %q", tc.env, tc.args, err, tc.want)
			}
		})
	}
}

// TestTTLClock: the embedded Redis's TTLs run down with the wall clock.
func TestTTLClock(t *testing.T) {
	t.Parallel()
	mr := redistest.Mini(t).Mini
	stopClock := runTTLClock(mr, 10*time.Millisecond)
	defer stopClock()
	mr.Set("lease", "owner")
	mr.SetTTL("lease", 200*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for mr.Exists("lease") {
		if time.Now().After(deadline) {
			t.Fatal("key with a 200 ms TTL still there after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
