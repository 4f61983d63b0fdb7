package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/internal/redisconf"
	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
)

// TestEndToEndSentinelFailover runs a worker and a producer on the failover client that
// REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER make (redisconf, as the binaries open it), against
// a real redis-sentinel watching a private master and its replica, and moves the master to the
// replica while a 20,000-number job is being sent, the way an operator does it: writes paused on the
// old master until the replica has caught up, then SENTINEL FAILOVER. The job finishes on the new
// master, every number accepted exactly once.
func TestEndToEndSentinelFailover(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts redis-server twice and redis-sentinel")
	}
	const (
		name  = "smsmaster"
		total = 20_000
	)
	master := redistest.StartServer(t)
	host, port, _ := strings.Cut(master, ":")
	replica := redistest.StartServer(t, "--replicaof", host, port)
	waitUntil(t, 20*time.Second, "the replica is in sync", func() bool {
		return infoField(t, replica, "master_link_status") == "up"
	})
	sentinel := redistest.StartSentinel(t, master, name,
		"sentinel down-after-milliseconds "+name+" 1000", "sentinel failover-timeout "+name+" 10000")
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel})
	defer sc.Close()
	ctx := context.Background()
	waitUntil(t, 30*time.Second, "the sentinel knows the replica", func() bool {
		rs, err := sc.Replicas(ctx, name).Result()
		return err == nil && len(rs) == 1
	})

	settings := redisconf.Settings{URL: "redis://unused.invalid:1/0", SentinelAddrs: []string{sentinel}, SentinelMaster: name}
	if err := settings.Validate(nil); err != nil {
		t.Fatal(err)
	}
	rdb, err := settings.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() }) // after the worker's shutdown (cleanups run last first)

	f := newFakeTencent(t, func(c *sandbox.Config) { c.ReceiptDelay = 50 * time.Millisecond })
	cfg := testConfig(rdb, f)
	cfg.RateLimit = 25 // 100 calls: about 4 s, so the failover lands mid-job
	startWorker(t, cfg)
	prod := newProducer(t, rdb, cfg)
	recips := make([]client.Recipient, total)
	for i := range recips {
		recips[i] = client.Recipient{Number: number(i)}
	}
	res, err := prod.Send(ctx, client.Request{TemplateID: sandbox.TemplateNotice, Params: []string{"S1"}, Recipients: recips})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, prod, res.JobID, 30*time.Second, "a fifth sent", func(st store.Status) bool { return st.Sent >= total/5 })

	// Coordinated failover: no acknowledged write is left behind on the old master.
	old := redis.NewClient(&redis.Options{Addr: master})
	defer old.Close()
	if err := old.Do(ctx, "CLIENT", "PAUSE", "10000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the replica has every write", func() bool {
		return infoField(t, replica, "master_repl_offset") == infoField(t, master, "master_repl_offset")
	})
	if err := sc.Failover(ctx, name).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the sentinel names the replica as master", func() bool {
		got, err := sc.GetMasterAddrByName(ctx, name).Result()
		return err == nil && len(got) == 2 && got[0]+":"+got[1] == replica
	})
	before := waitFor(t, prod, res.JobID, 10*time.Second, "readable on the new master", func(store.Status) bool { return true })

	st := waitFor(t, prod, res.JobID, 60*time.Second, "done", func(st store.Status) bool { return st.Pending == 0 && st.Unknown == 0 })
	truth := f.sb.Stats()
	t.Logf("failover at %d sent; job %+v; sandbox calls %d, sent %d, duplicates %d", before.Sent, st, truth.Calls["SendSms"], truth.NumbersSent, truth.DuplicateSends)
	if before.Sent == total {
		t.Errorf("the job was done before the failover: it did not test sending across it")
	}
	if st.Sent != total || st.Failed != 0 || truth.NumbersSent != total || truth.DuplicateSends != 0 {
		t.Errorf("sent %d failed %d, sandbox accepted %d with %d duplicates; want %d, 0, %d, 0",
			st.Sent, st.Failed, truth.NumbersSent, truth.DuplicateSends, total, total)
	}
	if role := infoField(t, replica, "role"); role != "master" {
		t.Errorf("replica's role is %q after the failover", role)
	}
}

// infoField returns field of INFO replication at addr ("" when unreachable).
func infoField(t *testing.T, addr, field string) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	info, err := c.Info(context.Background(), "replication").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// waitUntil polls cond every 50 ms, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after %s", what, timeout)
		}
	}
}
