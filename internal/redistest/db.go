package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Environment variables that name the real backends. Both must name private servers: tests flush
// them.
const (
	EnvURL          = "REDIS_URL"           // a private Redis: redis://127.0.0.1:PORT/DB
	EnvClusterNodes = "REDIS_CLUSTER_NODES" // a private Redis Cluster: comma-separated seed addresses
)

// Backend names a kind of Redis a test runs on. It is the subtest name Each gives.
type Backend string

// The backends.
const (
	Miniredis Backend = "miniredis" // in-process, one per test, always available
	Redis     Backend = "redis"     // the private server at REDIS_URL, when set
	Cluster   Backend = "cluster"   // the private Redis Cluster at REDIS_CLUSTER_NODES, when set
)

// DB is one test's Redis.
type DB struct {
	Backend Backend
	Client  redis.UniversalClient // closed when the test ends
	Mini    *miniredis.Miniredis  // the miniredis server; nil on a real Redis
	// URL is a redis:// URL of the server (for a binary the test starts); "" on Cluster.
	URL string
}

// Real reports whether the DB is a real Redis (not miniredis).
func (db *DB) Real() bool { return db.Mini == nil }

// FastForward moves miniredis's key TTLs by d, to follow a fake clock. A real Redis keeps its own
// time, so there it does nothing.
func (db *DB) FastForward(d time.Duration) {
	if db.Mini != nil {
		db.Mini.FastForward(d)
	}
}

// Option changes which backends Each runs.
type Option func(*config)

type config struct{ cluster, parallel bool }

// WithCluster adds the Redis Cluster backend (for code that must hold to one hash slot per
// script).
func WithCluster() Option { return func(c *config) { c.cluster = true } }

// Parallel makes each backend's subtest call t.Parallel before it opens its Redis: miniredis
// subtests then run at once with other parallel tests, real-Redis ones one at a time.
func Parallel() Option { return func(c *config) { c.parallel = true } }

func configOf(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Backends is the one list of backends, in the order Each runs them: miniredis, the real Redis,
// and with WithCluster the Redis Cluster. Benchmarks range over it with b.Run and Open.
func Backends(opts ...Option) []Backend {
	bs := []Backend{Miniredis, Redis}
	if configOf(opts).cluster {
		bs = append(bs, Cluster)
	}
	return bs
}

// Each runs fn once per backend as a subtest named after it: miniredis, then the private Redis
// at REDIS_URL (skipped with the reason when unset), then with WithCluster the private Redis
// Cluster at REDIS_CLUSTER_NODES. For parallel subtests pass Parallel(); fn itself must not call
// t.Parallel (see Open).
func Each(t *testing.T, fn func(t *testing.T, db *DB), opts ...Option) {
	t.Helper()
	c := configOf(opts)
	for _, b := range Backends(opts...) {
		t.Run(string(b), func(t *testing.T) {
			if c.parallel {
				t.Parallel()
			}
			fn(t, Open(t, b))
		})
	}
}

// Open returns a Redis of backend b for this test, and holds it until the test ends.
//
// These are the only rules the tests of this module follow about Redis:
//   - miniredis is a fresh server per test, so miniredis tests may run in parallel.
//   - A real backend is taken only from REDIS_URL or REDIS_CLUSTER_NODES; when the variable is
//     unset the test is skipped (the miniredis variant still runs).
//   - A real backend must be private: an address on port 6379, where the machine's shared Redis
//     listens, fails the test before any command is sent.
//   - A real backend is flushed (FLUSHDB of REDIS_URL's database, or of every Cluster master)
//     before the test, and one test at a time holds it: Open takes a lock on the address, in
//     this process and across test binaries (a file lock), released when the test ends. A test
//     opens at most one real backend, and calls t.Parallel (if at all) before Open, never after:
//     a test paused by t.Parallel while it holds the lock would wait for a slot that the tests
//     waiting for its lock hold.
func Open(tb testing.TB, b Backend) *DB {
	tb.Helper()
	switch b {
	case Miniredis:
		return openMini(tb)
	case Redis:
		return openURL(tb)
	case Cluster:
		return openCluster(tb)
	}
	tb.Fatalf("redistest: unknown backend %q", b)
	return nil
}

// Mini returns a fresh miniredis for this test (Open(tb, Miniredis)).
func Mini(tb testing.TB) *DB { return openMini(tb) }

func openMini(tb testing.TB) *DB {
	tb.Helper()
	mr := miniredis.RunT(tb)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	tb.Cleanup(func() { _ = rdb.Close() })
	return &DB{Backend: Miniredis, Client: rdb, Mini: mr, URL: "redis://" + mr.Addr() + "/0"}
}

func openURL(tb testing.TB) *DB {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		tb.Skipf("%s is not set: the real-Redis variant runs only against a private server (.ci/run starts one)", EnvURL)
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatalf("%s: %v", EnvURL, err)
	}
	refuseShared(tb, EnvURL, o.Addr)
	hold(tb, o.Addr)
	rdb := redis.NewClient(o)
	tb.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("%s: FLUSHDB: %v", EnvURL, err)
	}
	return &DB{Backend: Redis, Client: rdb, URL: u}
}

func openCluster(tb testing.TB) *DB {
	tb.Helper()
	raw := os.Getenv(EnvClusterNodes)
	if raw == "" {
		tb.Skipf("%s is not set: the Redis Cluster variant runs only against a private cluster", EnvClusterNodes)
	}
	seeds := strings.Split(raw, ",")
	for _, a := range seeds {
		refuseShared(tb, EnvClusterNodes, a)
	}
	hold(tb, seeds[0])
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds})
	tb.Cleanup(func() { _ = cc.Close() })
	if err := cc.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		return c.FlushDB(ctx).Err()
	}); err != nil {
		tb.Fatalf("%s: FLUSHDB on every master: %v", EnvClusterNodes, err)
	}
	return &DB{Backend: Cluster, Client: cc}
}

// Shared reports whether addr is on port 6379, the port of the machine's shared Redis, which
// tests never use.
func Shared(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "6379"
}

func refuseShared(tb testing.TB, env, addr string) {
	tb.Helper()
	if Shared(addr) {
		tb.Fatalf("%s names %s, the shared Redis on port 6379: tests flush their Redis, so point %s at a private server", env, addr, env)
	}
}

// locks serialise the tests of this process on one real server; the file lock serialises test
// binaries (go test runs packages in parallel).
var (
	locksMu sync.Mutex
	locks   = map[string]*sync.Mutex{}
)

func hold(tb testing.TB, addr string) {
	tb.Helper()
	locksMu.Lock()
	mu := locks[addr]
	if mu == nil {
		mu = new(sync.Mutex)
		locks[addr] = mu
	}
	locksMu.Unlock()
	mu.Lock()
	name := filepath.Join(os.TempDir(), "smsdispatch-redistest-"+strings.NewReplacer(":", "_", "/", "_").Replace(addr)+".lock")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		mu.Unlock()
		tb.Fatalf("redistest: lock file: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		mu.Unlock()
		tb.Fatalf("redistest: lock %s: %v", name, err)
	}
	tb.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
		mu.Unlock()
	})
}

// T0 is the time a Clock starts at unless told otherwise.
var T0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Clock is the fake clock of the tests: it stands still until Add or Set moves it. It is safe
// for concurrent use. Its Now fits every Now func() time.Time option of this module.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at t (T0 when t is zero).
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = T0
	}
	return &Clock{t: t}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// String is the clock's time, for test messages.
func (c *Clock) String() string { return fmt.Sprint(c.Now()) }
