package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/worker"
)

// options are the bench's settings.
type options struct {
	numbers      int
	redisURL     string
	iKnow        bool
	workerBin    string
	concurrency  int
	otpConc      int
	otpEvery     time.Duration
	rateLimit    int
	rawDuration  time.Duration
	rawWarmup    time.Duration
	statusEvery  time.Duration
	timeout      time.Duration
	pullInterval time.Duration
	receiptDelay time.Duration
	receiptWait  time.Duration
	priority     string
	jsonOut      string
	cpuProfile   string
	keepTemp     bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.numbers, "numbers", 1_000_000, "distinct +86 numbers in the bulk job (1..10,000,000)")
	fs.StringVar(&o.redisURL, "redis-url", getenv("REDIS_URL"), "Redis URL (default $REDIS_URL); its database is FLUSHed")
	fs.BoolVar(&o.iKnow, "i-know", false, "allow port 6379, a non-loopback host or a database holding foreign keys (it is FLUSHed)")
	fs.StringVar(&o.workerBin, "worker-bin", "", "worker binary to run (default: go build ./cmd/worker into a temp dir)")
	fs.IntVar(&o.concurrency, "concurrency", worker.DefaultConcurrency, "WORKER_CONCURRENCY of the worker, and goroutines of the raw SendSms ceiling")
	fs.IntVar(&o.otpConc, "otp-concurrency", 0, "OTP_CONCURRENCY of the worker (0: the worker's default)")
	fs.DurationVar(&o.otpEvery, "otp-every", 100*time.Millisecond, "interval between OTP jobs while the bulk job drains (0: no OTPs)")
	fs.IntVar(&o.rateLimit, "rate-limit", 100_000, "SMS_RATE_LIMIT of the worker (high, so that it is not the bottleneck)")
	fs.DurationVar(&o.rawDuration, "raw-duration", 10*time.Second, "measured duration of the raw SendSms ceiling")
	fs.DurationVar(&o.rawWarmup, "raw-warmup", time.Second, "unmeasured warm-up before the raw SendSms ceiling")
	fs.DurationVar(&o.statusEvery, "status-every", 250*time.Millisecond, "Status poll interval while the job drains")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up when the job has not settled this long after the worker started")
	fs.DurationVar(&o.pullInterval, "status-pull-interval", 0, "SMS_STATUS_PULL_INTERVAL of the worker (0: the worker's default)")
	fs.DurationVar(&o.receiptDelay, "receipt-delay", 2*time.Second, "sandbox delay before a receipt becomes pullable")
	fs.DurationVar(&o.receiptWait, "receipt-wait", 0, "after the sends settle, wait up to this long for every receipt to be applied (0: do not wait)")
	fs.StringVar(&o.priority, "priority", tasks.PriorityBulk, "priority of the big job (bulk or normal)")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the results as JSON to this file")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process (sandbox, producer, raw client) to this file")
	fs.BoolVar(&o.keepTemp, "keep-temp", false, "keep the temp dir (worker binary and log) after a successful run")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bench --redis-url redis://127.0.0.1:PORT/0 [flags]   (scripts/bench.sh starts a private Redis)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.redisURL == "":
		return o, fmt.Errorf("--redis-url (or REDIS_URL) is required: the bench needs a real, private Redis (scripts/bench.sh starts one)")
	case o.numbers < 1 || o.numbers > 10_000_000:
		return o, fmt.Errorf("--numbers %d: want 1..10,000,000", o.numbers)
	case o.concurrency < 1:
		return o, fmt.Errorf("--concurrency %d: want >= 1", o.concurrency)
	case o.otpConc < 0:
		return o, fmt.Errorf("--otp-concurrency %d: want >= 0", o.otpConc)
	case o.rateLimit < 1:
		return o, fmt.Errorf("--rate-limit %d: want >= 1", o.rateLimit)
	case o.rawDuration <= 0 || o.rawWarmup < 0 || o.statusEvery <= 0 || o.timeout <= 0 || o.otpEvery < 0 ||
		o.pullInterval < 0 || o.receiptDelay < 0 || o.receiptWait < 0:
		return o, fmt.Errorf("durations must be positive (--otp-every, --status-pull-interval, --receipt-* and --raw-warmup may be 0)")
	case o.priority != tasks.PriorityBulk && o.priority != tasks.PriorityNormal:
		return o, fmt.Errorf("--priority %q: want bulk or normal", o.priority)
	}
	if err := checkRedisTarget(o.redisURL, o.iKnow); err != nil {
		return o, err
	}
	return o, nil
}
