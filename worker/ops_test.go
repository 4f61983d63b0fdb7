package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// metricName matches our metric names in the README, the alert rules and the dashboard.
var metricName = regexp.MustCompile(`smsdispatch_[a-z_]*[a-z]`)

// histogramSeries strips the suffixes of a histogram's series (name_bucket and so on).
func histogramSeries(name string) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && !strings.HasSuffix(name, "_total"+suf) {
			return base
		}
	}
	return name
}

// registeredAtStart builds a worker (not started) and returns the smsdispatch metric families its
// registry gathers before any task ran, with their sample counts.
func registeredAtStart(t *testing.T) map[string]int {
	t.Helper()
	f := newFakeTencent(t, nil)
	reg := prometheus.NewRegistry()
	w, err := New(testConfig(redistest.Mini(t).Client, f), testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "smsdispatch_") {
			out[mf.GetName()] = len(mf.GetMetric())
		}
	}
	return out
}

// TestMetricsDocumented: the README's metrics list (Operations) names exactly the metrics the
// worker registers, each of which has series from start-up; the alert rules and the Grafana
// dashboard use only those metrics.
func TestMetricsDocumented(t *testing.T) {
	t.Parallel()
	have := registeredAtStart(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ops := string(readme)
	start := strings.Index(ops, "\n## Operations")
	if start < 0 {
		t.Fatal("README has no Operations section")
	}
	ops = ops[start+1:]
	if end := strings.Index(ops, "\n## "); end >= 0 {
		ops = ops[:end]
	}
	documented := map[string]bool{}
	for _, n := range metricName.FindAllString(ops, -1) {
		documented[n] = true
	}
	for n, samples := range have {
		if !documented[n] {
			t.Errorf("metric %s is not in the README's metrics list", n)
		}
		if samples == 0 {
			t.Errorf("metric %s has no series at start-up", n)
		}
	}
	for n := range documented {
		if _, ok := have[n]; !ok {
			t.Errorf("the README lists %s, which the worker does not register (or has no series at start-up)", n)
		}
	}

	// The dashboard: every expression of every panel, whatever its nesting.
	raw, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				exprs = append(exprs, e)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(dash)
	if len(exprs) < 10 {
		t.Fatalf("dashboard has %d expressions, want the panels' queries", len(exprs))
	}
	rules, err := os.ReadFile("../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for file, text := range map[string]string{"grafana-dashboard.json": strings.Join(exprs, "\n"), "alerts.yml": string(rules)} {
		used := metricName.FindAllString(text, -1)
		if len(used) == 0 {
			t.Errorf("%s uses no smsdispatch metric", file)
		}
		for _, n := range used {
			if _, ok := have[histogramSeries(n)]; !ok {
				t.Errorf("%s uses %s, which the worker does not register", file, n)
			}
		}
	}
}

// TestReadyzRedisDown: with a real Redis killed under a running worker, /readyz answers 503 and
// /healthz stays 200 (liveness only).
func TestReadyzRedisDown(t *testing.T) {
	t.Parallel()
	addr := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer func() {
		_ = rdb.Close()
		// go-redis redials a dead server once a second in a goroutine that sees the close only
		// after its sleep: wait it out for the leak check.
		time.Sleep(1100 * time.Millisecond)
	}()
	cfg := testConfig(rdb, newFakeTencent(t, nil))
	cfg.MetricsAddr = "127.0.0.1:0"
	w, err := New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = w.Shutdown(ctx)
	}()
	base := "http://" + w.MetricsAddr()
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with Redis up: %d %q", code, body)
	}
	// SHUTDOWN NOSAVE stops the server; the command's own connection is closed, so its error is
	// expected.
	killer := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	_ = killer.ShutdownNoSave(context.Background()).Err()
	_ = killer.Close()
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Ping(context.Background()).Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server still answers after SHUTDOWN")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "redis: ") {
		t.Errorf("/readyz with Redis down: %d %q, want 503 naming redis", code, body)
	}
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz with Redis down: %d %q, want 200 (liveness only)", code, body)
	}
}

// TestInspectorListsOurTasks: asynq's own Inspector (what asynqmon and the asynq CLI use) lists
// our four queues and our tasks, with our TaskIDs and payloads of ids only.
func TestInspectorListsOurTasks(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		rdb := db.Client
		// One number meets a lost outcome: its reconcile task waits an hour in sms-maint.
		lost := number(2)
		f := newFakeTencent(t, func(c *sandbox.Config) {
			c.Faults = sandbox.Faults{NumberCodes: map[string]string{lost: "InternalError.Timeout"}}
		})
		cfg := testConfig(rdb, f)
		cfg.ReconcileWindow = time.Hour
		startWorker(t, cfg)
		prod := newProducer(t, rdb, cfg)
		ctx := context.Background()
		send := func(prio, tmpl string, at time.Time, numbers ...string) string {
			t.Helper()
			res, err := prod.Send(ctx, client.Request{TemplateID: tmpl, Params: []string{"C1"}, Priority: prio, SendAt: at,
				Reader: strings.NewReader(strings.Join(numbers, "\n") + "\n")})
			if err != nil {
				t.Fatal(err)
			}
			return res.JobID
		}
		later := time.Now().Add(time.Hour)
		send(tasks.PriorityOTP, sandbox.TemplateOTP, time.Time{}, number(1))
		now := send(tasks.PriorityNormal, sandbox.TemplateNotice, time.Time{}, number(2), number(3))
		normal := send(tasks.PriorityNormal, sandbox.TemplateNotice, later, number(4))
		bulk := send(tasks.PriorityBulk, sandbox.TemplateNotice, later, number(5))

		ins := asynq.NewInspectorFromRedisClient(rdb)
		want := map[string]string{ // queue -> TaskID of a scheduled task of ours
			tasks.QueueNormal: tasks.SendBatchTaskID(normal, 0),
			tasks.QueueBulk:   tasks.SendBatchTaskID(bulk, 0),
			tasks.QueueMaint:  tasks.ReconcileTaskID(now, 0, 1),
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			queues, err := ins.Queues()
			if err != nil {
				t.Fatal(err)
			}
			found := map[string]*asynq.TaskInfo{}
			for q, id := range want {
				infos, err := ins.ListScheduledTasks(q)
				if err == nil {
					pending, _ := ins.ListPendingTasks(q)
					infos = append(infos, pending...)
				}
				for _, ti := range infos {
					if ti.ID == id {
						found[q] = ti
					}
				}
			}
			all := []string{tasks.QueueOTP, tasks.QueueNormal, tasks.QueueBulk, tasks.QueueMaint}
			hasAll := true
			for _, q := range all {
				hasAll = hasAll && slices.Contains(queues, q)
			}
			if hasAll && len(found) == len(want) {
				for q, ti := range found {
					if ti.Queue != q {
						t.Errorf("task %s in queue %s, want %s", ti.ID, ti.Queue, q)
					}
					if strings.Contains(string(ti.Payload), "+86") || strings.Contains(string(ti.Payload), "138000") {
						t.Errorf("task %s payload %s holds a number", ti.ID, ti.Payload)
					}
					var fields map[string]any
					if err := json.Unmarshal(ti.Payload, &fields); err != nil {
						t.Errorf("task %s payload %q: %v", ti.ID, ti.Payload, err)
					}
					for k := range fields {
						if k != "job" && k != "batch" && k != "app" {
							t.Errorf("task %s payload has field %q, want ids only (job, batch, app)", ti.ID, k)
						}
					}
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Inspector: queues %v (want %v), our scheduled tasks found %v of %v", queues, all, found, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}, redistest.Parallel())
}
