package store

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
)

// The recent-jobs index, sms:jobs:recent, is a zset job -> created ms of every job whose records
// still exist, running or settled (RecentJobs, HourlyCounts). CreateJob adds the job before it
// becomes ready, in a command of its own: the key carries no job's hash tag, so no job script can
// write it (as sms:jobs:active). It has no TTL; members whose job hash is gone (expired after its
// retention, or a creation nobody finished) are pruned: by RecentJobs as it meets them, and by
// CreateJob, which checks a few of the members created more than Retention ago.

// recentPruneBatch is how many of the oldest members CreateJob checks for a job hash that is gone.
const recentPruneBatch = 100

// registerRecent adds a job to the recent-jobs index and prunes a few members whose job is gone.
// Only the add can fail the creation: pruning is housekeeping the next CreateJob or RecentJobs
// does again.
func (s *Store) registerRecent(ctx context.Context, job Job) error {
	if err := touchAddScript.Run(ctx, s.rdb, []string{recentKey}, addZSet, job.ID, msOf(job.CreatedAt), "0").Err(); err != nil {
		return wrap("create job "+job.ID+": register recent", err)
	}
	cutoff := s.now().Add(-s.opts.Retention).UnixMilli()
	old, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: recentKey, Start: "-inf", Stop: "(" + strconv.FormatInt(cutoff, 10),
		ByScore: true, Count: recentPruneBatch}).Result()
	if err == nil {
		_ = s.pruneRecent(ctx, old)
	}
	return nil
}

// pruneRecent removes the members of ids whose job hash no longer exists.
func (s *Store) pruneRecent(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	cmds := make([]*redis.IntCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, jobKey(id))
		}
		return nil
	}); err != nil {
		return wrap("prune recent jobs", err)
	}
	var gone []any
	for i, c := range cmds {
		if c.Val() == 0 {
			gone = append(gone, ids[i])
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return wrap("prune recent jobs", s.rdb.ZRem(ctx, recentKey, gone...).Err())
}

// JobFilter selects the jobs RecentJobs lists. Zero fields select everything.
type JobFilter struct {
	App    string     // only jobs of this SmsSdkAppId
	States []JobState // only jobs in one of these states
	Limit  int        // at most this many (0: DefaultJobListLimit)
}

// DefaultJobListLimit is RecentJobs' limit when JobFilter.Limit is 0.
const DefaultJobListLimit = 20

// recentChunk is how many jobs RecentJobs reads per round trip.
const recentChunk = 200

// RecentJobs returns the status of the recent jobs (those whose records still exist), newest
// first by creation time, that pass the filter. Unlike Status it only reads: a settled job's
// retention is left to Status and the sweeper. Jobs still being created are left out; members
// whose job is gone are pruned from the index on the way.
func (s *Store) RecentJobs(ctx context.Context, f JobFilter) ([]Status, error) {
	if f.App != "" {
		if err := checkID("app id", f.App); err != nil {
			return nil, err
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultJobListLimit
	}
	halted := map[string]bool{}
	var out []Status
	for start := int64(0); len(out) < limit; start += recentChunk {
		ids, err := s.rdb.ZRevRange(ctx, recentKey, start, start+recentChunk-1).Result()
		if err != nil {
			return nil, wrap("recent jobs", err)
		}
		if len(ids) == 0 {
			break
		}
		hs, err := s.jobHashes(ctx, ids)
		if err != nil {
			return nil, wrap("recent jobs", err)
		}
		var gone []string
		for i, id := range ids {
			h := hs[i]
			switch {
			case len(h) == 0:
				gone = append(gone, id)
				continue
			case h["ready"] != "1", f.App != "" && h["app"] != f.App:
				continue
			}
			app := h["app"]
			if _, ok := halted[app]; !ok && checkID("app id", app) == nil {
				halt, err := s.HaltOf(ctx, app)
				if err != nil {
					return nil, err
				}
				halted[app] = halt != nil
			}
			st := s.deriveStatus(id, h, halted[app])
			if len(f.States) > 0 && !slices.Contains(f.States, st.State) {
				continue
			}
			out = append(out, st)
			if len(out) == limit {
				break
			}
		}
		if err := s.pruneRecent(ctx, gone); err != nil {
			return nil, err
		}
		start -= int64(len(gone)) // the pruned members no longer take ranks
		if len(ids) < recentChunk {
			break
		}
	}
	return out, nil
}

// jobHashes reads the job hashes of ids in one pipeline (an empty map for a job that is gone).
func (s *Store) jobHashes(ctx context.Context, ids []string) ([]map[string]string, error) {
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, jobKey(id))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(ids))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// HourCount is this system's own count for one Beijing-time hour (HourlyCounts).
type HourCount struct {
	Hour        time.Time // start of the hour, in Beijing time (UTC+8)
	Sent        int64     // numbers accepted, counted in the hour of their send
	Failed      int64     // numbers Tencent refused (or evidence showed failed), in the hour of the send
	Delivered   int64     // receipts delivered, counted in the hour their number was sent
	Undelivered int64     // receipts not delivered, counted in the hour their number was sent
	Fee         int64     // billed segments of the numbers sent in the hour (where known)
}

// Beijing is Beijing time (UTC+8, no daylight saving), the time zone of Tencent's hourly
// statistics.
var Beijing = beijing.Time

// maxHourRange is the most hours one HourlyCounts call covers (62 days).
const maxHourRange = 62 * 24

// HourlyCounts returns this system's counts for every Beijing-time hour from the hour holding
// from through the hour holding to (both included), oldest first, summed over the recent jobs of
// app ("" = every app) created before the range ends. Hours without activity are zero rows. The
// counters are written by the scripts that change the states they count (Commit, SettleUnknown,
// ApplyReceiptPage), per job, in the job hash; numbers failed without a call (expiry, a job-fatal
// code, a cancel) are not counted. A range of more than maxHourRange hours is refused.
func (s *Store) HourlyCounts(ctx context.Context, app string, from, to time.Time) ([]HourCount, error) {
	if app != "" {
		if err := checkID("app id", app); err != nil {
			return nil, err
		}
	}
	lo, hi := floorDiv(from.UnixMilli(), hourMs), floorDiv(to.UnixMilli(), hourMs)
	if hi < lo {
		return nil, invalidf("hourly counts: to %v is before from %v", to, from)
	}
	if hi-lo+1 > maxHourRange {
		return nil, invalidf("hourly counts: %d hours asked, at most %d", hi-lo+1, maxHourRange)
	}
	out := make([]HourCount, hi-lo+1)
	for i := range out {
		out[i].Hour = time.UnixMilli((lo + int64(i)) * hourMs).In(Beijing)
	}
	end := strconv.FormatInt((hi+1)*hourMs, 10)
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: recentKey, Start: "-inf", Stop: "(" + end, ByScore: true}).Result()
	if err != nil {
		return nil, wrap("hourly counts", err)
	}
	for from := 0; from < len(ids); from += recentChunk {
		hs, err := s.jobHashes(ctx, ids[from:min(from+recentChunk, len(ids))])
		if err != nil {
			return nil, wrap("hourly counts", err)
		}
		for _, h := range hs {
			if h["ready"] != "1" || (app != "" && h["app"] != app) {
				continue
			}
			for k, v := range h {
				hour, kind, ok := hourField(k)
				if !ok || hour < lo || hour > hi {
					continue
				}
				c := &out[hour-lo]
				n := parseInt(v)
				switch kind {
				case hourSent:
					c.Sent += n
				case hourFailed:
					c.Failed += n
				case hourDelivered:
					c.Delivered += n
				case hourUndelivered:
					c.Undelivered += n
				case hourFee:
					c.Fee += n
				}
			}
		}
	}
	return out, nil
}

// hourField parses a job hash field h:<hour>:<kind>.
func hourField(k string) (hour int64, kind string, ok bool) {
	if len(k) < 5 || k[0] != 'h' || k[1] != ':' {
		return 0, "", false
	}
	rest := k[2:]
	for i := len(rest) - 1; i > 0; i-- {
		if rest[i] == ':' {
			n, err := strconv.ParseInt(rest[:i], 10, 64)
			return n, rest[i+1:], err == nil
		}
	}
	return 0, "", false
}

// floorDiv is a / b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
