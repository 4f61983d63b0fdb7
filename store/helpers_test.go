package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// env is one test's store on one backend.
type env struct {
	s     *Store
	db    *redistest.DB
	rdb   redis.UniversalClient // db.Client, with tags hooked in
	clock *redistest.Clock
	opts  Options
	tags  *tagChecker
}

func (e *env) real() bool { return e.db.Real() }

// allKeys lists every key (on every master of a cluster).
func (e *env) allKeys(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		var keys []string
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			k, err := c.Keys(ctx, "*").Result()
			mu.Lock()
			keys = append(keys, k...)
			mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	keys, err := e.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// backends runs fn on every backend of redistest.Each (miniredis, REDIS_URL, Redis Cluster).
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	backendsOpts(t, Options{}, fn)
}

// backendsOpts is backends with store options (Now is always the fake clock). The subtests run
// in parallel (real backends still one at a time: redistest holds them per test).
func backendsOpts(t *testing.T, opts Options, fn func(t *testing.T, e *env)) {
	t.Helper()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		fn(t, newEnv(t, db, opts))
	}, redistest.WithCluster(), redistest.Parallel())
}

// newEnv returns a store with opts on db, on a fake clock at redistest.T0, with the tag checker
// hooked in: the test fails at its end if a script touched keys of more than one hash tag.
func newEnv(t testing.TB, db *redistest.DB, opts Options) *env {
	t.Helper()
	e := &env{db: db, rdb: db.Client, clock: redistest.NewClock(redistest.T0), tags: &tagChecker{}}
	e.rdb.AddHook(e.tags)
	t.Cleanup(func() {
		if v := e.tags.violations(); len(v) > 0 {
			t.Errorf("scripts touching keys of more than one hash tag (CROSSSLOT on Cluster):\n%s", strings.Join(v, "\n"))
		}
	})
	opts.Now = e.clock.Now
	e.opts = opts
	e.s = New(e.rdb, opts)
	return e
}

// tagChecker is a go-redis hook that records every EVAL/EVALSHA whose keys do not all share one
// hash tag: such a script would fail with CROSSSLOT on Redis Cluster.
type tagChecker struct {
	mu  sync.Mutex
	bad []string
}

func (c *tagChecker) violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

func (c *tagChecker) check(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) < 3 {
		return
	}
	name := strings.ToLower(fmt.Sprint(args[0]))
	if name != "eval" && name != "evalsha" {
		return
	}
	n, err := strconv.Atoi(fmt.Sprint(args[2]))
	if err != nil || n < 2 {
		return
	}
	first := hashTag(fmt.Sprint(args[3]))
	for _, k := range args[4 : 3+n] {
		if hashTag(fmt.Sprint(k)) != first {
			c.mu.Lock()
			c.bad = append(c.bad, fmt.Sprintf("%v ... keys %v", args[0], args[3:3+n]))
			c.mu.Unlock()
			return
		}
	}
}

func (c *tagChecker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tagChecker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.check(cmd)
		return next(ctx, cmd)
	}
}

func (c *tagChecker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.check(cmd)
		}
		return next(ctx, cmds)
	}
}

// nums returns n distinct E.164 numbers starting at +86 138 0000 <first>.
func nums(first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+86138%08d", first+i)
	}
	return out
}

// batchesOf splits numbers into batches of size (param set 0).
func batchesOf(numbers []string, size int) []NewBatch {
	var out []NewBatch
	for len(numbers) > 0 {
		n := min(size, len(numbers))
		out = append(out, NewBatch{Numbers: numbers[:n]})
		numbers = numbers[n:]
	}
	return out
}

const testApp = "1400000001"

func testJob(id string) Job {
	return Job{ID: id, AppID: testApp, SignName: "Sign", TemplateID: "1001", Priority: PriorityNormal}
}

// create writes a job of n numbers in batches of size and fails the test on error.
func (e *env) create(t *testing.T, job Job, n, size int) {
	t.Helper()
	created, err := e.s.CreateJob(context.Background(), job, [][]string{{"1234"}}, batchesOf(nums(0, n), size), 0)
	if err != nil || !created {
		t.Fatalf("CreateJob(%s) = %v, %v", job.ID, created, err)
	}
}

func (e *env) claim(t *testing.T, job string, batch int, token string) ClaimResult {
	t.Helper()
	r, err := e.s.Claim(context.Background(), job, batch, token)
	if err != nil {
		t.Fatalf("Claim(%s, %d, %s): %v", job, batch, token, err)
	}
	return r
}

// mustReserve claims a batch (a reservation, not launched).
func (e *env) mustReserve(t *testing.T, job string, batch int, token string) ClaimResult {
	t.Helper()
	r := e.claim(t, job, batch, token)
	if r.Outcome != Claimed {
		t.Fatalf("Claim(%s, %d) = %v, want Claimed", job, batch, r.Outcome)
	}
	return r
}

// mustClaim claims and launches a batch, as the send path does around the rate-limiter wait: the
// result is an attempt that may have sent.
func (e *env) mustClaim(t *testing.T, job string, batch int, token string) ClaimResult {
	t.Helper()
	r := e.mustReserve(t, job, batch, token)
	lr, err := e.s.Launch(context.Background(), job, batch, token)
	if err != nil || lr.Outcome != Claimed || lr.Attempt != r.Attempt {
		t.Fatalf("Launch(%s, %d, %s) = %+v, %v; want Claimed at attempt %d", job, batch, token, lr, err, r.Attempt)
	}
	return r
}

func (e *env) commit(t *testing.T, job string, batch int, token string, rs []NumberResult) CommitResult {
	t.Helper()
	r, err := e.s.Commit(context.Background(), job, batch, token, rs)
	if err != nil {
		t.Fatalf("Commit(%s, %d, %s): %v", job, batch, token, err)
	}
	return r
}

func (e *env) status(t *testing.T, job string) Status {
	t.Helper()
	st, err := e.s.Status(context.Background(), job)
	if err != nil {
		t.Fatalf("Status(%s): %v", job, err)
	}
	return st
}

// allSent builds Sent results (with serials "<job>-<batch>-<idx>" and fee 1) for a claim.
func allSent(job string, batch int, c ClaimResult) []NumberResult {
	rs := make([]NumberResult, len(c.Indexes))
	for i, idx := range c.Indexes {
		rs[i] = NumberResult{Index: idx, State: Sent, SerialNo: fmt.Sprintf("%s-%d-%d", job, batch, idx), Fee: 1}
	}
	return rs
}

// counts is the comparable part of a Status.
type counts struct {
	State                                                                    JobState
	Total, Sent, Failed, Cancelled, Unknown, Pending, Delivered, Undelivered int64
}

func countsOf(st Status) counts {
	return counts{st.State, st.Total, st.Sent, st.Failed, st.Cancelled, st.Unknown, st.Pending, st.Delivered, st.Undelivered}
}

func (e *env) wantCounts(t *testing.T, job string, want counts) Status {
	t.Helper()
	st := e.status(t, job)
	if got := countsOf(st); got != want {
		t.Fatalf("status of %s:\n got %+v\nwant %+v", job, got, want)
	}
	return st
}

// batchField reads a raw field of a batch record.
func (e *env) batchField(t *testing.T, job string, batch int, field string) string {
	t.Helper()
	v, err := e.rdb.HGet(context.Background(), batchKey(job, batch), field).Result()
	if err != nil && !isNil(err) {
		t.Fatalf("HGET %s %s: %v", batchKey(job, batch), field, err)
	}
	return v
}

// serialEntry is the serial index entry of a serial ("" when it is not indexed).
func (e *env) serialEntry(t *testing.T, serial string) string {
	t.Helper()
	es, err := e.s.lookupSerials(context.Background(), []string{serial}, nil)
	if err != nil {
		t.Fatalf("serial lookup %s: %v", serial, err)
	}
	return es[0].value
}

// advance moves the store's clock, and miniredis's key TTLs with it (real Redis keeps its own
// time: there only what the store computes from its clock moves).
func (e *env) advance(d time.Duration) {
	e.clock.Add(d)
	e.db.FastForward(d)
}
