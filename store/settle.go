package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Keys of a job and their TTL (see "Retention" in the package doc): while the job is being
// created they expire after Retention; from the moment it is ready until it settles they carry
// no TTL, so nothing a running, paused or scheduled job needs can expire however long it takes;
// once it has settled (finished: done, or cancelled/failed with nothing pending or unknown) every
// key gets Retention, counted from then. The job hash field xs records the last step: "1" the
// TTLs are being set, "2" they are set.

// expireChunk is how many batch keys one persistScript or expireScript call visits (a PTTL and
// a PERSIST/PEXPIRE each).
const expireChunk = 1000

// persistScript removes the creation TTL of a ready job's keys, a chunk of batches per call, the
// job hash (the sign that the job still needs this) last. It does nothing once the job has begun
// to expire (xs), so it never undoes ExpireSettled.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:params
// KEYS[3] -> sms:{<job>}:codes
// KEYS[4..] -> sms:{<job>}:b:<n>, the batch records of the chunk
// ARGV[1] -> "1" on the last chunk, else "0"
// Output:
// Returns 1 if done
// Returns 0 if refused (not ready, or settled)
var persistScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'ready', 'xs')
if v[1] ~= '1' or v[2] then return 0 end
for k = 4, #KEYS do redis.call('PERSIST', KEYS[k]) end
if ARGV[1] == '1' then
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[3])
  redis.call('PERSIST', KEYS[1])
end
return 1
`)

// expireScript gives a settled job's keys the retention TTL (at least: a key that expires later
// keeps its TTL), a chunk of batches per call; the last call sets the job hash's, params' and
// codes' and marks the job done with it (xs=2).
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:params
// KEYS[3] -> sms:{<job>}:codes
// KEYS[4..] -> sms:{<job>}:b:<n>, the batch records of the chunk
// ARGV[1] -> TTL ms (Options.Retention)
// ARGV[2] -> "1" on the last chunk, else "0"
// Output:
// Returns 1 if applied
// Returns 0 if already done
// Returns -1 if the job does not exist
var expireScript = redis.NewScript(prelude + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local xs = redis.call('HGET', KEYS[1], 'xs')
if xs == '2' then return 0 end
if not xs then redis.call('HSET', KEYS[1], 'xs', '1') end
for k = 4, #KEYS do expire_min(KEYS[k], ARGV[1]) end
if ARGV[2] == '1' then
  expire_min(KEYS[2], ARGV[1])
  expire_min(KEYS[3], ARGV[1])
  redis.call('HSET', KEYS[1], 'xs', '2')
  expire_min(KEYS[1], ARGV[1])
end
return 1
`)

// ExpireSettled gives every key of a job that has settled (done, or cancelled/failed with nothing
// pending or unknown) the TTL Options.Retention, so the job's records are kept for Retention after
// it settled. It reports whether the job has settled; for a job that has not, it changes nothing.
// Idempotent: once done, calling it again changes nothing. ErrNotFound when the job does not
// exist. Status and ActiveJobs (the sweeper) call it for every settled job they see, before they
// drop it from the active jobs, so callers rarely need to.
func (s *Store) ExpireSettled(ctx context.Context, job string) (settled bool, err error) {
	h, err := s.readJob(ctx, job)
	if err != nil {
		return false, err
	}
	if !s.deriveStatus(job, h, false).Final {
		return false, nil
	}
	return true, s.expireSettled(ctx, job, h)
}

// expireSettled runs expireScript over a settled job whose hash is h.
func (s *Store) expireSettled(ctx context.Context, job string, h map[string]string) error {
	if h["xs"] == "2" {
		return nil
	}
	ttl := s.retentionArg()
	return s.overJobKeys(ctx, "expire settled job "+job, job, int(parseInt(h["batches"])), func(keys []string, last string) error {
		return expireScript.Run(ctx, s.rdb, keys, ttl, last).Err()
	})
}

// persistJob runs persistScript over a ready job of n batches.
func (s *Store) persistJob(ctx context.Context, job string, n int) error {
	return s.overJobKeys(ctx, "persist job "+job, job, n, func(keys []string, last string) error {
		return persistScript.Run(ctx, s.rdb, keys, last).Err()
	})
}

// overJobKeys calls fn with the keys job, params, codes and then a chunk of batch keys (at most
// expireChunk of the n), chunk after chunk; last is "1" on the last call. At least one call. An
// error is wrapped with op and the chunk's batches.
func (s *Store) overJobKeys(ctx context.Context, op, job string, n int, fn func(keys []string, last string) error) error {
	keys := make([]string, 0, 3+min(n, expireChunk))
	for from := 0; from == 0 || from < n; from += expireChunk {
		to := min(from+expireChunk, n)
		keys = append(keys[:0], jobKey(job), paramsKey(job), codesKey(job))
		for i := from; i < to; i++ {
			keys = append(keys, batchKey(job, i))
		}
		last := "0"
		if to >= n {
			last = "1"
		}
		if err := fn(keys, last); err != nil {
			return wrap(fmt.Sprintf("%s: batches %d..%d", op, from, to-1), err)
		}
	}
	return nil
}
