// Package redistest gives the tests of this module their Redis, under one set of rules (see
// Open): Each and Open hand out miniredis, the private server at REDIS_URL and the private Redis
// Cluster at REDIS_CLUSTER_NODES; StartServer starts a private redis-server with particular
// settings (an eviction policy, persistence), StartTLSServer one that speaks only TLS (with a
// CA and certificate from NewTLSFiles), StartSentinel a private redis-sentinel; Clock is the one
// fake clock. Nothing here ever uses
// the shared Redis on port 6379.
package redistest

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartServer starts a private redis-server on a free loopback port (never 6379) with args after
// the defaults --port, --bind, --dir (a temp dir), --daemonize no, --save "" and --appendonly no
// (later ones win), stops it when the test ends, and returns its address. It skips the test when
// redis-server is not installed.
func StartServer(t testing.TB, args ...string) string {
	t.Helper()
	bin := lookPath(t, "redis-server")
	return start(t, "redis-server", func(port string) *exec.Cmd {
		return exec.Command(bin, append(serverArgs(t, "--port", port), args...)...)
	}, func(addr string) bool { return ping(&redis.Options{Addr: addr}) })
}

// serverArgs are StartServer's defaults, listening as listen (e.g. "--port", "P").
func serverArgs(t testing.TB, listen ...string) []string {
	return append(listen, "--bind", "127.0.0.1", "--dir", t.TempDir(), "--daemonize", "no",
		"--logfile", "", "--save", "", "--appendonly", "no")
}

// lookPath returns the path of bin, skipping the test when it is not installed.
func lookPath(t testing.TB, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s is not installed: the real-Redis variant is skipped", bin)
	}
	return p
}

// ping reports whether a server answers PING with the options o.
func ping(o *redis.Options) bool {
	o.MaxRetries = -1
	rdb := redis.NewClient(o)
	defer rdb.Close()
	return rdb.Ping(context.Background()).Err() == nil
}

// start runs the process cmd(port) on a free loopback port (never 6379) until ready(addr) holds,
// trying other ports when it exits first, stops it when the test ends, and returns its address.
func start(t testing.TB, what string, cmd func(port string) *exec.Cmd, ready func(addr string) bool) string {
	t.Helper()
	for try := 0; try < 5; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if port == 6379 || port == 26379 {
			continue
		}
		c := cmd(strconv.Itoa(port))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = c.Wait(); close(exited) }()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		up := false
		for i := 0; i < 100 && !up; i++ {
			select {
			case <-exited:
				i = 100
			case <-time.After(50 * time.Millisecond):
				up = ready(addr)
			}
		}
		if up {
			t.Cleanup(func() {
				_ = c.Process.Kill()
				<-exited
			})
			return addr
		}
		_ = c.Process.Kill()
		<-exited
	}
	t.Fatalf("could not start a private %s", what)
	return ""
}
