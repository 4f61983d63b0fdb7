package store

import (
	"context"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

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
