// Command chaos runs issue 12's fault-injection scenarios end to end through the documented
// commands: a private redis-server on a free loopback port (never 6379), cmd/sandbox with its
// fault flags, N cmd/worker processes, `enqueue send --file` of a generated CSV, and a kill -9
// loop (of a random worker, or of redis-server with its append-only file kept), polling
// `enqueue status --json` and the sandbox's GET /_sandbox/stats until the job settles or the
// deadline passes. See package internal/chaos for the run and the criteria.
//
// Usage (scripts/chaos-kill.sh and scripts/chaos-redis.sh run the full sizes):
//
//	go run ./cmd/chaos --scenario kill            # 100,000 numbers, kill -9 of a worker every 4 s for 60 s
//	go run ./cmd/chaos --scenario redis           # 50,000 numbers, Redis kill -9 every 4 s for 20 s, 2 s down
//	go run ./cmd/chaos --scenario kill --short    # the CI form (10,000 numbers)
//	go run ./cmd/chaos --scenario kill --crash-free 115s --numbers 20000 --kill-for 30s
//
// By default the crash-free time is measured first, by the same harness on the same scenario
// without kills; --crash-free DURATION skips that and uses the figure given. The deadline is
// crash-free + reconcile window + 60 s. It prints the figures of each run and exits 0 when every
// criterion held, 1 when one failed, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/chaos"
	"github.com/smsdispatch/smsdispatch/internal/version"
)

func main() {
	if version.Requested(os.Args[1:]) {
		fmt.Fprintln(os.Stdout, version.String("chaos"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
)

// options are the command-line settings beyond the scenario.
type options struct {
	sc          chaos.Scenario
	measure     bool // measure the crash-free time first
	dir         string
	keep        bool
	binDir      string
	redisServer string
	jsonOut     string
	progress    time.Duration
	poll        time.Duration
}

var errUsage = errors.New("usage")

// overrides are the flags that, when given, replace a field of the chosen scenario: each applies
// its flag's value to the scenario.
type overrides map[string]func(sc *chaos.Scenario)

// override declares the flag name with define (fs.Int, fs.Duration, ...) and records in o that,
// when given, it replaces the field of the scenario that field points at.
func override[T any](o overrides, define func(name string, value T, usage string) *T, name string, value T, usage string, field func(sc *chaos.Scenario) *T) {
	v := define(name, value, usage)
	o[name] = func(sc *chaos.Scenario) { *field(sc) = *v }
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "kill", "kill (worker kill -9) or redis (redis-server kill -9): issue 12's two scenarios")
	short := fs.Bool("short", false, "the short form the CI tests run (fewer numbers, the same faults for a shorter time)")
	over := overrides{}
	override(over, fs.Int, "numbers", 0, "distinct valid numbers in the job (default: the scenario's)", func(sc *chaos.Scenario) *int { return &sc.Numbers })
	override(over, fs.Int, "workers", 0, "worker processes (default: the scenario's)", func(sc *chaos.Scenario) *int { return &sc.Workers })
	override(over, fs.Int, "rate-limit", 0, "SMS_RATE_LIMIT (default: the scenario's)", func(sc *chaos.Scenario) *int { return &sc.RateLimit })
	override(over, fs.Duration, "latency", -1, "sandbox API latency (default: the scenario's)", func(sc *chaos.Scenario) *time.Duration { return &sc.Latency })
	override(over, fs.Float64, "retry-rate", -1, "share of numbers the sandbox answers with --retry-code (default: the scenario's, 0.01)",
		func(sc *chaos.Scenario) *float64 { return &sc.RetryRate })
	override(over, fs.String, "retry-code", "", "per-number code of --retry-rate (default "+chaos.DefaultRetryCode+")", func(sc *chaos.Scenario) *string { return &sc.RetryCode })
	aof := fs.String("aof", "", "true: redis-server appendonly yes + appendfsync always (default: the scenario's)")
	fault := fs.String("fault", "", "none, worker (kill -9), worker-term (SIGTERM) or redis (default: the scenario's)")
	override(over, fs.Duration, "kill-every", 0, "a kill every ... (default: the scenario's, 4s)", func(sc *chaos.Scenario) *time.Duration { return &sc.KillEvery })
	override(over, fs.Duration, "kill-for", 0, "kills during the first ... after enqueue starts (default: the scenario's)", func(sc *chaos.Scenario) *time.Duration { return &sc.KillFor })
	override(over, fs.Duration, "downtime", -1, "how long a killed process stays down before its restart (default: the scenario's)",
		func(sc *chaos.Scenario) *time.Duration { return &sc.Downtime })
	override(over, fs.Duration, "reconcile-window", 0, "SMS_RECONCILE_WINDOW of the workers (default: the scenario's; unset means the worker's 60s)",
		func(sc *chaos.Scenario) *time.Duration { return &sc.ReconcileWindow })
	pull := fs.Duration("pull-interval", 0, "SMS_STATUS_PULL_INTERVAL of the workers (default: the worker's 10s)")
	crashFree := fs.String("crash-free", "measure", "crash-free time of the scenario: measure (run it without kills first) or a duration such as 115s")
	slack := fs.Duration("slack", chaos.DefaultSlack, "margin of the deadline over crash-free + reconcile window")
	timeout := fs.Duration("timeout", 20*time.Minute, "cap of the crash-free measurement")
	seed := fs.Int64("seed", 1, "sandbox seed and kill schedule")
	logLevel := fs.String("worker-log-level", "info", "LOG_LEVEL of the workers")
	fs.StringVar(&o.dir, "dir", "", "directory for the CSV, logs and Redis data (default: a temp dir, removed after a pass)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir after a pass")
	fs.StringVar(&o.binDir, "bin-dir", "", "directory holding worker, enqueue and sandbox binaries (default: go build them)")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "redis-server program")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the results as JSON to this file")
	fs.DurationVar(&o.progress, "progress-every", 10*time.Second, "least time between progress lines on stderr")
	fs.DurationVar(&o.poll, "poll-every", time.Second, "wait between status polls")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos [--scenario kill|redis] [--short] [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	switch *scenario {
	case "kill", "worker":
		o.sc = chaos.KillScenario(*short)
	case "redis":
		o.sc = chaos.RedisScenario(*short)
	default:
		return o, fmt.Errorf("%w: --scenario: %q is not kill or redis", errUsage, *scenario)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	sc := &o.sc
	for name := range set {
		if apply := over[name]; apply != nil {
			apply(sc)
		}
	}
	if set["aof"] {
		switch *aof {
		case "true", "yes", "1":
			sc.AOF = true
		case "false", "no", "0":
			sc.AOF = false
		default:
			return o, fmt.Errorf("%w: --aof: %q is not true or false", errUsage, *aof)
		}
	}
	if set["fault"] {
		f, err := chaos.ParseFault(*fault)
		if err != nil {
			return o, fmt.Errorf("%w: --fault: %w", errUsage, err)
		}
		sc.Fault = f
	}
	sc.PullInterval = *pull
	sc.Slack, sc.Timeout, sc.Seed, sc.LogLevel = *slack, *timeout, *seed, *logLevel
	if *crashFree == "measure" {
		o.measure = true
	} else {
		d, err := time.ParseDuration(*crashFree)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("%w: --crash-free: %q is not measure or a positive duration", errUsage, *crashFree)
		}
		sc.CrashFree = d
	}
	if err := sc.Validate(); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return exitUsage
	}
	temp := o.dir == ""
	if temp {
		if o.dir, err = os.MkdirTemp("", "smsdispatch-chaos-"); err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
			return exitFail
		}
	} else if err := os.MkdirAll(o.dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return exitFail
	}
	env := chaos.Env{Dir: o.dir, RedisServer: o.redisServer, Log: stderr, ProgressEvery: o.progress, PollEvery: o.poll}
	if o.binDir != "" {
		env.Bins = chaos.BinariesIn(o.binDir)
	} else {
		binDir := filepath.Join(o.dir, "bin")
		if err := os.MkdirAll(binDir, 0o755); err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
			return exitFail
		}
		fmt.Fprintf(stderr, "chaos: go build worker, enqueue, sandbox into %s\n", binDir)
		if env.Bins, err = chaos.Build(ctx, binDir, stderr); err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
			return exitFail
		}
	}

	var results []*chaos.Result
	if o.measure {
		var clean, faulted *chaos.Result
		clean, faulted, err = chaos.RunMeasured(ctx, env, o.sc)
		for _, r := range []*chaos.Result{clean, faulted} {
			if r != nil {
				results = append(results, r)
			}
		}
	} else {
		var r *chaos.Result
		r, err = chaos.Run(ctx, env, o.sc)
		if r != nil {
			results = append(results, r)
		}
	}
	passed := err == nil && len(results) > 0
	for _, r := range results {
		fmt.Fprintln(stdout)
		r.Report(stdout)
		passed = passed && r.Passed()
	}
	if len(results) > 0 {
		fmt.Fprintln(stdout)
		for _, r := range results {
			fmt.Fprintln(stdout, r.Summary())
		}
	}
	if o.jsonOut != "" && len(results) > 0 {
		if werr := chaos.WriteJSON(o.jsonOut, results); werr != nil {
			fmt.Fprintln(stderr, "chaos:", werr)
			passed = false
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
	}
	if passed && temp && !o.keep {
		_ = os.RemoveAll(o.dir)
	} else {
		fmt.Fprintf(stderr, "chaos: logs and data kept in %s\n", o.dir)
	}
	if !passed {
		return exitFail
	}
	return exitPass
}
