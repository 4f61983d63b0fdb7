package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/store"
)

// FleetStore is what FleetCollector reads from the store (*store.Store).
type FleetStore interface {
	SummarizeActive(ctx context.Context, limit int) (store.ActiveSummary, error)
	Halts(ctx context.Context) ([]store.Halt, error)
}

// QueueInspector reads asynq's queues (*asynq.Inspector).
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// Defaults of FleetCollectorConfig.
const (
	DefaultFleetTimeout  = 2 * time.Second
	DefaultFleetQueueTTL = 2 * time.Second
	DefaultFleetJobsTTL  = 15 * time.Second
	DefaultFleetMaxJobs  = 20000
)

// FleetCollectorConfig configures a FleetCollector.
type FleetCollectorConfig struct {
	Store     FleetStore     // required
	Inspector QueueInspector // required
	Queues    []string       // required: the asynq queues to report
	Logger    *zap.Logger
	// Timeout bounds one refresh; a scrape waits at most this long and then reports the last
	// values read. Default DefaultFleetTimeout.
	Timeout time.Duration
	// QueueTTL is how long queue counts and halts are reused. Default DefaultFleetQueueTTL.
	QueueTTL time.Duration
	// JobsTTL is how long the active-jobs summary is reused (it reads one hash per active job).
	// Default DefaultFleetJobsTTL.
	JobsTTL time.Duration
	// MaxJobs caps the active jobs one summary reads, oldest first. Default DefaultFleetMaxJobs.
	MaxJobs int
	Now     func() time.Time
}

// Task states of smsdispatch_queue_tasks.
var queueTaskStates = []string{"pending", "active", "scheduled", "retry", "archived", "completed", "aggregating"}

// Parts of a refresh, the "part" label of smsdispatch_fleet_read_errors_total.
const (
	partQueues = "queues"
	partHalts  = "halts"
	partJobs   = "jobs"
)

// FleetCollector is a prometheus.Collector of what is in Redis, the same for every worker of a
// fleet: asynq queue depths and oldest pending task age, halted apps, and the active jobs by
// state with their unknown numbers and outstanding receipts. It reads on scrape, at most once per
// TTL (concurrent scrapes share one read), so scrapes never add load on Redis beyond one read per
// TTL per worker; every series exists from the first scrape (zero until read).
type FleetCollector struct {
	cfg FleetCollectorConfig
	log *zap.Logger

	queueTasks  *prometheus.Desc
	queueOldest *prometheus.Desc
	appsHalted  *prometheus.Desc
	jobs        *prometheus.Desc
	jobsActive  *prometheus.Desc
	unknown     *prometheus.Desc
	outstanding *prometheus.Desc
	readErrors  *prometheus.CounterVec

	mu       sync.Mutex
	inflight chan struct{} // closed when the running refresh ends; nil when none runs
	queuesAt time.Time
	jobsAt   time.Time
	queues   map[string]*asynq.QueueInfo
	halted   int
	summary  store.ActiveSummary
}

// NewFleetCollector checks cfg and returns the collector; register it on the worker's registry.
func NewFleetCollector(cfg FleetCollectorConfig) (*FleetCollector, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("dispatcher: fleet collector: nil Store")
	case cfg.Inspector == nil:
		return nil, errors.New("dispatcher: fleet collector: nil Inspector")
	case len(cfg.Queues) == 0:
		return nil, errors.New("dispatcher: fleet collector: no Queues")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultFleetTimeout
	}
	if cfg.QueueTTL <= 0 {
		cfg.QueueTTL = DefaultFleetQueueTTL
	}
	if cfg.JobsTTL <= 0 {
		cfg.JobsTTL = DefaultFleetJobsTTL
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = DefaultFleetMaxJobs
	}
	cfg.Now = nowOrDefault(cfg.Now)
	c := &FleetCollector{
		cfg: cfg,
		log: nopIfNil(cfg.Logger).Named("fleet-metrics"),
		queueTasks: prometheus.NewDesc("smsdispatch_queue_tasks",
			"Tasks in an asynq queue by state (pending, active, scheduled, retry, archived, completed, aggregating).",
			[]string{"queue", "state"}, nil),
		queueOldest: prometheus.NewDesc("smsdispatch_queue_oldest_pending_seconds",
			"Age of the oldest pending task of an asynq queue (0 when none is pending).", []string{"queue"}, nil),
		appsHalted: prometheus.NewDesc("smsdispatch_apps_halted",
			"Apps halted now (a halting code stopped them until a probe or enqueue resume).", nil, nil),
		jobs: prometheus.NewDesc("smsdispatch_jobs",
			"Active jobs by state (the non-final states), over the oldest jobs read (see smsdispatch_jobs_active).",
			[]string{"state"}, nil),
		jobsActive: prometheus.NewDesc("smsdispatch_jobs_active",
			"Members of the active-jobs set, read or not (jobs being created and settled jobs not swept yet included).", nil, nil),
		unknown: prometheus.NewDesc("smsdispatch_unknown_numbers",
			"Numbers in the unknown state (SendSms's answer lost; reconcile must tell) summed over active jobs.", nil, nil),
		outstanding: prometheus.NewDesc("smsdispatch_receipts_outstanding",
			"Sent numbers without a delivery receipt yet, summed over active jobs.", nil, nil),
		readErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_fleet_read_errors_total",
			Help: "Failed reads of the fleet metrics (queues, halts, jobs): their last values are reported meanwhile.",
		}, []string{"part"}),
		queues: map[string]*asynq.QueueInfo{},
	}
	for _, p := range []string{partQueues, partHalts, partJobs} {
		c.readErrors.WithLabelValues(p)
	}
	c.summary.Jobs = map[store.JobState]int64{}
	for _, info := range store.JobStates {
		if !info.Final {
			c.summary.Jobs[info.State] = 0
		}
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *FleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.queueTasks, c.queueOldest, c.appsHalted, c.jobs, c.jobsActive, c.unknown, c.outstanding} {
		ch <- d
	}
	c.readErrors.Describe(ch)
}

// Collect implements prometheus.Collector: it refreshes what is older than its TTL (waiting at
// most Timeout) and reports the values.
func (c *FleetCollector) Collect(ch chan<- prometheus.Metric) {
	c.refresh()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range c.cfg.Queues {
		info := c.queues[q]
		if info == nil {
			info = &asynq.QueueInfo{}
		}
		counts := []int{info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived, info.Completed, info.Aggregating}
		for i, state := range queueTaskStates {
			ch <- prometheus.MustNewConstMetric(c.queueTasks, prometheus.GaugeValue, float64(counts[i]), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.queueOldest, prometheus.GaugeValue, info.Latency.Seconds(), q)
	}
	ch <- prometheus.MustNewConstMetric(c.appsHalted, prometheus.GaugeValue, float64(c.halted))
	for _, info := range store.JobStates {
		if !info.Final {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(c.summary.Jobs[info.State]), string(info.State))
		}
	}
	ch <- prometheus.MustNewConstMetric(c.jobsActive, prometheus.GaugeValue, float64(c.summary.Members))
	ch <- prometheus.MustNewConstMetric(c.unknown, prometheus.GaugeValue, float64(c.summary.Unknown))
	ch <- prometheus.MustNewConstMetric(c.outstanding, prometheus.GaugeValue, float64(c.summary.Outstanding))
	c.readErrors.Collect(ch)
}

// refresh starts a read of what is stale, unless one runs already, and waits for it at most
// Timeout. A read that outlives the wait goes on and its values serve the next scrape.
func (c *FleetCollector) refresh() {
	c.mu.Lock()
	done := c.inflight
	if done == nil {
		now := c.cfg.Now()
		queues := now.Sub(c.queuesAt) >= c.cfg.QueueTTL
		jobs := now.Sub(c.jobsAt) >= c.cfg.JobsTTL
		if !queues && !jobs {
			c.mu.Unlock()
			return
		}
		done = make(chan struct{})
		c.inflight = done
		go c.read(done, queues, jobs)
	}
	c.mu.Unlock()
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// read reads the stale parts and stores them; it closes done when it ends.
func (c *FleetCollector) read(done chan struct{}, queues, jobs bool) {
	defer func() {
		c.mu.Lock()
		c.inflight = nil
		c.mu.Unlock()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	if queues {
		infos, qerr := c.readQueues()
		halts, herr := c.cfg.Store.Halts(ctx)
		c.mu.Lock()
		c.queuesAt = c.cfg.Now()
		if qerr == nil {
			c.queues = infos
		}
		if herr == nil {
			c.halted = len(halts)
		}
		c.mu.Unlock()
		c.failed(partQueues, qerr)
		c.failed(partHalts, herr)
	}
	if jobs {
		sum, err := c.cfg.Store.SummarizeActive(ctx, c.cfg.MaxJobs)
		c.mu.Lock()
		c.jobsAt = c.cfg.Now()
		if err == nil {
			c.summary = sum
		}
		c.mu.Unlock()
		c.failed(partJobs, err)
	}
}

// readQueues reads every configured queue; a queue asynq does not know yet (no task ever
// enqueued) reads as empty.
func (c *FleetCollector) readQueues() (map[string]*asynq.QueueInfo, error) {
	known, err := c.cfg.Inspector.Queues()
	if err != nil {
		return nil, fmt.Errorf("dispatcher: queues: %w", err)
	}
	out := make(map[string]*asynq.QueueInfo, len(c.cfg.Queues))
	for _, q := range c.cfg.Queues {
		if !slices.Contains(known, q) {
			out[q] = &asynq.QueueInfo{Queue: q}
			continue
		}
		info, err := c.cfg.Inspector.GetQueueInfo(q)
		if err != nil {
			return nil, fmt.Errorf("dispatcher: queue %s: %w", q, err)
		}
		out[q] = info
	}
	return out, nil
}

func (c *FleetCollector) failed(part string, err error) {
	if err == nil {
		return
	}
	c.readErrors.WithLabelValues(part).Inc()
	c.log.Warn("fleet metrics read failed", zap.String("part", part), zap.Error(err))
}
