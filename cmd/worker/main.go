// Command worker runs smsdispatch's asynq workers: it sends the batches of every job enqueued in
// Redis through the Tencent Cloud SMS API under a fleet-wide rate limit, reconciles unknown
// outcomes, pulls delivery receipts and serves /metrics, /healthz and /readyz.
//
// Every setting is an environment variable and also a flag (flags win); see `worker --help` and
// the README's configuration table. With no settings at all it runs in zero-setup mode: an
// in-process sandbox of the Tencent API instead of Tencent, and, when nothing answers on
// 127.0.0.1:6379, an embedded in-memory Redis there. It says so loudly on stderr.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/tencentsms"
	"github.com/smsdispatch/smsdispatch/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling: a second Ctrl-C ends the process
		// at once instead of waiting for the graceful shutdown.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	code := 0
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

// runEnv holds the fixed addresses of zero-setup mode, which tests replace (tests must never bind
// or dial 127.0.0.1:6379), and a hook called once the worker has started.
type runEnv struct {
	localRedisAddr string               // where an unset REDIS_URL points, and the embedded Redis listens
	sandboxAddr    string               // preferred address of the in-process sandbox (a free port if taken)
	started        func(*worker.Worker) // nil in production
}

func defaultEnv() runEnv {
	return runEnv{localRedisAddr: "127.0.0.1:6379", sandboxAddr: "127.0.0.1:9000"}
}

// run is the whole program: load and validate the settings, connect to (or embed) Redis, start
// the sandbox in zero-setup mode, run the worker until ctx ends, then shut down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return defaultEnv().run(ctx, args, getenv, stderr)
}

func (e runEnv) run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) (err error) {
	cfg, err := load(args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	defer func() { _ = logger.Sync() }()

	// Cleanups run in reverse order once the worker has shut down.
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	rdb, stopRedis, err := e.openRedis(ctx, cfg, logger, stderr)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopRedis)

	wc := cfg.workerConfig()
	wc.Redis = rdb
	wc.Tencent = tencentsms.Config{
		SecretID:  cfg.SecretID,
		SecretKey: cfg.SecretKey,
		Region:    cfg.Region,
		Endpoint:  cfg.Endpoint,
		MaxConns:  cfg.Concurrency + cfg.OTPConcurrency + cfg.MaintConcurrency,
	}
	if cfg.Sandbox() {
		url, stopSandbox, err := e.startSandbox(cfg, logger)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stopSandbox)
		wc.Tencent.SecretID, wc.Tencent.SecretKey, wc.Tencent.Endpoint = sandbox.DefaultSecretID, sandbox.DefaultSecretKey, url
		if wc.AppID == "" {
			wc.AppID = sandbox.DefaultAppID
		}
		if wc.SignName == "" {
			wc.SignName = sandbox.DefaultSignName
		}
		logger.Warn("SANDBOX MODE: no TENCENTCLOUD_SECRET_ID/SMS_ENDPOINT set; messages go to an in-process fake Tencent API, nothing is really sent",
			zap.String("sandbox_url", url), zap.String("app_id", wc.AppID), zap.String("sign_name", wc.SignName))
		banner(stderr,
			"SANDBOX MODE: no TENCENTCLOUD_SECRET_ID/SMS_ENDPOINT set; messages go to an in-process fake Tencent API at "+url+", nothing is really sent.",
			fmt.Sprintf("Sandbox app %s, sign %q, templates %s (OTP, 2 params), %s, %s, %s, %s.", wc.AppID, wc.SignName,
				sandbox.TemplateOTP, sandbox.TemplateNotice, sandbox.TemplateMarketing, sandbox.TemplateGreeting, sandbox.TemplateIntlOTP),
			"For production set TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, SMS_SDK_APP_ID and SMS_SIGN_NAME.")
	} else if cfg.SignName == "" {
		logger.Warn("SMS_SIGN_NAME is not set: domestic jobs must name their sign")
	}

	w, err := worker.New(wc, logger, nil)
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	if e.started != nil {
		e.started(w)
	}

	<-ctx.Done()
	logger.Info("shutting down", zap.Duration("shutdown_timeout", cfg.ShutdownTimeout))
	// asynq waits ShutdownTimeout for running handlers; the rest (loops, HTTP) gets a few seconds.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout+5*time.Second)
	defer cancel()
	if err := w.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// openRedis returns the Redis client the worker uses and a function that closes it (and stops the
// embedded Redis, if any).
func (e runEnv) openRedis(ctx context.Context, cfg Config, logger *zap.Logger, stderr io.Writer) (redis.UniversalClient, func(), error) {
	switch {
	case len(cfg.RedisClusterNodes) > 0:
		opt := &redis.ClusterOptions{
			Addrs:    cfg.RedisClusterNodes,
			Username: cfg.RedisClusterUsername,
			Password: cfg.RedisClusterPassword,
		}
		if cfg.RedisClusterTLS {
			opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		rdb := redis.NewClusterClient(opt)
		if err := ping(ctx, rdb); err != nil {
			_ = rdb.Close()
			return nil, nil, fmt.Errorf("REDIS_CLUSTER_NODES: %s does not answer: %w", strings.Join(cfg.RedisClusterNodes, ","), err)
		}
		logger.Info("redis cluster", zap.Strings("nodes", cfg.RedisClusterNodes))
		return rdb, func() { _ = rdb.Close() }, nil

	case cfg.RedisURLSet:
		opt, err := redis.ParseURL(cfg.RedisURL) // checked by Load
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %s", redactErr(err, cfg.RedisURL))
		}
		rdb := redis.NewClient(opt)
		if err := ping(ctx, rdb); err != nil {
			_ = rdb.Close()
			return nil, nil, fmt.Errorf("REDIS_URL: %s does not answer: %w", redactURL(cfg.RedisURL), err)
		}
		logger.Info("redis", zap.String("url", redactURL(cfg.RedisURL)))
		return rdb, func() { _ = rdb.Close() }, nil
	}

	// REDIS_URL unset: the local Redis if something answers there, else an embedded one.
	url := "redis://" + e.localRedisAddr + "/0"
	var mr *miniredis.Miniredis
	if !answers(ctx, e.localRedisAddr) {
		mr = miniredis.NewMiniRedis()
		if err := mr.StartAddr(e.localRedisAddr); err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: unset, nothing answers on %s, and an embedded Redis cannot listen there: %w", e.localRedisAddr, err)
		}
		logger.Warn("EMBEDDED REDIS: REDIS_URL is unset and nothing answered, serving an in-memory Redis (not durable)",
			zap.String("addr", e.localRedisAddr))
		banner(stderr,
			"EMBEDDED REDIS: REDIS_URL is unset and nothing answers on "+e.localRedisAddr+"; serving an in-memory Redis (miniredis) there for `enqueue` to reach.",
			"NOT DURABLE: every job, batch and receipt is lost when this worker stops. Set REDIS_URL for a real Redis.")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		if mr != nil {
			mr.Close()
		}
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	stopClock := func() {}
	if mr != nil {
		stopClock = runTTLClock(mr, time.Second)
	}
	stop := func() {
		_ = rdb.Close()
		if mr != nil {
			stopClock()
			mr.Close()
		}
	}
	if err := ping(ctx, rdb); err != nil {
		stop()
		return nil, nil, fmt.Errorf("REDIS_URL: unset, and %s does not answer as a Redis: %w", e.localRedisAddr, err)
	}
	if mr == nil {
		logger.Info("redis", zap.String("url", url))
	}
	return rdb, stop, nil
}

// runTTLClock makes the embedded Redis's key TTLs (leases, retention) run down with the wall
// clock, by fast-forwarding them every tick: miniredis only expires keys on FastForward, and its
// ClockTTL mode re-sorts every key on every command, which is far too slow for large jobs.
func runTTLClock(mr *miniredis.Miniredis, tick time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(tick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func ping(ctx context.Context, rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

// answers reports whether a TCP connection to addr succeeds.
func answers(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// startSandbox serves the sandbox in-process on e.sandboxAddr, or a free port if that is taken.
// It adopts SMS_SDK_APP_ID and SMS_SIGN_NAME when they are set.
func (e runEnv) startSandbox(cfg Config, logger *zap.Logger) (url string, stop func(), err error) {
	sc := sandbox.DefaultConfig()
	sc.Logger = logger.Named("sandbox")
	if cfg.AppID != "" {
		sc.AppID = cfg.AppID
	}
	if cfg.SignName != "" {
		sc.SignNames = append(sc.SignNames, cfg.SignName)
	}
	sb, err := sandbox.New(sc)
	if err != nil {
		return "", nil, fmt.Errorf("sandbox: %w", err)
	}
	ln, err := net.Listen("tcp", e.sandboxAddr)
	if err != nil {
		logger.Info("sandbox address taken, using a free port", zap.String("addr", e.sandboxAddr), zap.Error(err))
		host, _, _ := net.SplitHostPort(e.sandboxAddr)
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			_ = sb.Close()
			return "", nil, fmt.Errorf("sandbox: listen: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sb.Serve(ctx, ln); err != nil {
			logger.Error("sandbox stopped", zap.Error(err))
		}
	}()
	stop = func() {
		cancel()
		<-done
		_ = sb.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// banner writes lines framed by stars, so that they stand out from the JSON log lines.
func banner(w io.Writer, lines ...string) {
	rule := strings.Repeat("*", 100)
	var b strings.Builder
	b.WriteString("\n" + rule + "\n")
	for _, l := range lines {
		b.WriteString("* " + l + "\n")
	}
	b.WriteString(rule + "\n\n")
	_, _ = io.WriteString(w, b.String())
}

func newLogger(cfg Config, w io.Writer) *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.LogFormat == "console" {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), cfg.LogLevel)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w))))
}
