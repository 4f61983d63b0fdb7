package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// Goals of issue 9.
const (
	goalRatio          = 0.80      // dispatch numbers/s >= 80% of the raw SendSms ceiling
	goalRSS            = 150 << 20 // worker peak RSS
	goalBytesPerNumber = 40.0      // Redis bytes per queued number
	goalOTPP99Ms       = 100.0     // OTP enqueue-to-SendSms p99
	maxBatch           = 200
)

// printReport writes the results as a table: figure, value, goal, PASS/MISS.
func printReport(w io.Writer, r *Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(figure, value, goal, v string) { fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", figure, value, goal, v) }
	head := func(s string) { fmt.Fprintf(tw, "%s\t\t\t\n", s) }
	e := r.Env
	fmt.Fprintf(w, "\nsmsdispatch bench: %s numbers, %s priority, worker concurrency %d, SMS_RATE_LIMIT %d, OTP every %d ms\n",
		fmtCount(int64(e.Numbers)), e.Priority, e.Concurrency, e.RateLimit, e.OTPEveryMs)
	fmt.Fprintf(w, "%s, NumCPU %d, GOMAXPROCS %d, %s, Redis %s, started %s, loadavg %s -> %s\n\n",
		e.GoVersion, e.NumCPU, e.GOMAXPROCS, e.CPUModel, e.RedisVersion, e.Started, e.LoadBefore, e.LoadAfter)

	row("FIGURE", "VALUE", "GOAL", "")
	raw := r.Raw
	head("1. raw SendSms ceiling (tencentsms.Client -> sandbox)")
	for _, run := range raw.Runs {
		row("   "+run.When+" dispatch: calls/s, numbers/s", fmt.Sprintf("%.0f, %.0f  (1 s median %.0f calls/s; %d goroutines, %.0f s; %.1f CPU µs/number)",
			run.CallsPerSec, run.NumbersPerSec, run.MedianCallsPerSec, run.Concurrency, float64(run.DurationMs)/1000, run.CPUMicrosPerNumber), "", "")
		if run.Errors > 0 {
			row("   "+run.When+": errors", fmt.Sprintf("%d (%s)", run.Errors, run.FirstError), "0", "MISS")
		}
	}
	if len(raw.Runs) > 0 {
		row("   median of runs: calls/s, numbers/s", fmt.Sprintf("%.0f, %.0f  (%.1f CPU µs/number)", raw.CallsPerSec, raw.NumbersPerSec, raw.CPUMicrosPerNumber), "", "")
	} else {
		row("   (not measured)", "", "", "")
	}

	en := r.Enqueue
	head("2. enqueue (client.Send of the bulk job)")
	if en.Batches > 0 {
		row("   wall time", fmt.Sprintf("%.2f s  (%s numbers, %s batches)", float64(en.WallMs)/1000, fmtCount(int64(en.Accepted)), fmtCount(int64(en.Batches))), "", "")
		row("   numbers/s", fmt.Sprintf("%.0f", en.NumbersPerSec), "", "")
	}

	m := r.Memory
	head("3. Redis memory of the queued job")
	if en.Batches > 0 {
		row("   bytes/number (INFO used_memory delta)", fmt.Sprintf("%.1f  (+%s)", m.BytesPerNumber, mib(m.UsedAfter-m.UsedBefore)),
			fmt.Sprintf("< %.0f", goalBytesPerNumber), verdict(m.BytesPerNumber < goalBytesPerNumber))
		row("   bytes/number (store.MemoryPerNumber)", fmt.Sprintf("%.1f  (job keys only, no asynq tasks)", m.StoreBytesPerNumber), "", "")
	}

	d := r.Dispatch
	head("4. dispatch (worker process draining the job)")
	if d.Settled {
		row("   wall, worker start -> all settled", fmt.Sprintf("%.2f s  (ready %d ms, first SendSms %d ms)", float64(d.WallMs)/1000, d.ReadyMs, d.FirstSendMs), "", "")
		row("   numbers/s", fmt.Sprintf("%.0f  (steady: 1 s median %.0f)", d.NumbersPerSec, d.SteadyNumbersPerSec), "", "")
		if raw.NumbersPerSec > 0 {
			row("   ratio to raw ceiling", fmt.Sprintf("%.0f%%  (steady %.0f%%)", 100*d.RatioToRaw, 100*d.SteadyNumbersPerSec/raw.NumbersPerSec),
				fmt.Sprintf(">= %.0f%%", 100*goalRatio), verdict(d.RatioToRaw >= goalRatio))
		}
		row("   sent / failed / unknown", fmt.Sprintf("%s / %d / %d", fmtCount(d.Sent), d.Failed, d.Unknown),
			fmt.Sprintf("%s / 0 / 0", fmtCount(int64(en.Accepted))), verdict(d.Sent == int64(en.Accepted) && d.Failed == 0 && d.Unknown == 0))
		if d.ReceiptsAllMs > 0 {
			row("   all receipts applied after", fmt.Sprintf("%.2f s", float64(d.ReceiptsAllMs)/1000), "", "")
		}
		row("   receipts applied when settled", fmt.Sprintf("%s delivered + %s undelivered", fmtCount(d.Delivered), fmtCount(d.Undelivered)), "", "")
		row("   SendSms calls / peak in any 1 s", fmt.Sprintf("%s / %d", fmtCount(int64(d.SendCalls)), d.PeakCallsPerSecond),
			fmt.Sprintf("peak <= %d", e.RateLimit), verdict(d.PeakCallsPerSecond <= e.RateLimit))
		row("   worker peak RSS (VmHWM)", fmt.Sprintf("%s  (max sampled VmRSS %s, %d samples)", mib(d.WorkerPeakRSS), mib(d.WorkerMaxRSS), d.RSSSamples),
			fmt.Sprintf("< %s", mib(goalRSS)), verdict(d.WorkerPeakRSS > 0 && d.WorkerPeakRSS < goalRSS))
		row("   CPU seconds: worker / redis / bench", fmt.Sprintf("%.1f / %.1f / %.1f  (bench = sandbox + status + OTP producer)",
			d.WorkerCPUSeconds, d.RedisCPUSeconds, d.BenchCPUSeconds), "", "")
		cpuRatio := ""
		if d.CPURatioToRaw > 0 {
			cpuRatio = fmt.Sprintf("; raw/dispatch = %.0f%%", 100*d.CPURatioToRaw)
		}
		row("   CPU µs/number (all processes)", fmt.Sprintf("%.1f%s", d.CPUMicrosPerNumber, cpuRatio), "", "")
		var top []string
		for _, c := range d.RedisTop {
			top = append(top, fmt.Sprintf("%s %.0f%% (%.0f/call)", c.Name, 100*c.Share, float64(c.Calls)/float64(max(d.SendCalls, 1))))
		}
		row("   Redis usec by command, per SendSms call", strings.Join(top, ", "), "", "")
		row("   worker means: send task / SendSms / rate wait", fmt.Sprintf("%.1f / %.1f / %.2f ms", d.TaskMeanMs, d.SendSmsMeanMs, d.RateWaitMeanMs), "", "")
		exit := fmt.Sprintf("exited in %d ms", d.ExitMs)
		if d.ExitError != "" {
			exit += " (" + d.ExitError + ")"
		}
		row("   SIGTERM", exit, "clean exit", verdict(d.CleanExit))
	} else {
		row("   (not settled)", "", "", "MISS")
	}

	o := r.OTP
	head("5. OTP enqueue-to-SendSms while the bulk job drains")
	if o.Sent > 0 {
		row("   count", fmt.Sprintf("%d sent, %d arrived, %d missing, %d send errors", o.Sent, o.Arrived, o.Missing, o.SendErrors),
			"none missing", verdict(o.Missing == 0 && o.SendErrors == 0))
		l := o.Latency
		row("   p50 / p90 / p99 / max", fmt.Sprintf("%.1f / %.1f / %.1f / %.1f ms", l.P50, l.P90, l.P99, l.Max),
			fmt.Sprintf("p99 < %.0f ms", goalOTPP99Ms), verdict(l.Count > 0 && l.P99 < goalOTPP99Ms))
		c, p := o.SendCall, o.Pickup
		row("   of which client.Send itself p50 / p99", fmt.Sprintf("%.1f / %.1f ms", c.P50, c.P99), "", "")
		row("   of which Send return -> SendSms p50 / p99", fmt.Sprintf("%.1f / %.1f ms", p.P50, p.P99), "", "")
	} else {
		row("   (no OTPs sent)", "", "", "")
	}

	s := r.Sandbox
	head("6. sandbox counters at the end of the dispatch")
	row("   SendSms calls / numbers accepted", fmt.Sprintf("%s / %s", fmtCount(s.SendCalls), fmtCount(s.NumbersSent)), "", "")
	row("   duplicate sends", fmt.Sprintf("%d", s.DuplicateSends), "0", verdict(s.DuplicateSends == 0))
	row("   largest batch", fmt.Sprintf("%d", s.LargestBatch), fmt.Sprintf("<= %d", maxBatch), verdict(s.LargestBatch <= maxBatch))
	row("   receipts created / pulled", fmt.Sprintf("%s / %s  (%s PullSmsSendStatus calls)", fmtCount(s.Receipts), fmtCount(s.ReceiptsPulled), fmtCount(s.PullCalls)), "", "")
	row("   errors / per-number errors", fmt.Sprintf("%s / %s", counts(s.Errors), counts(s.NumberErrors)), "none", verdict(len(s.Errors) == 0 && len(s.NumberErrors) == 0))
	_ = tw.Flush()
	for _, err := range r.Errors {
		fmt.Fprintf(w, "ERROR: %s\n", err)
	}
	fmt.Fprintln(w)
}

func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ",")
}

func writeJSON(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("--json-out: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json-out: %w", err)
	}
	return nil
}
