package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Report prints r's figures, one a line, and its verdict with every failed criterion.
func (r *Result) Report(w io.Writer) {
	sc := r.Scenario
	st := r.Status
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(tw, "chaos %s: %s\n", sc.Name, verdict)
	row("scenario", "%s", sc.Describe())
	if r.Settled {
		row("elapsed", "%s (enqueue start to settled; enqueue took %s)", secs(r.Elapsed), secs(r.Enqueue))
	} else {
		row("elapsed", "%s, NOT settled (enqueue took %s)", secs(r.Elapsed), secs(r.Enqueue))
	}
	if r.Deadline > 0 {
		row("deadline", "%s (crash-free %s + reconcile window %s + %s)", secs(r.Deadline), secs(sc.CrashFree), secs(sc.Window()), secs(sc.Slack))
	} else {
		row("deadline", "none (crash-free measurement; timeout %s)", secs(sc.Timeout))
	}
	row("job", "%s, state %s", r.JobID, st.State)
	row("total", "%d", st.Total)
	row("sent", "%d", st.Sent)
	row("failed", "%d%s", st.Failed, failedCodes(st.FailedByCode))
	row("unknown", "%d (largest seen %d)", st.Unknown, r.MaxUnknown)
	row("pending", "%d", st.Pending)
	row("cancelled", "%d", st.Cancelled)
	row("delivered / undelivered", "%d / %d (sum %d of %d sent)", st.Delivered, st.Undelivered, st.Delivered+st.Undelivered, st.Sent)
	row("fee", "%d", st.Fee)
	row("SendSms calls", "%d (sandbox)", r.SendSmsCalls())
	row("by-number lookups", "%d (PullSmsSendStatusByPhoneNumber)", r.Sandbox.Calls["PullSmsSendStatusByPhoneNumber"])
	row("receipt pulls", "%d (PullSmsSendStatus), %d receipts pulled", r.Sandbox.Calls["PullSmsSendStatus"], r.Sandbox.ReceiptsPulled)
	row("sandbox accepted", "%d numbers, %d distinct, %d duplicate sends, %d after settling", r.Sandbox.NumbersSent, r.Accepted(), r.Sandbox.DuplicateSends, r.LateSends)
	row("per-number codes", "%s", codes(r.Sandbox.NumberErrors))
	if len(r.Sandbox.Errors) > 0 {
		row("whole-call errors", "%s", codes(r.Sandbox.Errors))
	}
	switch sc.Fault {
	case FaultWorker:
		row("kills", "%d kill -9 of a worker; %d worker starts, %d exits on their own", r.Kills, r.WorkerStarts, r.WorkerExits)
	case FaultWorkerTerm:
		row("kills", "%d SIGTERM of a worker; %d worker starts, %d exits on their own", r.Kills, r.WorkerStarts, r.WorkerExits)
	case FaultRedis:
		row("kills", "%d kill -9 of redis-server; %d redis starts, %d exits on their own; %d worker exits on their own", r.Kills, r.RedisStarts, r.RedisExits, r.WorkerExits)
	default:
		row("kills", "0; %d worker exits on their own", r.WorkerExits)
	}
	row("status polls", "%d (%d failed), sandbox polls failed %d", r.StatusPolls, r.StatusErrors, r.SandboxErrors)
	if r.Dir != "" {
		row("logs", "%s", r.Dir)
	}
	_ = tw.Flush()
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  FAIL: %s\n", f)
	}
}

func failedCodes(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	return " (" + codes(m) + ")"
}

// Summary is one line: verdict, elapsed, deadline and the main counts.
func (r *Result) Summary() string {
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	st := r.Status
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: elapsed %s", r.Scenario.Name, verdict, secs(r.Elapsed))
	if !r.Settled {
		b.WriteString(" (not settled)")
	}
	if r.Deadline > 0 {
		fmt.Fprintf(&b, ", deadline %s", secs(r.Deadline))
	}
	fmt.Fprintf(&b, ", %d calls, sent %d, failed %d, unknown %d, pending %d, delivered %d, undelivered %d, duplicates %d, state %s, kills %d",
		r.SendSmsCalls(), st.Sent, st.Failed, st.Unknown, st.Pending, st.Delivered, st.Undelivered, r.Sandbox.DuplicateSends, st.State, r.Kills)
	return b.String()
}

// WriteJSON writes results to path as an indented JSON array.
func WriteJSON(path string, results []*Result) error {
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	return nil
}
