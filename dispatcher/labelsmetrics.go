package dispatcher

import (
	"github.com/smsdispatch/smsdispatch/retry"
)

// The label values the metrics are created with, so that every series an alert or dashboard
// names exists from start-up (at zero) rather than from its first event.
var (
	// numberStates are the "state" values of Metrics.Numbers (countStates, reconcile).
	numberStates = []string{"sent", "failed", "unknown", "retry", "suppressed", "settled", "resent"}
	// receiptResults are the "result" values of Metrics.Receipts.
	receiptResults = []string{"applied", "duplicate", "unmatched"}
	// enqueueKinds and enqueueResults are the labels of Metrics.Enqueued.
	enqueueKinds   = []string{kindRetry, kindReconcile, kindProbe, kindResume, kindResend, kindSweepSend, kindSweepReconcile, kindSweepProbe}
	enqueueResults = []string{"ok", "queued", "replaced", "error"}
	// callbackKinds and callbackResults are the labels of PushMetrics.Callbacks.
	callbackKinds   = []string{"status", "reply"}
	callbackResults = []string{cbOK, cbNotFound, cbMalformed, cbTooLarge, cbError}
	// replyKinds are the "kind" values of PushMetrics.Replies.
	replyKinds = []string{"unsubscribe", "other", "invalid"}
)

// initLabels creates m's series for every label value known in advance: SendSms outcomes by
// retry class, the halting and deferring codes of the retry table, and the fixed label sets.
func (m *Metrics) initLabels() {
	for c := retry.ClassOK; c <= retry.ClassUnlisted; c++ {
		m.SendCalls.WithLabelValues(c.String())
	}
	for _, s := range numberStates {
		m.Numbers.WithLabelValues(s)
	}
	m.RateLimitWait.WithLabelValues("SendSms")
	for _, r := range receiptResults {
		m.Receipts.WithLabelValues(r)
	}
	for _, code := range retry.CodesOf(retry.ClassAppHalt, retry.ClassAppDeferred) {
		m.Halts.WithLabelValues(code)
	}
	for _, k := range enqueueKinds {
		for _, r := range enqueueResults {
			m.Enqueued.WithLabelValues(k, r)
		}
	}
}

// initLabels creates m's series for every known kind and result.
func (m *PushMetrics) initLabels() {
	for _, k := range callbackKinds {
		for _, r := range callbackResults {
			m.Callbacks.WithLabelValues(k, r)
		}
	}
	for _, k := range replyKinds {
		m.Replies.WithLabelValues(k)
	}
}
