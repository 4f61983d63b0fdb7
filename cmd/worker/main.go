// Command worker runs smsdispatch's asynq workers: it sends the batches of every job enqueued in
// Redis through the Tencent Cloud SMS API under a fleet-wide rate limit, reconciles unknown
// outcomes, pulls delivery receipts and serves /metrics, /healthz and /readyz.
//
// Every setting is an environment variable and also a flag (flags win); see `worker --help` and
// the README's configuration table. With no settings at all it runs in zero-setup mode: an
// in-process sandbox of the Tencent API instead of Tencent, and, when nothing answers on
// 127.0.0.1:6379, an embedded in-memory Redis there. It says so loudly on stderr. The embedded
// Redis is served only in sandbox mode: with credentials or SMS_ENDPOINT, REDIS_URL unset and
// nothing on 127.0.0.1:6379, the worker refuses to start. The first zero-setup worker on a Redis
// records its sandbox there; later zero-setup workers on the same Redis send through it.
//
// At start the worker checks the Redis settings that decide whether job records survive: a
// maxmemory-policy other than noeviction stops start-up, no persistence (neither AOF nor RDB) is
// a warning, a Redis that refuses CONFIG and INFO is used with a warning.
//
// Exit status: 0 after a clean shutdown (or --help), 2 for a configuration error (a missing,
// malformed or conflicting setting, REDIS_URL unset outside sandbox mode, a Redis that may evict
// keys), 1 for any other failure (Redis does not answer, shutdown failed).
package main

import (
	"context"
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

	"github.com/smsdispatch/smsdispatch/internal/redisconf"
	"github.com/smsdispatch/smsdispatch/internal/version"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
	"github.com/smsdispatch/smsdispatch/worker"
)

func main() {
	if version.Requested(os.Args[1:]) {
		fmt.Fprintln(os.Stdout, version.String("worker"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling: a second Ctrl-C ends the process
		// at once instead of waiting for the graceful shutdown.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	code := exitCode(err)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
	}
	os.Exit(code)
}

// configError marks an error caused by the settings (or by the Redis server's settings): the
// program exits 2 on it.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// exitCode is the exit status for run's error: 0 none (or --help), 2 configuration, 1 other.
func exitCode(err error) int {
	var ce configError
	var wce *worker.ConfigError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ce), errors.As(err, &wce):
		return 2
	}
	return 1
}

// runEnv holds the fixed addresses of zero-setup mode, which tests replace (tests must never bind
// or dial 127.0.0.1:6379), and a hook called once the worker has started.
type runEnv struct {
	localRedisAddr string               // where an unset REDIS_URL points, and the embedded Redis listens
	sandboxAddr    string               // preferred address of the in-process sandbox (a free port if taken)
	sandboxTTL     time.Duration        // TTL of the shared sandbox's record (0: defaultSandboxTTL)
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
		return configError{err}
	}
	if err := cfg.Validate(); err != nil {
		return configError{err}
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

	rdb, stopRedis, embedded, err := e.openRedis(ctx, cfg, logger, stderr)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopRedis)
	st := store.New(rdb, store.Options{})
	if !embedded {
		if err := checkRedis(ctx, st, logger); err != nil {
			return err
		}
	}

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
		sb, err := e.openSandbox(ctx, cfg, st, logger)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, sb.close)
		wc.Tencent.SecretID, wc.Tencent.SecretKey, wc.Tencent.Endpoint = sandbox.DefaultSecretID, sandbox.DefaultSecretKey, sb.url
		if wc.AppID == "" {
			wc.AppID = sb.appID
		}
		if wc.SignName == "" {
			wc.SignName = sandbox.DefaultSignName
		}
		where := "an in-process fake Tencent API at " + sb.url
		if sb.shared {
			where = "the fake Tencent API at " + sb.url + " that another zero-setup worker on this Redis serves (recorded in Redis)"
			logger.Warn("SANDBOX MODE: no TENCENTCLOUD_SECRET_ID/SMS_ENDPOINT set; messages go to the sandbox another zero-setup worker on this Redis serves, nothing is really sent",
				zap.String("sandbox_url", sb.url), zap.Bool("shared", true), zap.String("app_id", wc.AppID), zap.String("sign_name", wc.SignName))
		} else {
			logger.Warn("SANDBOX MODE: no TENCENTCLOUD_SECRET_ID/SMS_ENDPOINT set; messages go to an in-process fake Tencent API, nothing is really sent",
				zap.String("sandbox_url", sb.url), zap.Bool("shared", false), zap.String("app_id", wc.AppID), zap.String("sign_name", wc.SignName))
		}
		banner(stderr,
			"SANDBOX MODE: no TENCENTCLOUD_SECRET_ID/SMS_ENDPOINT set; messages go to "+where+", nothing is really sent.",
			fmt.Sprintf("Sandbox app %s, sign %q, templates %s (OTP, 2 params), %s, %s, %s, %s.", wc.AppID, wc.SignName,
				sandbox.TemplateOTP, sandbox.TemplateNotice, sandbox.TemplateMarketing, sandbox.TemplateGreeting, sandbox.TemplateIntlOTP),
			"Later zero-setup workers on the same Redis send through this sandbox too.",
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

// openRedis returns the Redis client the worker uses, a function that closes it (and stops the
// embedded Redis, if any), and whether that Redis is the embedded one.
func (e runEnv) openRedis(ctx context.Context, cfg Config, logger *zap.Logger, stderr io.Writer) (redis.UniversalClient, func(), bool, error) {
	if cfg.Redis.Source() != redisconf.EnvURL || cfg.RedisURLSet {
		rdb, err := cfg.Redis.NewClient()
		if err != nil {
			return nil, nil, false, configError{err} // checked by Load
		}
		name := cfg.Redis.Source()
		if err := ping(ctx, rdb); err != nil {
			_ = rdb.Close()
			return nil, nil, false, fmt.Errorf("%s: %s does not answer: %w", name, cfg.Redis.Where(), err)
		}
		if cfg.Redis.Cluster() {
			logger.Info("redis cluster", zap.Strings("nodes", cfg.Redis.ClusterNodes))
		} else {
			logger.Info("redis", zap.String("url", cfg.Redis.Where()))
		}
		return rdb, func() { _ = rdb.Close() }, false, nil
	}

	// REDIS_URL unset: the local Redis if something answers there, else (in sandbox mode only)
	// an embedded one.
	url := "redis://" + e.localRedisAddr + "/0"
	var mr *miniredis.Miniredis
	if !answers(ctx, e.localRedisAddr) {
		if !cfg.EmbeddedRedisAllowed() {
			return nil, nil, false, configError{fmt.Errorf("REDIS_URL: not set, and nothing answers on %s; with TENCENTCLOUD_SECRET_ID or SMS_ENDPOINT set the worker "+
				"needs a real Redis (the embedded, in-memory one is served only in sandbox mode: a restart would lose every job): set REDIS_URL", e.localRedisAddr)}
		}
		mr = miniredis.NewMiniRedis()
		if err := mr.StartAddr(e.localRedisAddr); err != nil {
			return nil, nil, false, fmt.Errorf("REDIS_URL: unset, nothing answers on %s, and an embedded Redis cannot listen there: %w", e.localRedisAddr, err)
		}
		logger.Warn("EMBEDDED REDIS: REDIS_URL is unset and nothing answered, serving an in-memory Redis (not durable)",
			zap.String("addr", e.localRedisAddr))
		banner(stderr,
			"EMBEDDED REDIS: REDIS_URL is unset and nothing answers on "+e.localRedisAddr+"; serving an in-memory Redis (miniredis) there for `enqueue` to reach.",
			"NOT DURABLE: every job, batch and receipt is lost when this worker stops. Set REDIS_URL for a real Redis.")
	}
	rdb, err := redisconf.Settings{URL: url}.NewClient()
	if err != nil {
		if mr != nil {
			mr.Close()
		}
		return nil, nil, false, err
	}
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
		return nil, nil, false, fmt.Errorf("REDIS_URL: unset, and %s does not answer as a Redis: %w", e.localRedisAddr, err)
	}
	if mr == nil {
		logger.Info("redis", zap.String("url", url))
	}
	return rdb, stop, mr != nil, nil
}

// checkRedis refuses a Redis that may evict job records (maxmemory-policy not noeviction) and
// warns about one that does not persist them, or whose settings cannot be read.
func checkRedis(ctx context.Context, st *store.Store, logger *zap.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	configs, err := st.CheckServer(ctx)
	if errors.Is(err, store.ErrEvictionPolicy) {
		return configError{fmt.Errorf("redis settings: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("redis settings: %w", err)
	}
	for _, c := range configs {
		addr := zap.String("addr", c.Addr)
		if c.Source == "" {
			logger.Warn("cannot check the redis settings (CONFIG and INFO refused): make sure maxmemory-policy is noeviction and AOF or RDB persistence is on",
				addr, zap.NamedError("config_error", c.Unchecked))
			continue
		}
		switch durable, known := c.Durable(); {
		case !known:
			logger.Warn("cannot tell whether redis persists its data (CONFIG refused and AOF is off): make sure RDB snapshots are on",
				addr, zap.String("maxmemory_policy", c.MaxmemoryPolicy), zap.NamedError("config_error", c.Unchecked))
		case !durable:
			logger.Warn("redis persistence is off (neither AOF nor RDB): a Redis restart loses every job, batch and receipt; set appendonly yes or a save point",
				addr, zap.String("maxmemory_policy", c.MaxmemoryPolicy))
		default:
			logger.Info("redis settings", addr, zap.String("maxmemory_policy", c.MaxmemoryPolicy), zap.Bool("aof", c.AOF), zap.Bool("rdb", c.RDB))
		}
	}
	return nil
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
