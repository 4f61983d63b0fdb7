package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/chaos"
)

// buildWorker compiles ./cmd/worker of this module into dir and returns the binary's path.
func buildWorker(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "worker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/smsdispatch/smsdispatch/cmd/worker")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/worker: %w", err)
	}
	return bin, nil
}

// freeLoopbackAddr returns a loopback host:port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// childEnv is the environment of the worker child: the parent environment without worker
// settings, plus settings.
func childEnv(parent []string, settings map[string]string) []string {
	return chaos.ChildEnv(parent, settings)
}

// workerProc is the worker program running as a child process, with a sampler of its memory and
// CPU time.
type workerProc struct {
	cmd     *exec.Cmd
	logPath string
	started time.Time

	exited  chan struct{} // closed when the process has been reaped
	waitErr error

	mu      sync.Mutex
	maxRSS  int64
	hwm     int64
	cpu     time.Duration
	samples int
	stopSmp chan struct{}
	smpDone chan struct{}
}

// startWorker starts bin with env, its stdout and stderr going to logPath.
func startWorker(bin string, env []string, logPath string) (*workerProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	w := &workerProc{cmd: cmd, logPath: logPath, started: time.Now(), exited: make(chan struct{}),
		stopSmp: make(chan struct{}), smpDone: make(chan struct{})}
	go func() {
		w.waitErr = cmd.Wait()
		_ = logf.Close()
		close(w.exited)
	}()
	go w.sample(50 * time.Millisecond)
	return w, nil
}

func (w *workerProc) pid() int { return w.cmd.Process.Pid }

// sample reads /proc/<pid>/status and /proc/<pid>/stat every interval until stopped or exited.
func (w *workerProc) sample(every time.Duration) {
	defer close(w.smpDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.sampleOnce()
		select {
		case <-w.stopSmp:
			return
		case <-w.exited:
			return
		case <-t.C:
		}
	}
}

func (w *workerProc) sampleOnce() {
	pid := strconv.Itoa(w.pid())
	st, err1 := os.ReadFile("/proc/" + pid + "/status")
	stat, err2 := os.ReadFile("/proc/" + pid + "/stat")
	if err1 != nil || err2 != nil {
		return
	}
	m, err := parseProcStatus(st)
	if err != nil {
		return
	}
	cpu, err := parseProcStatCPU(stat)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxRSS = max(w.maxRSS, m.RSS)
	w.hwm = max(w.hwm, m.HWM)
	if err == nil {
		w.cpu = cpu
	}
	w.samples++
}

// memory returns the peak VmHWM, the largest sampled VmRSS and the last sampled CPU time.
func (w *workerProc) memory() (hwm, maxRSS int64, cpu time.Duration, samples int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hwm, w.maxRSS, w.cpu, w.samples
}

// waitReady polls http://metricsAddr/readyz until it answers 200, the process exits or ctx ends.
func (w *workerProc) waitReady(ctx context.Context, metricsAddr string) error {
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+"/readyz", nil)
		if resp, err := c.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-w.exited:
			return fmt.Errorf("worker exited during start-up (%v); see %s", w.waitErr, w.logPath)
		case <-ctx.Done():
			return fmt.Errorf("worker not ready: %w; see %s", ctx.Err(), w.logPath)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits up to grace for the process to exit; after that it is killed.
// It returns how long the exit took and the exit error (nil for a clean exit 0).
func (w *workerProc) stop(grace time.Duration) (took time.Duration, clean bool, err error) {
	w.sampleOnce()
	close(w.stopSmp)
	<-w.smpDone
	start := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, false, fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-w.exited:
		return time.Since(start), w.waitErr == nil, w.waitErr
	case <-time.After(grace):
		_ = w.cmd.Process.Kill()
		<-w.exited
		return time.Since(start), false, fmt.Errorf("worker did not exit within %s of SIGTERM; killed", grace)
	}
}

// kill ends the process at once (error paths).
func (w *workerProc) kill() {
	select {
	case <-w.exited:
	default:
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
}

// tail returns the last n bytes of the worker's log.
func (w *workerProc) tail(n int64) string {
	f, err := os.Open(w.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-n, 0)
	buf := make([]byte, fi.Size()-off)
	_, _ = f.ReadAt(buf, off)
	return string(buf)
}
