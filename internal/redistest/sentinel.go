package redistest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// StartSentinel starts a private redis-sentinel on a free loopback port (never 6379 or 26379)
// that monitors the master at masterAddr under the name master (quorum 1), with conf (lines of
// a sentinel configuration, e.g. "requirepass pw") after its defaults, stops it when the test
// ends, and returns its address once it names the master. It skips the test when
// redis-sentinel (Debian's redis-sentinel package) is not installed.
func StartSentinel(t testing.TB, masterAddr, master string, conf ...string) string {
	t.Helper()
	bin := lookPath(t, "redis-sentinel")
	host, port, _ := strings.Cut(masterAddr, ":")
	password := ""
	for _, line := range conf {
		if v, ok := strings.CutPrefix(line, "requirepass "); ok {
			password = v
		}
	}
	return start(t, "redis-sentinel", func(p string) *exec.Cmd {
		dir := t.TempDir()
		file := filepath.Join(dir, "sentinel.conf") // sentinel rewrites its configuration file
		lines := append([]string{"port " + p, "bind 127.0.0.1", "dir " + dir, "logfile \"\"",
			"sentinel monitor " + master + " " + host + " " + port + " 1",
			"sentinel down-after-milliseconds " + master + " 5000"}, conf...)
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command(bin, file)
	}, func(addr string) bool {
		s := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
		defer s.Close()
		got, err := s.GetMasterAddrByName(context.Background(), master).Result()
		return err == nil && len(got) == 2 && got[0]+":"+got[1] == masterAddr
	})
}
