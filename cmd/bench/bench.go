package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// Results is everything the bench measured (also the --json-out document).
type Results struct {
	Env      EnvInfo        `json:"env"`
	Enqueue  EnqueueResult  `json:"enqueue"`
	Memory   MemoryResult   `json:"memory"`
	Dispatch DispatchResult `json:"dispatch"`
	OTP      OTPResult      `json:"otp"`
	Raw      RawSummary     `json:"raw"`
	Sandbox  SandboxResult  `json:"sandbox"`
	Errors   []string       `json:"errors,omitempty"`
}

// EnvInfo describes the machine and the run's settings.
type EnvInfo struct {
	GoVersion    string `json:"go_version"`
	NumCPU       int    `json:"num_cpu"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	CPUModel     string `json:"cpu_model"`
	RedisVersion string `json:"redis_version"`
	Numbers      int    `json:"numbers"`
	Concurrency  int    `json:"concurrency"`
	RateLimit    int    `json:"rate_limit"`
	Priority     string `json:"priority"`
	OTPEveryMs   int64  `json:"otp_every_ms"`
	Started      string `json:"started"`
	LoadBefore   string `json:"loadavg_before"` // /proc/loadavg: the box is shared
	LoadAfter    string `json:"loadavg_after"`
}

// EnqueueResult is phase 2: client.Send of the bulk job.
type EnqueueResult struct {
	WallMs        int64   `json:"wall_ms"`
	NumbersPerSec float64 `json:"numbers_per_sec"`
	Accepted      int     `json:"accepted"`
	Rejected      int     `json:"rejected"`
	Batches       int     `json:"batches"`
	JobID         string  `json:"job_id"`
}

// MemoryResult is phase 3: Redis memory of the queued job.
type MemoryResult struct {
	UsedBefore          int64   `json:"used_memory_before"`
	UsedAfter           int64   `json:"used_memory_after"`
	BytesPerNumber      float64 `json:"bytes_per_number"`       // (after - before) / numbers: job records and asynq tasks
	StoreBytesPerNumber float64 `json:"store_bytes_per_number"` // store.MemoryPerNumber: MEMORY USAGE of the job's keys
}

// DispatchResult is phase 4: the worker draining the job.
type DispatchResult struct {
	ReadyMs             int64   `json:"ready_ms"`      // worker start to /readyz 200
	FirstSendMs         int64   `json:"first_send_ms"` // worker start to its first SendSms
	WallMs              int64   `json:"wall_ms"`       // worker start to every number settled
	NumbersPerSec       float64 `json:"numbers_per_sec"`
	SteadyNumbersPerSec float64 `json:"steady_numbers_per_sec"` // median of 1 s windows
	RatioToRaw          float64 `json:"ratio_to_raw"`
	Sent                int64   `json:"sent"`
	Failed              int64   `json:"failed"`
	Unknown             int64   `json:"unknown"`
	Delivered           int64   `json:"delivered"`
	Undelivered         int64   `json:"undelivered"`
	ReceiptsAllMs       int64   `json:"receipts_all_ms,omitempty"` // worker start to delivered+undelivered == sent
	SendCalls           int     `json:"send_calls"`
	PeakCallsPerSecond  int     `json:"peak_calls_in_any_second"`
	WorkerPeakRSS       int64   `json:"worker_peak_rss_bytes"` // VmHWM
	WorkerMaxRSS        int64   `json:"worker_max_sampled_rss_bytes"`
	RSSSamples          int     `json:"rss_samples"`
	WorkerCPUSeconds    float64 `json:"worker_cpu_seconds"`
	RedisCPUSeconds     float64 `json:"redis_cpu_seconds"`
	BenchCPUSeconds     float64 `json:"bench_cpu_seconds"` // sandbox, status polls, OTP producer
	CPUMicrosPerNumber  float64 `json:"cpu_us_per_number"` // (worker + redis + bench) CPU / numbers
	CPURatioToRaw       float64 `json:"cpu_ratio_to_raw"`  // raw CPU per number / dispatch CPU per number
	TaskMeanMs          float64 `json:"send_task_mean_ms"` // worker metrics: send_batch handler
	SendSmsMeanMs       float64 `json:"sendsms_mean_ms"`   // worker metrics: SendSms call
	RateWaitMeanMs      float64 `json:"ratelimit_wait_mean_ms"`
	WorkerMetrics       string  `json:"worker_metrics_file,omitempty"`
	// RedisTop is the INFO commandstats diff over the dispatch; commands run inside scripts
	// count both on their own line and in the script's (evalsha) time.
	RedisTop  []cmdStat `json:"redis_top_commands"`
	ExitMs    int64     `json:"exit_ms"`
	CleanExit bool      `json:"clean_exit"`
	ExitError string    `json:"exit_error,omitempty"`
	WorkerLog string    `json:"worker_log"`
	Settled   bool      `json:"settled"`
}

// OTPResult is phase 5: OTP jobs sent while the bulk job drained.
type OTPResult struct {
	Sent       int     `json:"sent"`
	SendErrors int     `json:"send_errors"`
	Arrived    int     `json:"arrived"`
	Missing    int     `json:"missing"`
	Latency    Summary `json:"enqueue_to_sendsms"` // from the start of client.Send to the SendSms arrival
	SendCall   Summary `json:"send_call"`          // duration of client.Send itself
	Pickup     Summary `json:"return_to_sendsms"`  // from client.Send's return to the SendSms arrival
}

// RawSummary is phase 1, measured before and after the dispatch (the box is shared and noisy):
// the medians of the runs, and each run.
type RawSummary struct {
	CallsPerSec        float64     `json:"calls_per_sec"`
	NumbersPerSec      float64     `json:"numbers_per_sec"`
	CPUMicrosPerNumber float64     `json:"cpu_us_per_number"`
	Runs               []RawResult `json:"runs"`
}

// RawResult is one run of phase 1: SendSms straight from tencentsms.Client.
type RawResult struct {
	When               string  `json:"when"` // before or after the dispatch
	DurationMs         int64   `json:"duration_ms"`
	Concurrency        int     `json:"concurrency"`
	Calls              int64   `json:"calls"`
	Errors             int64   `json:"errors"`
	CallsPerSec        float64 `json:"calls_per_sec"`
	NumbersPerSec      float64 `json:"numbers_per_sec"`
	MedianCallsPerSec  float64 `json:"median_calls_per_sec"` // median of 1 s windows
	PeakCallsPerSecond int     `json:"peak_calls_in_any_second"`
	BenchCPUSeconds    float64 `json:"bench_cpu_seconds"` // the whole run, warm-up included
	CPUMicrosPerNumber float64 `json:"cpu_us_per_number"` // bench CPU / numbers accepted in the whole run
	FirstError         string  `json:"first_error,omitempty"`
}

// SandboxResult is the sandbox's counters at the end of the dispatch (before the raw phase,
// whose repeated numbers would count as duplicates).
type SandboxResult struct {
	SendCalls      int64            `json:"sendsms_calls"`
	PullCalls      int64            `json:"pull_calls"`
	NumbersSent    int64            `json:"numbers_sent"`
	DuplicateSends int64            `json:"duplicate_sends"`
	LargestBatch   int              `json:"largest_batch"`
	Errors         map[string]int64 `json:"errors,omitempty"`
	NumberErrors   map[string]int64 `json:"number_errors,omitempty"`
	Receipts       int64            `json:"receipts_created"`
	ReceiptsPulled int64            `json:"receipts_pulled"`
}

// bench holds one run's shared state.
type bench struct {
	opts options
	log  io.Writer

	rdb      *redis.Client
	sb       *sandbox.Server
	rec      *recorder
	endpoint string
	tmp      string
	cl       *client.Client
	res      *Results
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// run runs every phase. It returns the results gathered so far even when a phase fails.
func (b *bench) run(ctx context.Context) (*Results, error) {
	b.res = &Results{Env: EnvInfo{
		GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		Numbers: b.opts.numbers, Concurrency: b.opts.concurrency, RateLimit: b.opts.rateLimit, Priority: b.opts.priority,
		OTPEveryMs: b.opts.otpEvery.Milliseconds(), Started: time.Now().UTC().Format(time.RFC3339), LoadBefore: loadAvg(),
	}}
	var err error
	if b.tmp, err = os.MkdirTemp("", "smsdispatch-bench-"); err != nil {
		return nil, err
	}
	keep := b.opts.keepTemp
	defer func() {
		if !keep {
			_ = os.RemoveAll(b.tmp)
		}
	}()

	if err := b.setupRedis(ctx); err != nil {
		return nil, err
	}
	defer b.rdb.Close()
	stopSandbox, err := b.startSandbox()
	if err != nil {
		return nil, err
	}
	defer stopSandbox()

	bin := b.opts.workerBin
	if bin == "" {
		b.logf("building ./cmd/worker")
		if bin, err = buildWorker(ctx, b.tmp); err != nil {
			return nil, err
		}
	}
	if b.cl, err = client.New(b.rdb, client.Options{AppID: sandbox.DefaultAppID, SignName: sandbox.DefaultSignName}); err != nil {
		return nil, err
	}

	if err := b.rawRun(ctx, "before"); err != nil {
		return b.res, b.fail(fmt.Errorf("raw SendSms ceiling: %w", err))
	}
	if err := b.drainReceipts(ctx); err != nil {
		return b.res, b.fail(fmt.Errorf("drain raw receipts: %w", err))
	}
	b.sb.ResetStats()

	jobID, err := b.enqueue(ctx)
	if err != nil {
		return b.res, b.fail(fmt.Errorf("enqueue: %w", err))
	}
	if err := b.dispatch(ctx, bin, jobID); err != nil {
		keep = true
		return b.res, b.fail(fmt.Errorf("dispatch: %w (worker log kept: %s)", err, b.res.Dispatch.WorkerLog))
	}
	if err := b.rawRun(ctx, "after"); err != nil {
		return b.res, b.fail(fmt.Errorf("raw SendSms ceiling: %w", err))
	}
	b.res.Env.LoadAfter = loadAvg()
	var calls, nums, cpus []float64
	for _, r := range b.res.Raw.Runs {
		calls, nums, cpus = append(calls, r.CallsPerSec), append(nums, r.NumbersPerSec), append(cpus, r.CPUMicrosPerNumber)
	}
	raw, d := &b.res.Raw, &b.res.Dispatch
	raw.CallsPerSec, raw.NumbersPerSec, raw.CPUMicrosPerNumber = median(calls), median(nums), median(cpus)
	if raw.NumbersPerSec > 0 {
		d.RatioToRaw = d.NumbersPerSec / raw.NumbersPerSec
	}
	if d.CPUMicrosPerNumber > 0 {
		d.CPURatioToRaw = raw.CPUMicrosPerNumber / d.CPUMicrosPerNumber
	}
	if !b.res.Dispatch.CleanExit {
		keep = true
	}
	return b.res, nil
}

func (b *bench) fail(err error) error {
	b.res.Errors = append(b.res.Errors, err.Error())
	return err
}

// setupRedis connects, refuses a database holding foreign keys (unless --i-know) and flushes it.
func (b *bench) setupRedis(ctx context.Context) error {
	opt, err := redis.ParseURL(b.opts.redisURL)
	if err != nil {
		return fmt.Errorf("--redis-url: %w", err)
	}
	opt.PoolSize = max(opt.PoolSize, 64)
	b.rdb = redis.NewClient(opt)
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	info, err := b.rdb.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis INFO: %w", err)
	}
	b.res.Env.RedisVersion, _ = infoField(info, "redis_version")
	if !b.opts.iKnow {
		keys, _, err := b.rdb.Scan(ctx, 0, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("redis SCAN: %w", err)
		}
		for _, k := range keys {
			if !benchKey(k) {
				return fmt.Errorf("redis %s db %d holds key %q, which is not smsdispatch's or asynq's: refusing to FLUSHDB it (pass --i-know to override)",
					opt.Addr, opt.DB, k)
			}
		}
	}
	if err := b.rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("redis FLUSHDB: %w", err)
	}
	return nil
}

// startSandbox serves the sandbox (zero latency, no faults, frequency rules off, receipts on)
// behind the recorder on a free loopback port.
func (b *bench) startSandbox() (stop func(), err error) {
	cfg := sandbox.DefaultConfig()
	cfg.FrequencyInterval = 0
	cfg.DailyLimit = 0
	cfg.MarketingHours = false
	cfg.PackageAmount = 0
	cfg.ReceiptDelay = b.opts.receiptDelay
	cfg.Faults = sandbox.Faults{}
	if b.sb, err = sandbox.New(cfg); err != nil {
		return nil, err
	}
	b.rec = newRecorder(b.sb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.endpoint = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: b.rec, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.logf("sandbox at %s", b.endpoint)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = b.sb.Close()
	}, nil
}

// enqueue is phases 2 and 3: client.Send of the bulk job and the Redis memory it takes.
func (b *bench) enqueue(ctx context.Context) (string, error) {
	n := b.opts.numbers
	rs := make([]client.Recipient, n)
	for i := range rs {
		rs[i].Number = cnNumber(bulkBase, i)
	}
	before, err := b.usedMemory(ctx)
	if err != nil {
		return "", err
	}
	b.logf("enqueueing %s numbers with client.Send", fmtCount(int64(n)))
	start := time.Now()
	res, err := b.cl.Send(ctx, client.Request{
		TemplateID: sandbox.TemplateNotice,
		Params:     []string{"bench"},
		Priority:   b.opts.priority,
		Recipients: rs,
	})
	wall := time.Since(start)
	if err != nil {
		return "", err
	}
	rs = nil
	runtime.GC()
	after, err := b.usedMemory(ctx)
	if err != nil {
		return "", err
	}
	e := &b.res.Enqueue
	e.WallMs, e.Accepted, e.Rejected, e.Batches, e.JobID = wall.Milliseconds(), res.Accepted, res.RejectedCount, res.Batches, res.JobID
	e.NumbersPerSec = float64(res.Accepted) / wall.Seconds()
	m := &b.res.Memory
	m.UsedBefore, m.UsedAfter = before, after
	if res.Accepted > 0 {
		m.BytesPerNumber = float64(after-before) / float64(res.Accepted)
	}
	if per, err := b.cl.Store().MemoryPerNumber(ctx, res.JobID); err == nil {
		m.StoreBytesPerNumber = per
	} else {
		b.logf("store.MemoryPerNumber: %v", err)
	}
	b.logf("enqueued job %s: %s numbers in %d batches, %.2f s (%.0f numbers/s); Redis +%s (%.1f B/number)",
		res.JobID, fmtCount(int64(res.Accepted)), res.Batches, wall.Seconds(), e.NumbersPerSec, mib(after-before), m.BytesPerNumber)
	if res.Accepted != n {
		return res.JobID, fmt.Errorf("accepted %d of %d generated numbers (%d rejected)", res.Accepted, n, res.RejectedCount)
	}
	return res.JobID, nil
}

func (b *bench) usedMemory(ctx context.Context) (int64, error) {
	info, err := b.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO memory: %w", err)
	}
	return infoInt(info, "used_memory")
}

func (b *bench) redisCPU(ctx context.Context) time.Duration {
	info, err := b.rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	u, err1 := infoSeconds(info, "used_cpu_user")
	s, err2 := infoSeconds(info, "used_cpu_sys")
	if err1 != nil || err2 != nil {
		return 0
	}
	return u + s
}

func (b *bench) commandStats(ctx context.Context) map[string]cmdStat {
	info, err := b.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil
	}
	return parseCommandStats(info)
}

// selfCPU is the bench process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// otpSample is one OTP job sent while the bulk job drained.
type otpSample struct {
	number     string
	start, end time.Time
	err        error
}

// dispatch is phases 4 and 5: start the worker, poll the job's status until every number is
// settled, send OTPs meanwhile, then stop the worker with SIGTERM.
func (b *bench) dispatch(ctx context.Context, bin, jobID string) error {
	d := &b.res.Dispatch
	metricsAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	settings := map[string]string{
		"REDIS_URL":               b.opts.redisURL,
		"SMS_ENDPOINT":            b.endpoint,
		"TENCENTCLOUD_SECRET_ID":  sandbox.DefaultSecretID,
		"TENCENTCLOUD_SECRET_KEY": sandbox.DefaultSecretKey,
		"SMS_SDK_APP_ID":          sandbox.DefaultAppID,
		"SMS_SIGN_NAME":           sandbox.DefaultSignName,
		"SMS_RATE_LIMIT":          strconv.Itoa(b.opts.rateLimit),
		"WORKER_CONCURRENCY":      strconv.Itoa(b.opts.concurrency),
		"METRICS_ADDR":            metricsAddr,
	}
	if b.opts.otpConc > 0 {
		settings["OTP_CONCURRENCY"] = strconv.Itoa(b.opts.otpConc)
	}
	if b.opts.pullInterval > 0 {
		settings["SMS_STATUS_PULL_INTERVAL"] = b.opts.pullInterval.String()
	}
	d.WorkerLog = filepath.Join(b.tmp, "worker.log")

	redisCPU0, benchCPU0 := b.redisCPU(ctx), selfCPU()
	cmds0 := b.commandStats(ctx)
	w, err := startWorker(bin, childEnv(os.Environ(), settings), d.WorkerLog)
	if err != nil {
		return err
	}
	defer w.kill()
	b.logf("worker pid %d started (concurrency %d, rate limit %d, metrics %s, log %s)",
		w.pid(), b.opts.concurrency, b.opts.rateLimit, metricsAddr, d.WorkerLog)
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = w.waitReady(readyCtx, metricsAddr)
	cancel()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, w.tail(2000))
	}
	d.ReadyMs = time.Since(w.started).Milliseconds()

	// OTP prober: starts with the first bulk SendSms, stops when the bulk job has settled.
	otpStart := make(chan struct{})
	otpStop := make(chan struct{})
	var otps []otpSample
	var otpWG sync.WaitGroup
	if b.opts.otpEvery > 0 {
		otpWG.Add(1)
		go func() {
			defer otpWG.Done()
			select {
			case <-otpStart:
			case <-otpStop:
				return
			}
			otps = b.sendOTPs(ctx, otpStop)
		}()
	}
	stopOTPs := sync.OnceFunc(func() { close(otpStop) })
	defer stopOTPs()

	var (
		points   []progressPoint
		last     store.Status
		settled  bool
		firstAt  time.Time
		lastLog  = time.Now()
		deadline = w.started.Add(b.opts.timeout)
		tick     = time.NewTicker(b.opts.statusEvery)
	)
	defer tick.Stop()
	for !settled {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.exited:
			return fmt.Errorf("worker exited while the job drained (%v)\n%s", w.waitErr, w.tail(2000))
		case <-tick.C:
		}
		if firstAt.IsZero() {
			if t, ok := b.rec.firstCallSince(w.started); ok {
				firstAt = t
				d.FirstSendMs = t.Sub(w.started).Milliseconds()
				close(otpStart)
			}
		}
		st, err := b.cl.Status(ctx, jobID)
		now := time.Now()
		if err != nil {
			return err
		}
		last = st
		done := st.Sent + st.Failed + st.Cancelled
		points = append(points, progressPoint{t: now, done: done})
		switch st.State {
		case store.StateFailed, store.StatePaused, store.StateCancelled:
			return fmt.Errorf("job %s is %s: %+v", jobID, st.State, st)
		}
		settled = st.Total > 0 && st.Pending == 0 && st.Unknown == 0
		if settled {
			d.WallMs = now.Sub(w.started).Milliseconds()
			break
		}
		if now.After(deadline) {
			return fmt.Errorf("job not settled %s after the worker started: %d of %d done, %d unknown", b.opts.timeout, done, st.Total, st.Unknown)
		}
		if now.Sub(lastLog) >= 5*time.Second {
			lastLog = now
			hwm, _, cpu, _ := w.memory()
			b.logf("draining: %s / %s settled (%.0f numbers/s so far), worker VmHWM %s, CPU %.1f s",
				fmtCount(done), fmtCount(st.Total), float64(done)/now.Sub(w.started).Seconds(), mib(hwm), cpu.Seconds())
		}
	}
	stopOTPs()
	otpWG.Wait()
	d.Settled = true
	wall := time.Duration(d.WallMs) * time.Millisecond
	d.NumbersPerSec = float64(last.Total) / wall.Seconds()
	d.SteadyNumbersPerSec = median(windowRates(points, last.Total, time.Second))
	calls := b.rec.callsSince(w.started)
	d.SendCalls = len(calls)
	d.PeakCallsPerSecond = maxInWindow(calls, time.Second)
	b.logf("settled after %.2f s: %.0f numbers/s (steady median %.0f)", wall.Seconds(), d.NumbersPerSec, d.SteadyNumbersPerSec)

	// OTP latencies: wait a little for OTPs still on their way, then count the missing ones.
	b.collectOTPs(otps)

	if b.opts.receiptWait > 0 {
		b.waitReceipts(ctx, jobID, w, &last)
	}
	d.Sent, d.Failed, d.Unknown, d.Delivered, d.Undelivered = last.Sent, last.Failed, last.Unknown, last.Delivered, last.Undelivered

	b.scrapeWorkerMetrics(ctx, metricsAddr)
	hwm, maxRSS, cpu, samples := w.memory()
	took, clean, exitErr := w.stop(30 * time.Second)
	hwm2, maxRSS2, cpu2, samples2 := w.memory()
	d.WorkerPeakRSS, d.WorkerMaxRSS, d.RSSSamples = max(hwm, hwm2), max(maxRSS, maxRSS2), max(samples, samples2)
	d.WorkerCPUSeconds = max(cpu, cpu2).Seconds()
	d.ExitMs, d.CleanExit = took.Milliseconds(), clean
	if exitErr != nil {
		d.ExitError = exitErr.Error()
	}
	d.RedisCPUSeconds = (b.redisCPU(ctx) - redisCPU0).Seconds()
	d.RedisTop = topCommands(cmds0, b.commandStats(ctx), 5)
	d.BenchCPUSeconds = (selfCPU() - benchCPU0).Seconds()
	if b.res.Enqueue.Accepted > 0 {
		d.CPUMicrosPerNumber = 1e6 * (d.WorkerCPUSeconds + d.RedisCPUSeconds + d.BenchCPUSeconds) / float64(b.res.Enqueue.Accepted)
	}
	b.logf("worker stopped with SIGTERM in %d ms (clean: %v); peak RSS %s", d.ExitMs, clean, mib(d.WorkerPeakRSS))
	b.snapshotSandbox()
	return nil
}

// sendOTPs sends one otp job with a new number every --otp-every until stop, one at a time
// (ticks missed while a Send is slow are dropped, as time.Ticker does).
func (b *bench) sendOTPs(ctx context.Context, stop <-chan struct{}) []otpSample {
	var out []otpSample
	t := time.NewTicker(b.opts.otpEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		n := cnNumber(otpBase, i)
		s := otpSample{number: n, start: time.Now()}
		_, s.err = b.cl.Send(ctx, client.Request{
			TemplateID: sandbox.TemplateOTP,
			Params:     []string{strconv.Itoa(100000 + i%900000), "5"},
			Priority:   "otp",
			Recipients: []client.Recipient{{Number: n}},
		})
		s.end = time.Now()
		out = append(out, s)
		select {
		case <-stop:
			return out
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

// collectOTPs waits up to 2 s for OTPs not yet seen at the sandbox and fills the OTP result.
func (b *bench) collectOTPs(otps []otpSample) {
	o := &b.res.OTP
	o.Sent = len(otps)
	deadline := time.Now().Add(2 * time.Second)
	var lat, call, pickup []time.Duration
	for _, s := range otps {
		if s.err != nil {
			o.SendErrors++
			continue
		}
		call = append(call, s.end.Sub(s.start))
		for {
			if at, ok := b.rec.otpArrival(s.number); ok {
				lat = append(lat, at.Sub(s.start))
				pickup = append(pickup, max(at.Sub(s.end), 0))
				break
			}
			if time.Now().After(deadline) {
				o.Missing++
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	o.Arrived = len(lat)
	o.Latency, o.SendCall, o.Pickup = summarize(lat), summarize(call), summarize(pickup)
	if o.Sent > 0 {
		b.logf("OTP: %d sent, %d arrived, p50 %.1f ms, p99 %.1f ms, max %.1f ms", o.Sent, o.Arrived, o.Latency.P50, o.Latency.P99, o.Latency.Max)
	}
}

// waitReceipts polls until every sent number of the job has its receipt applied, or --receipt-wait.
func (b *bench) waitReceipts(ctx context.Context, jobID string, w *workerProc, last *store.Status) {
	deadline := time.Now().Add(b.opts.receiptWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := b.cl.Status(ctx, jobID)
		if err == nil {
			*last = st
			if st.Delivered+st.Undelivered >= st.Sent {
				b.res.Dispatch.ReceiptsAllMs = time.Since(w.started).Milliseconds()
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (b *bench) snapshotSandbox() {
	st := b.sb.Stats()
	b.res.Sandbox = SandboxResult{
		SendCalls: st.Calls["SendSms"], PullCalls: st.Calls["PullSmsSendStatus"], NumbersSent: st.NumbersSent,
		DuplicateSends: st.DuplicateSends, LargestBatch: st.LargestBatch, Errors: st.Errors, NumberErrors: st.NumberErrors,
		Receipts: st.ReceiptsCreated, ReceiptsPulled: st.ReceiptsPulled,
	}
}

// rawRun is one run of phase 1: --concurrency goroutines calling tencentsms.Client.SendSms with
// the same 200 numbers against the sandbox, as fast as they can, for --raw-warmup + --raw-duration.
func (b *bench) rawRun(ctx context.Context, when string) error {
	c := b.opts.concurrency
	tc, err := tencentsms.New(tencentsms.Config{
		SecretID: sandbox.DefaultSecretID, SecretKey: sandbox.DefaultSecretKey,
		Endpoint: b.endpoint, MaxConns: c,
	})
	if err != nil {
		return err
	}
	defer tc.Close()
	numbers := make([]string, tencentsms.MaxPhoneNumbers)
	for i := range numbers {
		numbers[i] = cnNumber(rawBase, i)
	}
	req := tencentsms.SendRequest{
		AppID: sandbox.DefaultAppID, SignName: sandbox.DefaultSignName, TemplateID: sandbox.TemplateNotice,
		TemplateParams: []string{"bench"}, PhoneNumbers: numbers,
		SessionContext: store.SessionContext(client.NewJobID(), 0, 1), // as long as the worker's
	}
	b.logf("raw SendSms ceiling (%s the dispatch): %d goroutines, %s warm-up + %s", when, c, b.opts.rawWarmup, b.opts.rawDuration)

	var (
		stop     atomic.Bool
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
		ends     = make([][]time.Time, c)
		oks      = make([][]int, c)
	)
	start := time.Now()
	from, to := start.Add(b.opts.rawWarmup), start.Add(b.opts.rawWarmup+b.opts.rawDuration)
	cpu0 := selfCPU()
	for g := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				res, err := tc.SendSms(ctx, req)
				end := time.Now()
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok := 0
				for _, s := range res.Statuses {
					if s.OK() {
						ok++
					}
				}
				ends[g] = append(ends[g], end)
				oks[g] = append(oks[g], ok)
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(to)):
	}
	stop.Store(true)
	wg.Wait()
	cpu := selfCPU() - cpu0
	if err := ctx.Err(); err != nil {
		return err
	}

	var all []time.Time
	var calls, nums, allNums int64
	for g := range c {
		for i, t := range ends[g] {
			all = append(all, t)
			allNums += int64(oks[g][i])
			if !t.Before(from) && t.Before(to) {
				calls++
				nums += int64(oks[g][i])
			}
		}
	}
	slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
	r := &RawResult{When: when}
	r.DurationMs, r.Concurrency, r.Calls, r.Errors = b.opts.rawDuration.Milliseconds(), c, calls, errs.Load()
	r.CallsPerSec = float64(calls) / b.opts.rawDuration.Seconds()
	r.NumbersPerSec = float64(nums) / b.opts.rawDuration.Seconds()
	r.MedianCallsPerSec = median(perWindowCounts(all, from, to, time.Second))
	var inWindow []time.Time
	for _, t := range all {
		if !t.Before(from) && t.Before(to) {
			inWindow = append(inWindow, t)
		}
	}
	r.PeakCallsPerSecond = maxInWindow(inWindow, time.Second)
	r.BenchCPUSeconds = cpu.Seconds()
	if allNums > 0 {
		r.CPUMicrosPerNumber = 1e6 * cpu.Seconds() / float64(allNums)
	}
	if v, ok := firstErr.Load().(string); ok {
		r.FirstError = v
	}
	b.res.Raw.Runs = append(b.res.Raw.Runs, *r)
	b.logf("raw (%s): %.0f calls/s, %.0f numbers/s, %.1f CPU µs/number, %d errors", when, r.CallsPerSec, r.NumbersPerSec, r.CPUMicrosPerNumber, r.Errors)
	if r.Errors > 0 {
		return fmt.Errorf("%d SendSms errors, first: %s", r.Errors, r.FirstError)
	}
	return nil
}

// drainReceipts pulls (and drops) every receipt of the raw run's sends, so that the worker's
// receipt puller meets only the dispatch's receipts. It waits for them to become pullable first.
func (b *bench) drainReceipts(ctx context.Context) error {
	start := time.Now()
	pending := b.sb.Stats().ReceiptsPending
	if pending == 0 {
		return nil
	}
	b.logf("draining %s receipts of the raw run from the sandbox", fmtCount(pending))
	tc, err := tencentsms.New(tencentsms.Config{
		SecretID: sandbox.DefaultSecretID, SecretKey: sandbox.DefaultSecretKey,
		Endpoint: b.endpoint, MaxConns: b.opts.concurrency,
	})
	if err != nil {
		return err
	}
	defer tc.Close()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.opts.receiptDelay + 100*time.Millisecond):
	}
	for b.sb.Stats().ReceiptsPending > 0 {
		var wg sync.WaitGroup
		var firstErr atomic.Value
		for range b.opts.concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					page, err := tc.PullSendStatus(ctx, sandbox.DefaultAppID, tencentsms.MaxPullLimit)
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					if len(page) < tencentsms.MaxPullLimit {
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, ok := firstErr.Load().(error); ok {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("%d receipts still pending after 5 minutes", b.sb.Stats().ReceiptsPending)
		}
	}
	b.logf("drained in %.1f s", time.Since(start).Seconds())
	return nil
}

// scrapeWorkerMetrics reads the worker's /metrics, keeps the text next to its log and extracts
// the mean send-task time, SendSms latency and rate-limiter wait.
func (b *bench) scrapeWorkerMetrics(ctx context.Context, addr string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		b.logf("worker /metrics: %v", err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return
	}
	text := string(body)
	d := &b.res.Dispatch
	d.WorkerMetrics = filepath.Join(b.tmp, "worker-metrics.txt")
	_ = os.WriteFile(d.WorkerMetrics, body, 0o644)
	d.TaskMeanMs = histMeanMs(text, "smsdispatch_worker_task_duration_seconds", `type="sms:send_batch"`)
	d.SendSmsMeanMs = histMeanMs(text, "smsdispatch_sendsms_duration_seconds", "")
	d.RateWaitMeanMs = histMeanMs(text, "smsdispatch_ratelimit_wait_seconds", `api="SendSms"`)
}

// histMeanMs is a Prometheus histogram's mean (sum / count) in milliseconds, 0 when absent.
func histMeanMs(text, name, label string) float64 {
	sum, ok1 := metricSum(text, name+"_sum", label)
	count, ok2 := metricSum(text, name+"_count", label)
	if !ok1 || !ok2 || count == 0 {
		return 0
	}
	return 1000 * sum / count
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	v, ok := infoField(strings.ReplaceAll(string(b), "\t", ""), "model name")
	if !ok {
		return ""
	}
	return strings.TrimSpace(v)
}
