package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// Halt is an app-wide stop (a halting code such as insufficient balance).
type Halt struct {
	App, Code      string
	Since, ProbeAt time.Time
}

// Halt stores a halt for app: batch handlers that see it park their batches. Halting an app that
// is already halted updates the code and probe time and keeps Since.
//
// A halt with parked batches does not expire: it ends with Resume (or, once PopParked has taken
// every parked batch, Retention after its last write, as a halt with nothing parked does). The
// list of halted apps Halts reads does not expire either, so the sweeper keeps probing.
func (s *Store) Halt(ctx context.Context, app, code string, probeAt time.Time) error {
	if err := checkID("app id", app); err != nil {
		return err
	}
	if code == "" {
		return invalidf("halt of %s needs a code", app)
	}
	if err := haltScript.Run(ctx, s.rdb, []string{haltKey(app), parkedKey(app)}, code, s.now().UnixMilli(),
		msOf(probeAt), s.retentionArg()).Err(); err != nil {
		return wrap("halt "+app, err)
	}
	err := touchAddScript.Run(ctx, s.rdb, []string{haltAppsKey}, addSet, app, 0, "0").Err()
	return wrap("halt "+app+": register", err)
}

// HaltOf returns the app's halt, nil, nil when not halted.
func (s *Store) HaltOf(ctx context.Context, app string) (*Halt, error) {
	if err := checkID("app id", app); err != nil {
		return nil, err
	}
	h, err := s.rdb.HGetAll(ctx, haltKey(app)).Result()
	if err != nil {
		return nil, wrap("halt of "+app, err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return &Halt{App: app, Code: h["code"], Since: parseMs(h["since"]), ProbeAt: parseMs(h["probe_at"])}, nil
}

// Halts returns every halted app, by app id.
func (s *Store) Halts(ctx context.Context) ([]Halt, error) {
	apps, err := s.rdb.SMembers(ctx, haltAppsKey).Result()
	if err != nil {
		return nil, wrap("halts", err)
	}
	slices.Sort(apps)
	var out []Halt
	for _, app := range apps {
		if checkID("app id", app) != nil {
			continue
		}
		h, err := s.HaltOf(ctx, app)
		if err != nil {
			return nil, err
		}
		if h != nil {
			out = append(out, *h)
		}
	}
	return out, nil
}

// BatchRef names a batch of a job.
type BatchRef struct {
	Job   string
	Batch int
}

// Park records that a batch's task completed without sending because its app is halted; Resume
// returns it. ErrNotHalted when the app is not halted any more (Resume ran since the caller saw the
// halt): the batch was not parked and must be run. The parked set and the halt then carry no TTL:
// however long the halt lasts, its parked batches are not forgotten.
func (s *Store) Park(ctx context.Context, app, job string, batch int) error {
	if err := checkID("app id", app); err != nil {
		return err
	}
	if err := checkJobBatch(job, batch); err != nil {
		return err
	}
	n, err := parkScript.Run(ctx, s.rdb, []string{haltKey(app), parkedKey(app)},
		job+"|"+strconv.Itoa(batch)).Int()
	if err != nil {
		return wrap(fmt.Sprintf("park %s/%d", job, batch), err)
	}
	if n == 0 {
		return fmt.Errorf("park %s/%d: %w: %s", job, batch, ErrNotHalted, app)
	}
	return nil
}

func parseBatchRef(m string) (BatchRef, bool) {
	job, b, ok := strings.Cut(m, "|")
	n, err := strconv.Atoi(b)
	if !ok || err != nil || n < 0 || checkID("job id", job) != nil {
		return BatchRef{}, false
	}
	return BatchRef{Job: job, Batch: n}, true
}

// Resume clears the halt and returns (and clears) the parked batches, in job/batch order.
func (s *Store) Resume(ctx context.Context, app string) ([]BatchRef, error) {
	if err := checkID("app id", app); err != nil {
		return nil, err
	}
	members, err := resumeScript.Run(ctx, s.rdb, []string{haltKey(app), parkedKey(app)}).StringSlice()
	if err != nil {
		return nil, wrap("resume "+app, err)
	}
	out := make([]BatchRef, 0, len(members))
	for _, m := range members {
		if ref, ok := parseBatchRef(m); ok {
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, func(a, b BatchRef) int {
		if c := strings.Compare(a.Job, b.Job); c != 0 {
			return c
		}
		return a.Batch - b.Batch
	})
	return out, nil
}

// popParkedScript removes one parked batch of a halted app. Popping only while halted keeps a
// probe that races with Resume from taking a batch Resume already handed out (Resume deletes both
// keys in one script). Once nothing is parked the halt expires again ttl after its last write
// (see Halt).
//
// Input:
// KEYS[1] -> sms:halt:{<app>}, the halt hash
// KEYS[2] -> sms:halt:{<app>}:parked, the set of parked batches
// ARGV[1] -> TTL ms (Options.Retention) the halt gets once nothing is parked
// Output:
// Returns the member "<job>|<batch>"
// Returns nil (false) if the app is not halted or nothing is parked
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
