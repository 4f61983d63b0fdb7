package dispatcher

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsdispatch/smsdispatch/internal/promreg"
	"github.com/smsdispatch/smsdispatch/store"
)

// Metrics are the dispatcher's Prometheus metrics. Build them once per registry with NewMetrics
// and pass the same *Metrics to every handler and loop. A nil *Metrics in a Config means
// unregistered metrics (counted, never exported).
type Metrics struct {
	// SendCalls counts SendSms calls by outcome: "ok" (Tencent answered; per-number codes are in
	// Numbers) or the retry class of the call-level failure ("transient", "unknown-outcome",
	// "app-halt", ...).
	SendCalls *prometheus.CounterVec
	// SendLatency observes SendSms call latency in seconds.
	SendLatency prometheus.Histogram
	// Numbers counts numbers by the state a send attempt left them in: sent, failed, unknown,
	// retry (moved to a later batch); and by reconcile: settled (evidence found), resent.
	Numbers *prometheus.CounterVec
	// RateLimitWait observes the time spent waiting on a rate limiter, by API.
	RateLimitWait *prometheus.HistogramVec
	// Receipts counts receipts by what applying them did: applied, duplicate, unmatched.
	Receipts *prometheus.CounterVec
	// Halts counts app halts (and deferrals) by Tencent code.
	Halts *prometheus.CounterVec
	// LostClaims counts commits refused because the attempt no longer held its claim.
	LostClaims prometheus.Counter
	// Enqueued counts tasks enqueued by the dispatcher, by kind (send, retry, reconcile, probe,
	// resume, sweep-send, sweep-reconcile, sweep-probe) and result (ok; queued: a live task holds
	// the TaskID; replaced: an archived or completed task held it and was replaced; error).
	Enqueued *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered). Metrics already
// registered on reg by an earlier call are reused, so several dispatchers can share a registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		SendCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_sendsms_calls_total",
			Help: "SendSms calls by outcome: ok, or the retry class of the call-level failure.",
		}, []string{"outcome"}),
		SendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smsdispatch_sendsms_duration_seconds",
			Help:    "SendSms call latency.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		Numbers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_numbers_total",
			Help: "Numbers by the state a send attempt or reconcile left them in (sent, failed, unknown, retry, settled, resent).",
		}, []string{"state"}),
		RateLimitWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsdispatch_ratelimit_wait_seconds",
			Help:    "Time spent waiting on the fleet-wide rate limiter, by API.",
			Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"api"}),
		Receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_receipts_total",
			Help: "Delivery receipts by what applying them did: applied, duplicate, unmatched.",
		}, []string{"result"}),
		Halts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_app_halts_total",
			Help: "App halts and deferrals by Tencent code.",
		}, []string{"code"}),
		LostClaims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsdispatch_lost_claims_total",
			Help: "Commits refused because the attempt no longer held its batch claim.",
		}),
		Enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_dispatcher_enqueued_total",
			Help: "Tasks enqueued by the dispatcher, by kind and result (ok, queued, replaced, error).",
		}, []string{"kind", "result"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.SendCalls, err = promreg.Register(reg, m.SendCalls); err != nil {
		return nil, err
	}
	if m.SendLatency, err = promreg.Register(reg, m.SendLatency); err != nil {
		return nil, err
	}
	if m.Numbers, err = promreg.Register(reg, m.Numbers); err != nil {
		return nil, err
	}
	if m.RateLimitWait, err = promreg.Register(reg, m.RateLimitWait); err != nil {
		return nil, err
	}
	if m.Receipts, err = promreg.Register(reg, m.Receipts); err != nil {
		return nil, err
	}
	if m.Halts, err = promreg.Register(reg, m.Halts); err != nil {
		return nil, err
	}
	if m.LostClaims, err = promreg.Register(reg, m.LostClaims); err != nil {
		return nil, err
	}
	if m.Enqueued, err = promreg.Register(reg, m.Enqueued); err != nil {
		return nil, err
	}
	m.initLabels()
	return m, nil
}

// orNew returns m, or unregistered metrics when m is nil.
func orNew(m *Metrics) *Metrics {
	if m != nil {
		return m
	}
	m, _ = NewMetrics(nil)
	return m
}

// countStates adds results to the Numbers metric, one Add per state (not one label lookup per
// number).
func countStates(m *Metrics, results []store.NumberResult) {
	states := [...]store.NumberState{store.Sent, store.Failed, store.Unknown, store.Retry, store.Suppressed}
	var n [len(states)]int
	other := 0
	for _, r := range results {
		i := 0
		for i < len(states) && states[i] != r.State {
			i++
		}
		if i == len(states) {
			other++
			continue
		}
		n[i]++
	}
	for i, st := range states {
		if n[i] > 0 {
			m.Numbers.WithLabelValues(stateName(st)).Add(float64(n[i]))
		}
	}
	if other > 0 {
		m.Numbers.WithLabelValues("other").Add(float64(other))
	}
}

// stateName is the Numbers label of a per-number state.
func stateName(s store.NumberState) string {
	switch s {
	case store.Sent:
		return "sent"
	case store.Failed:
		return "failed"
	case store.Unknown:
		return "unknown"
	case store.Retry:
		return "retry"
	case store.Suppressed:
		return "suppressed"
	}
	return "other"
}
