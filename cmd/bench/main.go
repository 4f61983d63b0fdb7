// Command bench is smsdispatch's load benchmark: it pushes one large bulk job through the real
// pipeline (client.Send -> store -> asynq -> the worker program -> Tencent SMS API) against a
// real Redis and an in-process sandbox of the Tencent API, and prints the figures of issue 9:
// enqueue time, Redis bytes per queued number, dispatch numbers/s beside the raw SendSms ceiling
// measured in the same run, worker peak RSS, and OTP enqueue-to-SendSms latency while the bulk
// job drains.
//
// Usage (scripts/bench.sh starts and stops a private redis-server for it):
//
//	go run ./cmd/bench --redis-url redis://127.0.0.1:PORT/0 [--numbers 1000000] [--concurrency 32]
//	    [--otp-every 100ms] [--rate-limit 100000] [--raw-duration 10s] [--json-out FILE]
//
// The bench FLUSHDBs the Redis database it is given, so it refuses port 6379 (the default and
// shared instance) and non-loopback hosts unless --i-know is passed, and it refuses a database
// holding keys that are not smsdispatch's or asynq's.
//
// Nothing is short-circuited: the job is stored and enqueued by client.Send, the worker is the
// cmd/worker program in its own process (built with go build, or --worker-bin) configured only
// through its environment variables, and the sandbox is reached over loopback HTTP. The sandbox
// runs in the bench process behind a thin recorder that notes when each SendSms call arrives
// (for the OTP latency) and hands the sandbox the request unchanged.
//
// Phases, in order: enqueue (worker not running yet, so the memory figure is the queued job),
// dispatch (worker started; OTPs sent every --otp-every from the first bulk SendSms until every
// bulk number is settled; worker stopped with SIGTERM), then the raw ceiling: --concurrency
// goroutines calling tencentsms.Client.SendSms with the same 200 numbers against the same sandbox
// for --raw-duration. The raw phase runs last so its receipts never reach the worker's receipt
// puller during the dispatch.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/smsdispatch/smsdispatch/internal/version"
)

func main() {
	if version.Requested(os.Args[1:]) {
		fmt.Fprintln(os.Stdout, version.String("bench"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	b := &bench{opts: opts, log: stderr}
	res, err := b.run(ctx)
	if res != nil {
		printReport(stdout, res)
		if opts.jsonOut != "" {
			if werr := writeJSON(opts.jsonOut, res); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	return err
}
