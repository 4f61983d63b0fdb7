package worker

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/dispatcher"
	"github.com/smsdispatch/smsdispatch/internal/promreg"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// taskMetrics counts and times every task the worker runs, by type and result.
type taskMetrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// servedQueues are the asynq queues the worker serves, in priority order.
var servedQueues = []string{tasks.QueueOTP, tasks.QueueNormal, tasks.QueueBulk, tasks.QueueMaint}

// Task results, the "result" label of smsdispatch_worker_tasks_total.
const (
	resultOK    = "ok"
	resultWait  = "wait"  // not a failure: rate limited, busy, not yet due
	resultError = "error" // a failure asynq retries or archives
)

func newTaskMetrics(reg prometheus.Registerer) (*taskMetrics, error) {
	m := &taskMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_worker_tasks_total",
			Help: "Tasks run by this worker, by task type, queue and result (ok, wait, error).",
		}, []string{"type", "queue", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsdispatch_worker_task_duration_seconds",
			Help:    "Time spent in the task handler, by task type.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"type"}),
	}
	var err error
	if m.total, err = promreg.Register(reg, m.total); err != nil {
		return nil, err
	}
	if m.duration, err = promreg.Register(reg, m.duration); err != nil {
		return nil, err
	}
	// Every series exists from start-up: each task type on each queue it runs in.
	for typ, queues := range map[string][]string{
		tasks.TypeSendBatch: {tasks.QueueOTP, tasks.QueueNormal, tasks.QueueBulk},
		tasks.TypeReconcile: {tasks.QueueMaint},
		tasks.TypeProbe:     {tasks.QueueMaint},
	} {
		m.duration.WithLabelValues(typ)
		for _, q := range queues {
			for _, r := range []string{resultOK, resultWait, resultError} {
				m.total.WithLabelValues(typ, q, r)
			}
		}
	}
	return m, nil
}

// newFleetCollector builds the collector of queue depths, halted apps and active jobs over st
// and the shared Redis client, and registers it on reg.
func newFleetCollector(cfg Config, st *store.Store, logger *zap.Logger, reg prometheus.Registerer) error {
	c, err := dispatcher.NewFleetCollector(dispatcher.FleetCollectorConfig{
		Store:     st,
		Inspector: asynq.NewInspectorFromRedisClient(cfg.Redis),
		Queues:    servedQueues,
		Logger:    logger,
		Now:       cfg.Now,
	})
	if err != nil {
		return err
	}
	_, err = promreg.Register(reg, prometheus.Collector(c))
	return err
}

func (m *taskMetrics) middleware(isFailure func(error) bool) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			m.duration.WithLabelValues(t.Type()).Observe(time.Since(start).Seconds())
			result := resultOK
			switch {
			case err == nil:
			case !isFailure(err):
				result = resultWait
			default:
				result = resultError
			}
			queue, _ := asynq.GetQueueName(ctx)
			m.total.WithLabelValues(t.Type(), queue, result).Inc()
			return err
		})
	}
}
