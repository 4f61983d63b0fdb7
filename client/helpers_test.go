package client

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/tasks"
)

const testApp = "1400000001"

// env is one test's client on one backend.
type env struct {
	c   *Client
	rdb redis.UniversalClient
	mr  *miniredis.Miniredis // nil on real Redis
	ins *asynq.Inspector
}

// backends runs fn against miniredis and, when REDIS_URL is set, against that Redis too. The
// real-Redis variant never flushes: every test uses fresh job ids and cleans up its tasks.
func backends(t *testing.T, opts Options, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		fn(t, newEnv(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}), mr, opts))
	})
	t.Run("redis", func(t *testing.T) {
		fn(t, newEnv(t, realRedis(t), nil, opts))
	})
}

// realRedis returns a client of the Redis at REDIS_URL, or skips the test.
func realRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		t.Skip("REDIS_URL is not set: the real-Redis variant runs only against a disposable server (the miniredis variant ran)")
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	if _, port, _ := net.SplitHostPort(o.Addr); port == "6379" {
		t.Skip("REDIS_URL points at port 6379, the shared Redis that tests never touch")
	}
	return redis.NewClient(o)
}

func newEnv(t *testing.T, rdb redis.UniversalClient, mr *miniredis.Miniredis, opts Options) *env {
	t.Helper()
	if opts.AppID == "" {
		opts.AppID = testApp
	}
	c, err := New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return &env{c: c, rdb: rdb, mr: mr, ins: asynq.NewInspectorFromRedisClient(rdb)}
}

// jobID returns a job id unique to this run, so real-Redis runs never meet old data.
func jobID(t *testing.T, name string) string {
	t.Helper()
	return "t-" + name + "-" + NewJobID()
}

// jobTasks lists the send tasks of job in every send queue, by state.
func (e *env) jobTasks(t *testing.T, job string) map[string][]*asynq.TaskInfo {
	t.Helper()
	out := map[string][]*asynq.TaskInfo{}
	prefix := "send:" + job + ":"
	for _, q := range []string{tasks.QueueOTP, tasks.QueueNormal, tasks.QueueBulk} {
		lists := map[string]func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			"pending":   e.ins.ListPendingTasks,
			"scheduled": e.ins.ListScheduledTasks,
			"archived":  e.ins.ListArchivedTasks,
		}
		for state, list := range lists {
			for page := 1; ; page++ {
				infos, err := list(q, asynq.PageSize(1000), asynq.Page(page))
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break
				}
				if err != nil {
					t.Fatalf("list %s %s: %v", state, q, err)
				}
				for _, in := range infos {
					if strings.HasPrefix(in.ID, prefix) {
						out[state] = append(out[state], in)
					}
				}
				if len(infos) < 1000 {
					break
				}
			}
		}
	}
	return out
}

// cleanup removes a job's tasks (so a worker on the same real Redis never runs them) and
// cancels the job.
func (e *env) cleanup(t *testing.T, job string) {
	t.Helper()
	t.Cleanup(func() {
		for _, infos := range e.jobTasks(t, job) {
			for _, in := range infos {
				_ = e.ins.DeleteTask(in.Queue, in.ID)
			}
		}
		_, _ = e.c.Cancel(context.Background(), job)
	})
}
