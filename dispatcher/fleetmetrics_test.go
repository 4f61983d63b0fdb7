package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

var fleetQueues = []string{tasks.QueueOTP, tasks.QueueNormal, tasks.QueueBulk, tasks.QueueMaint}

// gatherValues gathers reg and returns every sample as "name{l1=v1,...}" -> value.
func gatherValues(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = sampleValue(m)
		}
	}
	return out
}

// checkValues reports every series of want missing from got or of another value.
func checkValues(t *testing.T, when string, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %s = %v (present %v), want %v", when, k, g, ok, v)
		}
	}
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// TestFleetCollector: every series exists before anything happened; queue depths, halted apps,
// active jobs by state, unknown numbers and outstanding receipts follow Redis, each read at most
// once per TTL.
func TestFleetCollector(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		ctx := context.Background()
		clock := redistest.NewClock(t0)
		st := store.New(db.Client, store.Options{Now: clock.Now})
		c, err := NewFleetCollector(FleetCollectorConfig{Store: st, Inspector: asynq.NewInspectorFromRedisClient(db.Client),
			Queues: fleetQueues, QueueTTL: time.Second, JobsTTL: 10 * time.Second, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)

		got := gatherValues(t, reg)
		want := map[string]float64{
			"smsdispatch_apps_halted{}":                        0,
			"smsdispatch_jobs_active{}":                        0,
			"smsdispatch_unknown_numbers{}":                    0,
			"smsdispatch_receipts_outstanding{}":               0,
			"smsdispatch_jobs{state=running}":                  0,
			"smsdispatch_jobs{state=paused}":                   0,
			"smsdispatch_jobs{state=delivering}":               0,
			"smsdispatch_jobs{state=scheduled}":                0,
			"smsdispatch_jobs{state=cancelling}":               0,
			"smsdispatch_jobs{state=failing}":                  0,
			"smsdispatch_fleet_read_errors_total{part=jobs}":   0,
			"smsdispatch_fleet_read_errors_total{part=queues}": 0,
			"smsdispatch_fleet_read_errors_total{part=halts}":  0,
		}
		for _, q := range fleetQueues {
			want["smsdispatch_queue_oldest_pending_seconds{queue="+q+"}"] = 0
			for _, s := range queueTaskStates {
				want[fmt.Sprintf("smsdispatch_queue_tasks{queue=%s,state=%s}", q, s)] = 0
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d series at start-up, want %d: %v", len(got), len(want), got)
		}
		checkValues(t, "start-up", got, want)

		// A running job: two numbers sent, one unknown (InternalError.Timeout). A scheduled job.
		// A halted app. Two pending tasks in sms-normal, one scheduled in sms-bulk.
		m, _ := NewMetrics(nil)
		snd := &fakeSender{}
		snd.SendSmsFunc = func(_ context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error) {
			res := okResult(r)
			res.Statuses[1].Code, res.Statuses[1].SerialNo = "InternalError.Timeout", ""
			return res, nil
		}
		h, err := NewSendHandler(SendConfig{Store: st, Sender: snd, Enqueuer: &fakeEnqueuer{}, Limiter: &fakeLimiter{}, Metrics: m,
			Policy: retry.Policy{Rand: func() float64 { return 0.5 }}, HaltCacheTTL: -1, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		run := store.Job{ID: "fr", AppID: testApp, TemplateID: "1000002", Priority: tasks.PriorityNormal}
		later := store.Job{ID: "fs", AppID: testApp, TemplateID: "1000002", Priority: tasks.PriorityNormal, SendAt: t0.Add(time.Hour)}
		for _, j := range []store.Job{run, later} {
			if ok, err := st.CreateJob(ctx, j, [][]string{{"A1"}}, []store.NewBatch{{Numbers: testNumbers}}, 0); err != nil || !ok {
				t.Fatalf("CreateJob %s = %v, %v", j.ID, ok, err)
			}
		}
		if err := h.ProcessTask(ctx, sendTask(t, "fr", 0)); err != nil {
			t.Fatal(err)
		}
		if err := st.Halt(ctx, "1400000009", "FailedOperation.InsufficientBalanceInSmsPackage", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		enq := tasks.NewEnqueuer(db.Client)
		for i, prio := range []string{tasks.PriorityNormal, tasks.PriorityNormal, tasks.PriorityBulk} {
			var opts []asynq.Option
			if prio == tasks.PriorityBulk {
				opts = append(opts, asynq.ProcessIn(time.Hour))
			}
			task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: "fq", Batch: i}, prio, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := enq.Enqueue(ctx, task); err != nil {
				t.Fatal(err)
			}
		}

		// Within both TTLs: the values read at start-up still serve.
		if got := gatherValues(t, reg); got["smsdispatch_queue_tasks{queue=sms-normal,state=pending}"] != 0 || got["smsdispatch_jobs_active{}"] != 0 {
			t.Errorf("values re-read within their TTL: %v", got)
		}
		// Past the queue TTL only: queues and halts are read again, jobs are not.
		clock.Add(time.Second)
		got = gatherValues(t, reg)
		checkValues(t, "after the queue TTL", got, map[string]float64{
			"smsdispatch_queue_tasks{queue=sms-normal,state=pending}": 2,
			"smsdispatch_queue_tasks{queue=sms-bulk,state=scheduled}": 1,
			"smsdispatch_queue_tasks{queue=sms-otp,state=pending}":    0,
			"smsdispatch_apps_halted{}":                               1,
			"smsdispatch_jobs_active{}":                               0,
		})
		if got["smsdispatch_queue_oldest_pending_seconds{queue=sms-normal}"] < 0 {
			t.Errorf("oldest pending age %v", got["smsdispatch_queue_oldest_pending_seconds{queue=sms-normal}"])
		}
		clock.Add(10 * time.Second)
		checkValues(t, "after the jobs TTL", gatherValues(t, reg), map[string]float64{
			"smsdispatch_jobs_active{}":          2,
			"smsdispatch_jobs{state=running}":    1,
			"smsdispatch_jobs{state=scheduled}":  1,
			"smsdispatch_jobs{state=delivering}": 0,
			"smsdispatch_unknown_numbers{}":      1,
			"smsdispatch_receipts_outstanding{}": 2,
		})
	}, redistest.Parallel())
}

// slowInspector answers after delay, or fails.
type slowInspector struct {
	delay time.Duration
	err   error
}

func (s slowInspector) Queues() ([]string, error) {
	time.Sleep(s.delay)
	return []string{tasks.QueueNormal}, s.err
}

func (s slowInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	return &asynq.QueueInfo{Queue: q, Pending: 7}, nil
}

// TestFleetCollectorFailures: a read that fails is counted and the last values stay; a read
// slower than Timeout does not hold the scrape, and only one read runs at a time.
func TestFleetCollectorFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		inspector  slowInspector
		wantErrors float64
		maxScrape  time.Duration
	}{
		{"inspector fails", slowInspector{err: errors.New("redis down")}, 1, time.Second},
		{"inspector slow", slowInspector{delay: 800 * time.Millisecond}, 0, 600 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := store.New(redistest.Mini(t).Client, store.Options{})
			c, err := NewFleetCollector(FleetCollectorConfig{Store: st, Inspector: tc.inspector, Queues: fleetQueues,
				Timeout: 200 * time.Millisecond, QueueTTL: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			start := time.Now()
			got := gatherValues(t, reg)
			got2 := gatherValues(t, reg) // a second scrape while a slow read still runs
			if d := time.Since(start); d > tc.maxScrape {
				t.Errorf("two scrapes took %v, want under %v", d, tc.maxScrape)
			}
			if got["smsdispatch_fleet_read_errors_total{part=queues}"] != tc.wantErrors {
				t.Errorf("queue read errors = %v, want %v", got["smsdispatch_fleet_read_errors_total{part=queues}"], tc.wantErrors)
			}
			if v := got2["smsdispatch_queue_tasks{queue=sms-normal,state=pending}"]; v != 0 {
				t.Errorf("pending = %v before any read succeeded, want 0", v)
			}
			if tc.inspector.delay > 0 {
				time.Sleep(tc.inspector.delay + 100*time.Millisecond) // the slow read ends and is kept
				if v := gatherValues(t, reg)["smsdispatch_queue_tasks{queue=sms-normal,state=pending}"]; v != 7 {
					t.Errorf("pending = %v after the slow read ended, want 7", v)
				}
			}
			// That scrape started another read: let it end before the goroutine check.
			c.mu.Lock()
			done := c.inflight
			c.mu.Unlock()
			if done != nil {
				<-done
			}
		})
	}
}
