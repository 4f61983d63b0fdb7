package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/tasks"
)

const testApp = "1400000001"

// env is one test's client on one backend.
type env struct {
	c   *Client
	rdb redis.UniversalClient // db.Client
	ins *asynq.Inspector
}

// backends runs fn with a client made with opts on each backend of redistest.Each.
func backends(t *testing.T, opts Options, fn func(t *testing.T, e *env)) {
	t.Helper()
	if opts.AppID == "" {
		opts.AppID = testApp
	}
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		c, err := New(db.Client, opts)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, &env{c: c, rdb: db.Client, ins: asynq.NewInspectorFromRedisClient(db.Client)})
	})
}

// jobID returns a job id for this test: name and a fresh id.
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
