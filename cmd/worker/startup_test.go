package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/worker"
)

// productionEnv is a production-shaped environment (credentials, an endpoint, an app) without
// REDIS_URL.
func productionEnv() map[string]string {
	return map[string]string{
		"TENCENTCLOUD_SECRET_ID":  sandbox.DefaultSecretID,
		"TENCENTCLOUD_SECRET_KEY": sandbox.DefaultSecretKey,
		"SMS_ENDPOINT":            "http://127.0.0.1:1", // nothing is sent in these tests
		"SMS_SDK_APP_ID":          sandbox.DefaultAppID,
		"SMS_SIGN_NAME":           sandbox.DefaultSignName,
	}
}

// runUntilStarted runs e.run and returns its error if it ends before the worker starts; a worker
// that starts is stopped and reported as started.
func runUntilStarted(t *testing.T, e runEnv, started <-chan *worker.Worker, args []string, env map[string]string) (err error, out string, didStart bool) {
	t.Helper()
	cancel, done := startRun(t, e, args, env)
	defer cancel()
	select {
	case r := <-done:
		return r.err, r.stderr.String(), false
	case <-started:
		cancel()
		r := <-done
		return r.err, r.stderr.String(), true
	case <-time.After(30 * time.Second):
		t.Fatal("run neither started nor ended")
	}
	return nil, "", false
}

// startRunOut is startRun that also returns the run's stderr while it runs.
func startRunOut(t *testing.T, e runEnv, args []string, env map[string]string) (cancel func(), done <-chan runResult, out *syncBuffer) {
	t.Helper()
	ctx, cancelCtx := context.WithCancel(context.Background())
	out = &syncBuffer{}
	ch := make(chan runResult, 1)
	go func() {
		err := e.run(ctx, append([]string{"--metrics-addr=127.0.0.1:0", "--shutdown-timeout=2s"}, args...), envOf(env), out)
		ch <- runResult{err, out}
	}()
	t.Cleanup(cancelCtx)
	return cancelCtx, ch, out
}

// TestEmbeddedRedisOnlyInSandbox: with credentials set, REDIS_URL unset and nothing answering on
// the local address, the worker must not serve an embedded Redis (it would send real SMS from a
// store that a restart wipes): it refuses to start, naming REDIS_URL, and nothing listens there.
func TestEmbeddedRedisOnlyInSandbox(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	e, started := testEnv(t, addr)
	err, out, didStart := runUntilStarted(t, e, started, nil, productionEnv())
	if didStart {
		t.Fatalf("worker started with credentials on an embedded Redis:\n%s", out)
	}
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err %v, want a refusal naming REDIS_URL and %s", err, addr)
	}
	if c := exitCode(err); c != 2 {
		t.Errorf("exit code %d, want 2 (configuration error)", c)
	}
	if strings.Contains(out, "EMBEDDED REDIS") {
		t.Errorf("embedded Redis announced:\n%s", out)
	}
	if answers(context.Background(), addr) {
		t.Errorf("something listens on %s after the refusal", addr)
	}
}

// TestRedisSettingsChecked: a Redis that may evict keys stops start-up with a message naming its
// policy; one without persistence starts with a warning; one with AOF starts without it.
func TestRedisSettingsChecked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     []string
		refused  string // "" = starts
		warns    bool
		viaLocal bool // REDIS_URL unset, the Redis on the local address
	}{
		{name: "allkeys-lru", args: []string{"--maxmemory-policy", "allkeys-lru"}, refused: "maxmemory-policy allkeys-lru"},
		{name: "volatile-lru via the local address", args: []string{"--maxmemory-policy", "volatile-lru"}, refused: "maxmemory-policy volatile-lru", viaLocal: true},
		{name: "no persistence", warns: true},
		{name: "aof", args: []string{"--appendonly", "yes"}},
		{name: "rdb", args: []string{"--save", "3600 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := redistest.StartServer(t, tc.args...)
			local := freeAddr(t)
			env := productionEnv()
			if tc.viaLocal {
				local = addr
			} else {
				env["REDIS_URL"] = "redis://" + addr + "/0"
			}
			e, started := testEnv(t, local)
			err, out, didStart := runUntilStarted(t, e, started, nil, env)
			if tc.refused != "" {
				if didStart {
					t.Fatalf("worker started on a Redis with %s:\n%s", tc.refused, out)
				}
				if err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), "noeviction") {
					t.Fatalf("err %v, want a refusal naming %q and noeviction", err, tc.refused)
				}
				if c := exitCode(err); c != 2 {
					t.Errorf("exit code %d, want 2 (configuration error)", c)
				}
				return
			}
			if !didStart || err != nil {
				t.Fatalf("did not start (%v):\n%s", err, out)
			}
			if got := strings.Contains(out, "redis persistence is off"); got != tc.warns {
				t.Errorf("persistence warning %v, want %v:\n%s", got, tc.warns, out)
			}
		})
	}
}

// TestRedisSettingsUnchecked: a Redis that refuses CONFIG and INFO (miniredis; a managed Redis
// with CONFIG renamed and INFO limited) is used, with a warning that its settings were not
// checked.
func TestRedisSettingsUnchecked(t *testing.T) {
	t.Parallel()
	env := productionEnv()
	env["REDIS_URL"] = redistest.Mini(t).URL
	e, started := testEnv(t, freeAddr(t))
	err, out, didStart := runUntilStarted(t, e, started, nil, env)
	if !didStart || err != nil {
		t.Fatalf("did not start (%v):\n%s", err, out)
	}
	if !strings.Contains(out, "cannot check the redis settings") {
		t.Errorf("no warning about unchecked settings:\n%s", out)
	}
}

var sandboxURLRe = regexp.MustCompile(`fake Tencent API at (http://127\.0\.0\.1:\d+)`)

// sandboxURLOf returns the sandbox URL a worker's banner names.
func sandboxURLOf(t *testing.T, out string) string {
	t.Helper()
	m := sandboxURLRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no sandbox URL in the banner:\n%s", out)
	}
	return m[1]
}

// waitOut waits until the run's stderr contains want.
func waitOut(t *testing.T, out interface{ String() string }, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := out.String()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr lacks %q after 30 s:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendAndWaitDelivered sends n one-number OTP jobs and waits until every one has its receipt.
func sendAndWaitDelivered(t *testing.T, redisAddr string, first, n int) {
	t.Helper()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	prod, err := client.New(rdb, client.Options{AppID: sandbox.DefaultAppID, SignName: sandbox.DefaultSignName})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := first; i < first+n; i++ {
		res, err := prod.Send(ctx, client.Request{
			TemplateID: sandbox.TemplateOTP, Params: []string{"123456", "5"}, Priority: "otp",
			Recipients: []client.Recipient{{Number: fmt.Sprintf("+86138%08d", i)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.JobID)
	}
	// Receipts come 2 s after the send and are pulled every 100 ms; the bound is generous.
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			st, err := prod.Status(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if st.Sent == 1 && st.Delivered+st.Undelivered == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s has no receipt after 60 s: %+v", id, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestTwoZeroSetupWorkers: a second zero-setup worker (on the first one's embedded Redis) sends
// through the first one's sandbox, so the one receipt puller brings every receipt: 20 jobs sent
// by both workers all get their receipts.
func TestTwoZeroSetupWorkers(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	args := []string{"--sms-status-pull-interval=100ms"}
	ea, startedA := testEnv(t, addr)
	cancelA, doneA, outA := startRunOut(t, ea, args, nil)
	waitStarted(t, startedA, doneA)
	urlA := sandboxURLOf(t, outA.String())

	eb, startedB := testEnv(t, addr)
	cancelB, doneB, outB := startRunOut(t, eb, args, nil)
	waitStarted(t, startedB, doneB)
	if strings.Contains(outB.String(), "EMBEDDED REDIS") {
		t.Fatalf("second worker serves its own Redis:\n%s", outB)
	}
	if got := sandboxURLOf(t, outB.String()); got != urlA {
		t.Errorf("second worker sends to %s, the first one's sandbox is %s:\n%s", got, urlA, outB)
	}
	if !strings.Contains(outB.String(), "another zero-setup worker") {
		t.Errorf("second worker does not say it shares the sandbox:\n%s", outB)
	}

	sendAndWaitDelivered(t, addr, 0, 20)
	stop(t, cancelB, doneB)
	stop(t, cancelA, doneA)
}

// TestExitCode: 0 for none and --help, 2 for configuration errors, 1 for the rest.
func TestExitCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{configError{flag.ErrHelp}, 0},
		{configError{errors.New("SMS_RATE_LIMIT: bad")}, 2},
		{fmt.Errorf("wrapped: %w", configError{errors.New("REDIS_URL: not set")}), 2},
		{&worker.ConfigError{Field: "RateLimit", Err: errors.New("must be positive")}, 2},
		{errors.New("REDIS_URL: redis://x does not answer"), 1},
	}
	for _, tc := range cases {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	// Settings errors from run are configuration errors.
	e, _ := testEnv(t, freeAddr(t))
	if err := e.run(context.Background(), nil, envOf(map[string]string{"SMS_RATE_LIMIT": "abc"}), io.Discard); exitCode(err) != 2 {
		t.Errorf("bad SMS_RATE_LIMIT: exit code %d (%v), want 2", exitCode(err), err)
	}
	if err := e.run(context.Background(), []string{"--no-such-flag"}, envOf(nil), io.Discard); exitCode(err) != 2 {
		t.Errorf("unknown flag: exit code %d (%v), want 2", exitCode(err), err)
	}
	if err := e.run(context.Background(), nil, envOf(map[string]string{"REDIS_URL": "redis://" + freeAddr(t) + "/0"}), io.Discard); exitCode(err) != 1 {
		t.Errorf("REDIS_URL not answering: exit code %d (%v), want 1", exitCode(err), err)
	}
}

// sharedRedis is a Redis two zero-setup workers share (REDIS_URL unset, a Redis answering on
// the local address), and a store over it.
func sharedRedis(t *testing.T) (*miniredis.Miniredis, *store.Store) {
	t.Helper()
	db := redistest.Mini(t)
	stopClock := runTTLClock(db.Mini, 20*time.Millisecond) // record TTLs run down with the clock
	t.Cleanup(stopClock)
	return db.Mini, store.New(db.Client, store.Options{})
}

// TestSandboxRecordDropped: a zero-setup worker records its sandbox while it runs and drops the
// record when it stops.
func TestSandboxRecordDropped(t *testing.T) {
	t.Parallel()
	mr, st := sharedRedis(t)
	e, started := testEnv(t, mr.Addr())
	cancel, done, out := startRunOut(t, e, nil, nil)
	waitStarted(t, started, done)
	rec, err := st.Sandbox(context.Background())
	if err != nil || rec.URL != sandboxURLOf(t, out.String()) || rec.AppID != sandbox.DefaultAppID {
		t.Fatalf("record %+v, %v; want this worker's sandbox", rec, err)
	}
	stop(t, cancel, done)
	if rec, err := st.Sandbox(context.Background()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record %+v, %v after the worker stopped; want none", rec, err)
	}
}

// TestStaleSandboxRecord: a record left by a worker killed with -9 (its sandbox does not answer)
// is replaced: the new zero-setup worker serves its own sandbox and records it.
func TestStaleSandboxRecord(t *testing.T) {
	t.Parallel()
	mr, st := sharedRedis(t)
	dead := store.SandboxRecord{URL: "http://" + freeAddr(t), AppID: sandbox.DefaultAppID, SignNames: []string{sandbox.DefaultSignName}, Owner: "dead"}
	if _, won, err := st.ClaimSandbox(context.Background(), dead, time.Hour); err != nil || !won {
		t.Fatal(won, err)
	}
	e, started := testEnv(t, mr.Addr())
	cancel, done, out := startRunOut(t, e, nil, nil)
	waitStarted(t, started, done)
	url := sandboxURLOf(t, out.String())
	if url == dead.URL && !sandboxAnswers(context.Background(), url) {
		t.Fatalf("worker sends to the dead sandbox %s", url)
	}
	if strings.Contains(out.String(), "another zero-setup worker") {
		t.Errorf("worker claims to share a dead sandbox:\n%s", out)
	}
	if rec, err := st.Sandbox(context.Background()); err != nil || rec.URL != url || rec.Owner == "dead" {
		t.Errorf("record %+v, %v; want this worker's sandbox %s", rec, err, url)
	}
	stop(t, cancel, done)
}

// TestSharedSandboxMismatch: a second zero-setup worker whose app or sign the first one's sandbox
// does not accept refuses to start, naming the setting.
func TestSharedSandboxMismatch(t *testing.T) {
	t.Parallel()
	mr, _ := sharedRedis(t)
	ea, startedA := testEnv(t, mr.Addr())
	cancelA, doneA, _ := startRunOut(t, ea, nil, nil)
	waitStarted(t, startedA, doneA)
	defer stop(t, cancelA, doneA)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SMS_SDK_APP_ID": "1400000099"}, "SMS_SDK_APP_ID: 1400000099"},
		{map[string]string{"SMS_SIGN_NAME": "Other"}, `SMS_SIGN_NAME: "Other"`},
	} {
		eb, startedB := testEnv(t, mr.Addr())
		err, out, didStart := runUntilStarted(t, eb, startedB, nil, tc.env)
		if didStart || err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "another zero-setup worker") {
			t.Errorf("env %v: started %v, err %v; want a refusal naming %q\n%s", tc.env, didStart, err, tc.want, out)
		}
		if exitCode(err) != 2 {
			t.Errorf("env %v: exit code %d, want 2", tc.env, exitCode(err))
		}
	}
}

// TestSharedSandboxTakeover: when the worker serving the shared sandbox stops, the worker using
// it serves a sandbox in its place at the same address, and its jobs still get their receipts.
func TestSharedSandboxTakeover(t *testing.T) {
	t.Parallel()
	mr, st := sharedRedis(t)
	args := []string{"--sms-status-pull-interval=100ms"}
	ea, startedA := testEnv(t, mr.Addr())
	ea.sandboxTTL = 300 * time.Millisecond
	cancelA, doneA, outA := startRunOut(t, ea, args, nil)
	waitStarted(t, startedA, doneA)
	urlA := sandboxURLOf(t, outA.String())

	eb, startedB := testEnv(t, mr.Addr())
	eb.sandboxTTL = 300 * time.Millisecond
	cancelB, doneB, outB := startRunOut(t, eb, args, nil)
	waitStarted(t, startedB, doneB)
	if got := sandboxURLOf(t, outB.String()); got != urlA {
		t.Fatalf("second worker sends to %s, not the first one's %s", got, urlA)
	}

	stop(t, cancelA, doneA)
	waitOut(t, outB, "this worker serves it now")
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := st.Sandbox(context.Background())
		if err == nil && rec.URL == urlA && sandboxAnswers(context.Background(), urlA) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sandbox recorded and answering at %s after the first worker stopped: %+v %v", urlA, rec, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sendAndWaitDelivered(t, mr.Addr(), 100, 3)
	stop(t, cancelB, doneB)
	if _, err := st.Sandbox(context.Background()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record still there after both workers stopped: %v", err)
	}
}
