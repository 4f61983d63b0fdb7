// Package redistest gives the tests of this module their Redis, under one set of rules (see
// Open): Each and Open hand out miniredis, the private server at REDIS_URL and the private Redis
// Cluster at REDIS_CLUSTER_NODES; StartServer starts a private redis-server with particular
// settings (an eviction policy, persistence); Clock is the one fake clock. Nothing here ever uses
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
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed: the real-Redis variant is skipped")
	}
	for try := 0; try < 5; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if port == 6379 {
			continue
		}
		cmd := exec.Command(bin, append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", t.TempDir(), "--daemonize", "no", "--logfile", "", "--save", "", "--appendonly", "no"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		up := false
		for i := 0; i < 100 && !up; i++ {
			select {
			case <-exited:
				i = 100
			case <-time.After(50 * time.Millisecond):
				up = rdb.Ping(context.Background()).Err() == nil
			}
		}
		_ = rdb.Close()
		if up {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return addr
		}
		_ = cmd.Process.Kill()
		<-exited
	}
	t.Fatal("could not start a private redis-server")
	return ""
}
