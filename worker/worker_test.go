package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smsdispatch/smsdispatch/dispatcher"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLifecycle: Start serves the HTTP endpoints and registers both asynq servers; /readyz follows
// Redis; Shutdown stops everything, leaves the shared Redis client open, and is idempotent.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	mr := redistest.Mini(t).Mini
	// A client of its own that does not retry: /readyz must see the LOADING error set below.
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	f := newFakeTencent(t, nil)
	cfg := testConfig(rdb, f)
	cfg.MetricsAddr = "127.0.0.1:0"
	w, err := New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.MetricsAddr() != "" {
		t.Errorf("MetricsAddr before Start = %q", w.MetricsAddr())
	}
	ctx := context.Background()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); !errors.Is(err, ErrState) {
		t.Errorf("second Start: %v, want ErrState", err)
	}
	// Producers learn the default app from Redis.
	if d, err := store.New(rdb, store.Options{}).AdvertisedDefaults(ctx); err != nil || d.AppID != cfg.AppID || d.SignName != cfg.SignName {
		t.Errorf("advertised defaults = %+v, %v; want app %s sign %s", d, err, cfg.AppID, cfg.SignName)
	}
	base := "http://" + w.MetricsAddr()
	if code, body := httpGet(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}
	code, body := httpGet(t, base+"/metrics")
	for _, name := range []string{"go_goroutines", "smsdispatch_sendsms_duration_seconds", "smsdispatch_lost_claims_total"} {
		if code != 200 || !strings.Contains(body, name) {
			t.Errorf("/metrics (%d) lacks %s", code, name)
		}
	}
	// Three asynq servers: otp, main (normal and bulk) and maint, so that reconcile tasks never
	// take a slot that sends.
	deadline := time.Now().Add(10 * time.Second)
	for {
		servers, _ := asynq.NewInspectorFromRedisClient(rdb).Servers()
		if len(servers) == 3 {
			var got []string
			for _, s := range servers {
				got = append(got, fmt.Sprint(s.Queues))
			}
			slices.Sort(got)
			want := []string{
				fmt.Sprint(map[string]int{tasks.QueueNormal: WeightNormal, tasks.QueueBulk: WeightBulk}),
				fmt.Sprint(map[string]int{tasks.QueueMaint: 1}),
				fmt.Sprint(map[string]int{tasks.QueueOTP: 1}),
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("server queues = %v, want %v", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("asynq servers registered: %d, want 3", len(servers))
		}
		time.Sleep(50 * time.Millisecond)
	}

	mr.SetError("LOADING Redis is loading the dataset in memory")
	if code, _ := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis failing: %d, want 503", code)
	}
	mr.SetError("")

	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Shutdown(sctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := w.Start(ctx); !errors.Is(err, ErrState) {
		t.Errorf("Start after Shutdown: %v, want ErrState", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("HTTP still served after Shutdown")
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Errorf("shared Redis client closed by Shutdown: %v", err)
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	t.Parallel()
	f := newFakeTencent(t, nil)
	w, err := New(testConfig(validConfig(t).Redis, f), testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); !errors.Is(err, ErrState) {
		t.Errorf("Start after Shutdown: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	c := validConfig(t)
	c.AppID = ""
	_, err := New(c, zap.NewNop(), nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "AppID" {
		t.Fatalf("err = %v, want ConfigError for AppID", err)
	}
	if _, err := New(validConfig(t), nil, nil); err == nil {
		t.Fatal("nil logger accepted")
	}
	c = validConfig(t)
	c.Tencent.Endpoint = "ftp://x"
	if _, err := New(c, zap.NewNop(), nil); err == nil || !strings.Contains(err.Error(), "Endpoint") {
		t.Fatalf("bad endpoint: %v", err)
	}
}

// TestMetricsAddrTaken: Start fails, naming the address, when the HTTP port is taken.
func TestMetricsAddrTaken(t *testing.T) {
	t.Parallel()
	f := newFakeTencent(t, nil)
	cfg := testConfig(validConfig(t).Redis, f)
	cfg.MetricsAddr = f.srv.Listener.Addr().String()
	w, err := New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err == nil || !strings.Contains(err.Error(), cfg.MetricsAddr) {
		t.Fatalf("Start on a taken port: %v", err)
	}
	_ = w.Shutdown(context.Background())
}

// TestErrorHandlerLevels: the error handler logs each failure once, at a level by who must act.
func TestErrorHandlerLevels(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	f := newFakeTencent(t, nil)
	w, err := New(testConfig(validConfig(t).Redis, f), zap.New(core), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(context.Background())
	cases := []struct {
		name    string
		retried int
		err     error
		level   zapcore.Level
		msg     string
	}{
		{"wait", 0, &dispatcher.RetryAfterError{Delay: time.Second, Reason: "busy"}, zapcore.DebugLevel, "task waits"},
		{"retry", 3, errors.New("redis down"), zapcore.WarnLevel, "task failed, will retry"},
		{"last attempt", 25, errors.New("redis down"), zapcore.ErrorLevel, "task failed for good"},
		{"skip retry", 0, errors.Join(errors.New("bad payload"), asynq.SkipRetry), zapcore.ErrorLevel, "task failed for good"},
		{"revoked", 0, asynq.RevokeTask, zapcore.DebugLevel, "task revoked"},
	}
	for _, tc := range cases {
		logs.TakeAll()
		w.logFailure(taskMeta{typ: tasks.TypeSendBatch, id: "send:j:1", queue: tasks.QueueNormal, retried: tc.retried, maxRetry: 25}, tc.err)
		got := logs.TakeAll()
		if len(got) != 1 || got[0].Level != tc.level || got[0].Message != tc.msg {
			t.Errorf("%s: logged %+v, want one %s %q", tc.name, got, tc.level, tc.msg)
		}
	}
}
