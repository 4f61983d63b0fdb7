package store

// Additions to the store API needed by the dispatcher (DESIGN.md, "Additions to the store API").
//
// One more key, owned like every other by this package:
//
//	sms:apps               zset  app -> last time (unix ms) Apps saw one of its jobs active;
//	                             members older than Options.Retention are pruned by Apps

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

const appsKey = "sms:apps" // zset app -> last seen ms (Apps)

// popParkedScript removes one parked batch of a halted app. KEYS[1] halt, KEYS[2] parked.
// ARGV[1] ttl. Returns the member "<job>|<batch>", or false when the app is not halted or nothing
// is parked. Popping only while halted keeps a probe that races with Resume from taking a batch
// Resume already handed out (Resume deletes both keys in one script). Once nothing is parked the
// halt expires again ttl after its last write (see Halt).
var popParkedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local m = redis.call('SPOP', KEYS[2])
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return m
`)

// PopParked removes and returns one parked batch of a halted app (the probe sends it). ok=false
// when nothing is parked or the app is not halted any more.
func (s *Store) PopParked(ctx context.Context, app string) (ref BatchRef, ok bool, err error) {
	if err := checkID("app id", app); err != nil {
		return BatchRef{}, false, err
	}
	for {
		m, err := popParkedScript.Run(ctx, s.rdb, []string{haltKey(app), parkedKey(app)}, s.retentionArg()).Text()
		if isNil(err) {
			return BatchRef{}, false, nil
		}
		if err != nil {
			return BatchRef{}, false, wrap("pop parked of "+app, err)
		}
		job, b, found := strings.Cut(m, "|")
		n, convErr := strconv.Atoi(b)
		if found && convErr == nil && n >= 0 && checkID("job id", job) == nil {
			return BatchRef{Job: job, Batch: n}, true, nil
		}
		// A malformed member (never written by Park) is dropped; look at the next one.
	}
}

// Apps returns every SmsSdkAppId used by a job within retention (the receipt puller pulls each):
// the apps of the jobs active now, plus those seen active by an earlier call within
// Options.Retention. Sorted.
func (s *Store) Apps(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, activeKey, 0, -1).Result()
	if err != nil {
		return nil, wrap("apps: active jobs", err)
	}
	seen := map[string]bool{}
	const chunk = 500
	for from := 0; from < len(ids); from += chunk {
		part := ids[from:min(from+chunk, len(ids))]
		cmds := make([]*redis.StringCmd, len(part))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				cmds[i] = p.HGet(ctx, jobKey(id), "app")
			}
			return nil
		}); err != nil && !isNil(err) {
			return nil, wrap("apps: job apps", err)
		}
		for _, c := range cmds {
			if app, err := c.Result(); err == nil && checkID("app id", app) == nil {
				seen[app] = true
			}
		}
	}
	now := s.now().UnixMilli()
	cutoff := now - s.opts.Retention.Milliseconds()
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for app := range seen {
			p.ZAdd(ctx, appsKey, redis.Z{Score: float64(now), Member: app})
		}
		p.ZRemRangeByScore(ctx, appsKey, "-inf", "("+strconv.FormatInt(cutoff, 10))
		p.PExpire(ctx, appsKey, s.opts.Retention)
		return nil
	}); err != nil {
		return nil, wrap("apps: remember", err)
	}
	remembered, err := s.rdb.ZRange(ctx, appsKey, 0, -1).Result()
	if err != nil {
		return nil, wrap("apps", err)
	}
	for _, app := range remembered {
		if checkID("app id", app) == nil {
			seen[app] = true
		}
	}
	out := make([]string, 0, len(seen))
	for app := range seen {
		out = append(out, app)
	}
	slices.Sort(out)
	return out, nil
}

// UnknownBatches returns batches of a job whose record holds unknown numbers (sweeper), in index
// order. ErrNotFound when the job does not exist.
func (s *Store) UnknownBatches(ctx context.Context, job string) ([]int, error) {
	h, err := s.readJob(ctx, job)
	if err != nil {
		return nil, err
	}
	if parseInt(h["unknown"]) <= 0 {
		return nil, nil // the job counter says none: skip reading every batch
	}
	n := int(parseInt(h["batches"]))
	var out []int
	const chunk = 1000
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		cmds := make([]*redis.StringCmd, to-from)
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := from; i < to; i++ {
				cmds[i-from] = p.HGet(ctx, batchKey(job, i), "s")
			}
			return nil
		}); err != nil && !isNil(err) {
			return nil, wrap(fmt.Sprintf("unknown batches of %s", job), err)
		}
		for i, c := range cmds {
			if c.Val() == "unknown" {
				out = append(out, from+i)
			}
		}
	}
	return out, nil
}
