// Package worker composes one smsdispatch worker process from its parts: three asynq servers on
// one shared Redis client (an OTP server with its own slots and a 10 ms poll, a main server for
// the normal and bulk queues, and a maintenance server with its own slots for the maint queue:
// reconcile and halt probes), the dispatcher's handlers behind an asynq.ServeMux, the
// receipt puller, reply puller and sweeper loops, and an HTTP server for /metrics, /healthz and
// /readyz, which also serves Tencent's status and reply callbacks when Config.CallbackToken is set
// (or a second server does, on Config.CallbackAddr).
//
// It reads no environment: cmd/worker turns settings into a Config. The caller owns the Redis
// client and closes it after Shutdown.
//
// Lifecycle: New validates and builds everything, Start starts it, Shutdown stops it gracefully
// (loops first, then asynq, whose running handlers get Config.ShutdownTimeout before their tasks
// go back to Redis, then HTTP). A Worker runs once.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/tasks"
)

// ErrState is returned by Start and Shutdown called out of order (Start twice, Start after
// Shutdown).
var ErrState = errors.New("worker: invalid state")

// Worker is one worker process's composition. Build it with New.
type Worker struct {
	cfg    Config
	log    *zap.Logger
	reg    *prometheus.Registry
	parts  *parts
	otp    *asynq.Server
	main   *asynq.Server
	maint  *asynq.Server
	mux    *asynq.ServeMux
	http   *http.Server
	ln     net.Listener
	cbHTTP *http.Server // the callbacks' own server (Config.CallbackAddr), or nil
	cbLn   net.Listener
	ready  chan struct{} // closed once Shutdown starts: /readyz answers 503
	closer sync.Once

	mu      sync.Mutex
	state   int // stateNew, stateStarted, stateClosed
	cancel  context.CancelFunc
	loops   sync.WaitGroup
	httpErr chan error
	cbErr   chan error
}

const (
	stateNew = iota
	stateStarted
	stateClosed
)

// loop is a background loop run by the worker until Shutdown (receipt puller, sweeper).
type loop struct {
	name string
	run  func(ctx context.Context) error
}

// New validates cfg (after applying its defaults) and builds the worker. reg receives the
// worker's metrics and is served on /metrics; nil means a new registry with the Go and process
// collectors. The logger must not be nil.
func New(cfg Config, logger *zap.Logger, reg *prometheus.Registry) (*Worker, error) {
	if logger == nil {
		return nil, errors.New("worker: nil logger")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	w := &Worker{cfg: cfg, log: logger.Named("worker"), reg: reg, ready: make(chan struct{})}

	p, err := build(cfg, logger, reg)
	if err != nil {
		return nil, err
	}
	w.parts = p
	m, err := newTaskMetrics(reg)
	if err != nil {
		p.close()
		return nil, err
	}

	w.mux = asynq.NewServeMux()
	w.mux.Use(m.middleware(p.isFailure))
	w.mux.Handle(tasks.TypeSendBatch, p.send)
	w.mux.Handle(tasks.TypeReconcile, p.reconcile)
	w.mux.Handle(tasks.TypeProbe, p.probe)

	asynqLog := logger.Named("asynq").Sugar()
	errHandler := asynq.ErrorHandlerFunc(w.handleError)
	server := func(name string, slots int, queues map[string]int, poll time.Duration) *asynq.Server {
		return asynq.NewServerFromRedisClient(cfg.Redis, asynq.Config{
			Concurrency:              slots,
			Queues:                   queues,
			TaskCheckInterval:        poll,
			DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
			RetryDelayFunc:           p.retryDelay,
			IsFailure:                p.isFailure,
			ErrorHandler:             errHandler,
			Logger:                   asynqLog.Named(name),
			ShutdownTimeout:          cfg.ShutdownTimeout,
		})
	}
	w.otp = server("otp", cfg.OTPConcurrency, map[string]int{tasks.QueueOTP: 1}, cfg.OTPTaskCheckInterval)
	w.main = server("main", cfg.Concurrency,
		map[string]int{tasks.QueueNormal: WeightNormal, tasks.QueueBulk: WeightBulk}, cfg.TaskCheckInterval)
	w.maint = server("maint", cfg.MaintConcurrency, map[string]int{tasks.QueueMaint: 1}, cfg.TaskCheckInterval)

	if cfg.MetricsAddr != "" {
		hm := http.NewServeMux()
		hm.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		hm.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = rw.Write([]byte("ok\n"))
		})
		hm.HandleFunc("GET /readyz", w.readyz)
		if cfg.callbacksShareMetrics() {
			p.callbacks.Register(hm)
		}
		w.http = &http.Server{Handler: hm, ReadHeaderTimeout: 5 * time.Second}
	}
	if p.callbacks != nil && !cfg.callbacksShareMetrics() {
		cm := http.NewServeMux()
		p.callbacks.Register(cm)
		w.cbHTTP = &http.Server{Handler: cm, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	}
	return w, nil
}

// readyz answers 200 when Redis answers PING (within 2 s) and Shutdown has not started.
func (w *Worker) readyz(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	select {
	case <-w.ready:
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = rw.Write([]byte("shutting down\n"))
		return
	default:
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := w.cfg.Redis.Ping(ctx).Err(); err != nil {
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(rw, "redis: %v\n", err)
		return
	}
	_, _ = rw.Write([]byte("ok\n"))
}

// Start listens on MetricsAddr, starts the three asynq servers and the background loops. ctx bounds
// start-up only: the worker runs until Shutdown.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != stateNew {
		return fmt.Errorf("%w: Start called twice or after Shutdown", ErrState)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.cfg.AppID != "" {
		if err := w.parts.advertise(ctx); err != nil {
			return fmt.Errorf("worker: advertise default app: %w", err)
		}
	}
	if w.http != nil {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", w.cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("worker: metrics listen on %s: %w", w.cfg.MetricsAddr, err)
		}
		w.ln = ln
	}
	if w.cbHTTP != nil {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", w.cfg.CallbackAddr)
		if err != nil {
			w.closeListener()
			return fmt.Errorf("worker: callback listen on %s: %w", w.cfg.CallbackAddr, err)
		}
		w.cbLn = ln
	}
	if err := w.otp.Start(w.mux); err != nil {
		w.closeListener()
		return fmt.Errorf("worker: start otp server: %w", err)
	}
	if err := w.main.Start(w.mux); err != nil {
		w.otp.Shutdown()
		w.closeListener()
		return fmt.Errorf("worker: start main server: %w", err)
	}
	if err := w.maint.Start(w.mux); err != nil {
		w.main.Shutdown()
		w.otp.Shutdown()
		w.closeListener()
		return fmt.Errorf("worker: start maint server: %w", err)
	}
	w.state = stateStarted

	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	for _, l := range w.parts.loops {
		w.loops.Add(1)
		go func() {
			defer w.loops.Done()
			if err := l.run(loopCtx); err != nil && loopCtx.Err() == nil {
				w.log.Error("loop stopped", zap.String("loop", l.name), zap.Error(err))
			}
		}()
	}
	if w.http != nil {
		w.httpErr = make(chan error, 1)
		go func() { w.httpErr <- w.http.Serve(w.ln) }()
	}
	if w.cbHTTP != nil {
		w.cbErr = make(chan error, 1)
		go func() { w.cbErr <- w.cbHTTP.Serve(w.cbLn) }()
	}
	w.log.Info("worker running", zap.String("metrics_addr", w.MetricsAddr()), zap.String("callback_addr", w.CallbackAddr()),
		zap.Int("concurrency", w.cfg.Concurrency), zap.Int("otp_concurrency", w.cfg.OTPConcurrency),
		zap.Int("rate_limit", w.cfg.RateLimit), zap.String("app_id", w.cfg.AppID))
	return nil
}

func (w *Worker) closeListener() {
	if w.ln != nil {
		_ = w.ln.Close()
	}
	if w.cbLn != nil {
		_ = w.cbLn.Close()
	}
}

// CallbackAddr returns the address the Tencent callbacks listen on (MetricsAddr when they share
// its listener; the real port when Config.CallbackAddr has port 0), or "" before Start or
// without Config.CallbackToken.
func (w *Worker) CallbackAddr() string {
	switch {
	case w.cbLn != nil:
		return w.cbLn.Addr().String()
	case w.parts != nil && w.parts.callbacks != nil && w.cfg.callbacksShareMetrics():
		return w.MetricsAddr()
	}
	return ""
}

// MetricsAddr returns the address the HTTP endpoints listen on (the real port when
// Config.MetricsAddr has port 0), or "" before Start or without HTTP.
func (w *Worker) MetricsAddr() string {
	if w.ln == nil {
		return ""
	}
	return w.ln.Addr().String()
}

// Shutdown stops the worker gracefully: /readyz turns 503, the puller and sweeper loops stop
// (and are waited for), the asynq servers stop taking tasks and give running handlers
// Config.ShutdownTimeout before putting their tasks back in Redis, then the HTTP server closes.
// It returns ctx's error if ctx ends first (the remaining steps then go on in the background).
// It never closes the Redis client. Calling it again, or before Start, is a no-op.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	if w.state != stateStarted {
		w.state = stateClosed
		w.mu.Unlock()
		w.closer.Do(func() { close(w.ready); w.parts.close() })
		return nil
	}
	w.state = stateClosed
	w.mu.Unlock()
	w.closer.Do(func() { close(w.ready) })
	w.log.Info("worker shutting down")

	// 1. Stop pulling receipts and sweeping.
	w.cancel()
	if err := wait(ctx, w.loops.Wait); err != nil {
		return fmt.Errorf("worker: shutdown: waiting for loops: %w", err)
	}
	// 2. Stop taking tasks on both servers, then let running handlers finish (or requeue them).
	if err := wait(ctx, func() {
		var wg sync.WaitGroup
		for _, srv := range []*asynq.Server{w.otp, w.main, w.maint} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv.Stop()
				srv.Shutdown()
			}()
		}
		wg.Wait()
	}); err != nil {
		return fmt.Errorf("worker: shutdown: asynq servers: %w", err)
	}
	w.parts.close()
	// 3. HTTP last, so metrics and health stay visible while draining (and callbacks answered:
	// a pushed receipt is saved whatever the asynq servers do).
	if w.cbHTTP != nil {
		if err := w.cbHTTP.Shutdown(ctx); err != nil {
			return fmt.Errorf("worker: shutdown: callback http: %w", err)
		}
		if err := <-w.cbErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("worker: callback http: %w", err)
		}
	}
	if w.http != nil {
		if err := w.http.Shutdown(ctx); err != nil {
			return fmt.Errorf("worker: shutdown: http: %w", err)
		}
		if err := <-w.httpErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("worker: http: %w", err)
		}
	}
	w.log.Info("worker stopped")
	return nil
}

// wait runs f in a goroutine and waits for it or ctx.
func wait(ctx context.Context, f func()) error {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handleError is the asynq ErrorHandler of both servers: the one place a task failure is logged.
func (w *Worker) handleError(ctx context.Context, t *asynq.Task, err error) {
	m := taskMeta{typ: t.Type()}
	m.retried, _ = asynq.GetRetryCount(ctx)
	m.maxRetry, _ = asynq.GetMaxRetry(ctx)
	m.id, _ = asynq.GetTaskID(ctx)
	m.queue, _ = asynq.GetQueueName(ctx)
	w.logFailure(m, err)
}

// taskMeta is what the error handler reads from asynq's task context.
type taskMeta struct {
	typ, id, queue    string
	retried, maxRetry int
}

// logFailure logs one task failure at a level by who must act: waits (rate limit, busy claim,
// not yet due) and revocations are Debug; a failure that will be retried is Warn; the final
// attempt (the task is archived) is Error.
func (w *Worker) logFailure(m taskMeta, err error) {
	fields := []zap.Field{
		zap.String("task_type", m.typ), zap.String("task_id", m.id), zap.String("queue", m.queue),
		zap.Int("retried", m.retried), zap.Int("max_retry", m.maxRetry), zap.Error(err),
	}
	switch {
	case errors.Is(err, asynq.RevokeTask):
		w.log.Debug("task revoked", fields...)
	case errors.Is(err, asynq.SkipRetry) || m.retried >= m.maxRetry:
		w.log.Error("task failed for good", fields...)
	case !w.parts.isFailure(err):
		w.log.Debug("task waits", fields...)
	default:
		w.log.Warn("task failed, will retry", fields...)
	}
}
