package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Binaries are the three programs a run drives, as built by Build.
type Binaries struct {
	Worker  string // cmd/worker
	Enqueue string // cmd/enqueue
	Sandbox string // cmd/sandbox
}

// Packages are the import paths Build compiles.
var Packages = []string{
	"github.com/smsdispatch/smsdispatch/cmd/worker",
	"github.com/smsdispatch/smsdispatch/cmd/enqueue",
	"github.com/smsdispatch/smsdispatch/cmd/sandbox",
}

// Build compiles cmd/worker, cmd/enqueue and cmd/sandbox with `go build` into dir. It must run
// inside this module's tree (any directory of it).
func Build(ctx context.Context, dir string, stderr io.Writer) (Binaries, error) {
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, Packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return Binaries{}, fmt.Errorf("go build %s: %w", strings.Join(Packages, " "), err)
	}
	return BinariesIn(dir), nil
}

// BinariesIn names the programs Build writes into dir.
func BinariesIn(dir string) Binaries {
	return Binaries{
		Worker:  filepath.Join(dir, "worker"),
		Enqueue: filepath.Join(dir, "enqueue"),
		Sandbox: filepath.Join(dir, "sandbox"),
	}
}

// check reports the first program that is missing.
func (b Binaries) check() error {
	for _, p := range []string{b.Worker, b.Enqueue, b.Sandbox} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("chaos: binary: %w", err)
		}
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago; never 6379, the shared Redis.
func freePort() (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("chaos: free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if err := ln.Close(); err != nil {
			return 0, fmt.Errorf("chaos: free port: %w", err)
		}
		if port != 6379 {
			return port, nil
		}
	}
	return 0, errors.New("chaos: no free port")
}

// childEnvPrefixes are the variables of the parent environment that could change a child's
// settings; they are dropped so that only the harness's own settings apply.
var childEnvPrefixes = []string{"REDIS_", "SMS_", "TENCENTCLOUD_", "WORKER_", "OTP_", "METRICS_", "LOG_", "SHUTDOWN_"}

// ChildEnv returns parent without the settings of smsdispatch's programs (REDIS_*, SMS_*, ...),
// plus settings (sorted by name, for reproducible logs): the environment of a child program that
// must see only the harness's settings. cmd/bench uses it too.
func ChildEnv(parent []string, settings map[string]string) []string {
	var env []string
	for _, kv := range parent {
		drop := false
		for _, p := range childEnvPrefixes {
			if strings.HasPrefix(kv, p) {
				drop = true
				break
			}
		}
		if !drop {
			env = append(env, kv)
		}
	}
	for _, k := range sortedKeys(settings) {
		env = append(env, k+"="+settings[k])
	}
	return env
}

// proc is one child process, its output appended to a log file.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once reaped
	err    error         // Wait's error, set before exited closes
	// intended is set before the harness signals the process, so an exit it caused is told
	// apart from one it did not.
	intended atomic.Bool
}

// startProc starts bin with args and env, appending its stdout and stderr to logPath after a
// marker line.
func startProc(name, bin string, args, env []string, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("chaos: %s log: %w", name, err)
	}
	fmt.Fprintf(logf, "=== chaos: start %s at %s\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("chaos: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logf.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// alive reports whether the process has not been reaped yet.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// gracefulStopWait bounds a FaultWorkerTerm stop: the worker's SHUTDOWN_TIMEOUT (15 s) and some.
const gracefulStopWait = 30 * time.Second

// kill9 sends SIGKILL (kill -9) and waits until the process is reaped.
func (p *proc) kill9() {
	p.intended.Store(true)
	if p.alive() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.exited
}

// stop sends SIGTERM, waits up to grace, then kills.
func (p *proc) stop(grace time.Duration) {
	p.intended.Store(true)
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.kill9()
	}
}

// waitHTTP polls url until it answers 200, p exits, or ctx ends.
func waitHTTP(ctx context.Context, p *proc, url, logPath string) error {
	c := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("chaos: %s: %w", p.name, err)
		}
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("chaos: %s exited during start-up (%v); see %s", p.name, p.err, logPath)
		case <-ctx.Done():
			return fmt.Errorf("chaos: %s not ready: %w; see %s", p.name, ctx.Err(), logPath)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// redisServer is the private redis-server of a run: one port and one data directory for every
// restart, so an append-only file written before a kill -9 is loaded by the next process.
type redisServer struct {
	bin     string
	port    int
	dir     string
	logPath string
	aof     bool

	restartMu sync.Mutex // serialises restart and ensure
	mu        sync.Mutex
	p         *proc
	starts    int
	unwanted  int // exits the harness did not cause
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *redisServer) args() []string {
	a := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--daemonize", "no", "--maxmemory-policy", "noeviction",
		"--logfile", filepath.Join(r.dir, "redis-server.log")}
	if r.aof {
		return append(a, "--appendonly", "yes", "--appendfsync", "always")
	}
	return append(a, "--appendonly", "no")
}

// start starts redis-server and waits until it answers PING (it may be loading its AOF).
func (r *redisServer) start(ctx context.Context) error {
	if r.port == 6379 {
		return errors.New("chaos: refusing port 6379 (the shared Redis)")
	}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		p, err := startProc("redis-server", r.bin, r.args(), os.Environ(), r.logPath)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.p = p
		r.starts++
		r.mu.Unlock()
		if err := r.waitPing(ctx, p, 30*time.Second); err == nil {
			return nil
		} else {
			lastErr = err
		}
		if ctx.Err() != nil {
			return lastErr
		}
		p.kill9()
		time.Sleep(100 * time.Millisecond) // the port may still be held for a moment
	}
	return lastErr
}

func (r *redisServer) waitPing(ctx context.Context, p *proc, limit time.Duration) error {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(r.port), MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second})
	defer rdb.Close()
	deadline := time.Now().Add(limit)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if !p.alive() {
			return fmt.Errorf("chaos: redis-server exited at start (%v); see %s", p.err, r.logPath)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("chaos: redis-server on port %d does not answer: %w", r.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart kills redis-server with SIGKILL and, after down (0: at once), starts it again on the
// same port and data directory. It does not wait for the new process to finish loading.
func (r *redisServer) restart(down time.Duration) error {
	r.restartMu.Lock()
	defer r.restartMu.Unlock()
	return r.restartLocked(down)
}

func (r *redisServer) restartLocked(down time.Duration) error {
	r.mu.Lock()
	p := r.p
	r.mu.Unlock()
	p.kill9()
	if down > 0 {
		time.Sleep(down)
	}
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		var np *proc
		np, err = startProc("redis-server", r.bin, r.args(), os.Environ(), r.logPath)
		if err != nil {
			return err
		}
		// A bind failure ends the process at once; give it a moment to show.
		select {
		case <-np.exited:
			err = fmt.Errorf("chaos: redis-server restart exited (%v); see %s", np.err, r.logPath)
			time.Sleep(50 * time.Millisecond)
			continue
		case <-time.After(50 * time.Millisecond):
		}
		r.mu.Lock()
		r.p = np
		r.starts++
		r.mu.Unlock()
		return nil
	}
	return err
}

// ensure restarts redis-server if it exited without the harness killing it (counted apart). It
// does nothing while a restart is under way.
func (r *redisServer) ensure() {
	if !r.restartMu.TryLock() {
		return
	}
	defer r.restartMu.Unlock()
	r.mu.Lock()
	p := r.p
	r.mu.Unlock()
	if p == nil || p.alive() || p.intended.Load() {
		return
	}
	r.mu.Lock()
	r.unwanted++
	r.mu.Unlock()
	_ = r.restartLocked(0)
}

func (r *redisServer) stop() {
	r.mu.Lock()
	p := r.p
	r.mu.Unlock()
	if p != nil {
		p.stop(5 * time.Second)
	}
}

// workerPool runs n worker processes, each on its own metrics port, restarting any that exits.
type workerPool struct {
	bin  string
	env  []string // without METRICS_ADDR
	dir  string
	logf func(format string, args ...any)

	mu       sync.Mutex
	slots    []*workerSlot
	stopping bool
	starts   int
	killed   int
	unwanted int // exits the harness did not cause
	wg       sync.WaitGroup
}

type workerSlot struct {
	index   int
	metrics string // host:port
	logPath string
	p       *proc
}

func newWorkerPool(bin string, env []string, dir string, n int, logf func(string, ...any)) (*workerPool, error) {
	wp := &workerPool{bin: bin, env: env, dir: dir, logf: logf}
	for i := range n {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		wp.slots = append(wp.slots, &workerSlot{index: i, metrics: "127.0.0.1:" + strconv.Itoa(port),
			logPath: filepath.Join(dir, fmt.Sprintf("worker-%d.log", i))})
	}
	return wp, nil
}

// startAll starts every worker and waits until each answers /readyz.
func (wp *workerPool) startAll(ctx context.Context) error {
	for _, s := range wp.slots {
		if err := wp.startSlot(s); err != nil {
			return err
		}
	}
	for _, s := range wp.slots {
		wp.mu.Lock()
		p := s.p
		wp.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := waitHTTP(rctx, p, "http://"+s.metrics+"/readyz", s.logPath)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// startSlot starts the slot's worker process and a watcher that restarts it when it exits on
// its own. Callers do not hold wp.mu.
func (wp *workerPool) startSlot(s *workerSlot) error {
	env := append(append([]string(nil), wp.env...), "METRICS_ADDR="+s.metrics)
	p, err := startProc(fmt.Sprintf("worker-%d", s.index), wp.bin, nil, env, s.logPath)
	if err != nil {
		return err
	}
	wp.mu.Lock()
	s.p = p
	wp.starts++
	wp.mu.Unlock()
	wp.wg.Add(1)
	go func() {
		defer wp.wg.Done()
		<-p.exited
		wp.mu.Lock()
		restart := !wp.stopping && !p.intended.Load() && s.p == p
		if restart {
			wp.unwanted++
		}
		wp.mu.Unlock()
		if restart {
			wp.logf("worker-%d (pid %d) exited on its own (%v); restarting; see %s", s.index, p.pid(), p.err, s.logPath)
			time.Sleep(500 * time.Millisecond)
			wp.mu.Lock()
			stopping := wp.stopping
			wp.mu.Unlock()
			if !stopping {
				if err := wp.startSlot(s); err != nil {
					wp.logf("worker-%d restart: %v", s.index, err)
				}
			}
		}
	}()
	return nil
}

// killAndRestart sends SIGKILL to worker i, waits until it is reaped and, after down (0: at
// once), starts it again. It returns the killed pid.
func (wp *workerPool) killAndRestart(i int, down time.Duration, graceful bool) (int, error) {
	s := wp.slots[i]
	wp.mu.Lock()
	if wp.stopping {
		wp.mu.Unlock()
		return 0, nil
	}
	p := s.p
	wp.mu.Unlock()
	if graceful {
		p.stop(gracefulStopWait)
	} else {
		p.kill9()
	}
	wp.mu.Lock()
	wp.killed++
	wp.mu.Unlock()
	if down > 0 {
		time.Sleep(down)
	}
	wp.mu.Lock()
	stopping := wp.stopping
	wp.mu.Unlock()
	if stopping {
		return p.pid(), nil
	}
	return p.pid(), wp.startSlot(s)
}

// stopAll ends every worker: SIGTERM with a short grace, then SIGKILL.
func (wp *workerPool) stopAll() {
	wp.mu.Lock()
	wp.stopping = true
	procs := make([]*proc, 0, len(wp.slots))
	for _, s := range wp.slots {
		if s.p != nil {
			procs = append(procs, s.p)
		}
	}
	wp.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(3 * time.Second)
		}()
	}
	wg.Wait()
	wp.wg.Wait()
}

func (wp *workerPool) counts() (starts, killed, unwanted int) {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	return wp.starts, wp.killed, wp.unwanted
}
