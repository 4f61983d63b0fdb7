package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fatalTB records the first Fatalf and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestOpenRefusesTheSharedRedis(t *testing.T) {
	for _, tc := range []struct{ env, value string }{
		{EnvURL, "redis://127.0.0.1:6379/0"},
		{EnvURL, "redis://localhost:6379/3"},
		{EnvClusterNodes, "127.0.0.1:7000,127.0.0.1:6379"},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(EnvURL, "")
			t.Setenv(EnvClusterNodes, "")
			t.Setenv(tc.env, tc.value)
			b := Redis
			if tc.env == EnvClusterNodes {
				b = Cluster
			}
			f := &fatalTB{TB: t}
			done := make(chan struct{})
			go func() { defer close(done); Open(f, b) }()
			<-done
			if !strings.Contains(f.msg, "shared Redis on port 6379") {
				t.Fatalf("Open did not refuse %s=%s: %q", tc.env, tc.value, f.msg)
			}
		})
	}
}

func TestEachSkipsUnsetBackends(t *testing.T) {
	t.Setenv(EnvURL, "")
	t.Setenv(EnvClusterNodes, "")
	var ran []Backend
	Each(t, func(t *testing.T, db *DB) {
		ran = append(ran, db.Backend)
		if db.Real() || db.Client.Ping(context.Background()).Err() != nil {
			t.Errorf("%s: not a working miniredis", db.Backend)
		}
	}, WithCluster())
	if len(ran) != 1 || ran[0] != Miniredis {
		t.Fatalf("ran %v, want only miniredis", ran)
	}
}

func TestRealBackendIsFlushedAndHeldByOneTest(t *testing.T) {
	addr := StartServer(t)
	t.Setenv(EnvURL, "redis://"+addr+"/0")
	var inside, most atomic.Int32
	var mu sync.Mutex
	t.Run("group", func(t *testing.T) {
		for i := range 3 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel() // before Open, as Open requires
				db := Open(t, Redis)
				mu.Lock()
				if n := inside.Add(1); n > most.Load() {
					most.Store(n)
				}
				mu.Unlock()
				defer inside.Add(-1)
				ctx := context.Background()
				if n, err := db.Client.DBSize(ctx).Result(); err != nil || n != 0 {
					t.Errorf("DBSIZE at start = %d, %v; want 0 (flushed)", n, err)
				}
				db.Client.Set(ctx, "left-by-"+fmt.Sprint(i), 1, 0)
				time.Sleep(50 * time.Millisecond)
			})
		}
	})
	if most.Load() != 1 {
		t.Fatalf("%d tests held the real Redis at once, want 1", most.Load())
	}
}

func TestClock(t *testing.T) {
	c := NewClock(time.Time{})
	if !c.Now().Equal(T0) {
		t.Fatalf("NewClock(zero) = %v, want T0", c.Now())
	}
	c.Add(time.Minute)
	if got := c.Now(); !got.Equal(T0.Add(time.Minute)) {
		t.Fatalf("after Add = %v", got)
	}
	at := T0.Add(time.Hour)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Fatalf("after Set = %v", c.Now())
	}
}

func TestEachParallel(t *testing.T) {
	addr := StartServer(t)
	t.Setenv(EnvURL, "redis://"+addr+"/0")
	var order []Backend
	var mu sync.Mutex
	t.Run("group", func(t *testing.T) {
		for range 2 {
			Each(t, func(t *testing.T, db *DB) {
				mu.Lock()
				order = append(order, db.Backend)
				mu.Unlock()
			}, Parallel())
		}
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 0 {
			t.Errorf("subtests ran before the group returned (%v): Parallel did not make them parallel", order)
		}
	})
	if len(order) != 4 {
		t.Fatalf("ran %v, want 2 miniredis and 2 redis", order)
	}
}
