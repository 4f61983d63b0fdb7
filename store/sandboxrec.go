package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SandboxRecord names the in-process sandbox of the Tencent API that a zero-setup worker serves
// (see cmd/worker). Its worker keeps it in Redis while it serves it, so that the other zero-setup
// workers on the same Redis send through that one sandbox, whose receipts the one receipt puller
// brings, instead of each serving its own.
type SandboxRecord struct {
	URL       string   // base URL, http://host:port
	AppID     string   // the only SmsSdkAppId it accepts
	SignNames []string // the sign names it accepts
	Owner     string   // token of the worker serving it
}

func (r SandboxRecord) validate() error {
	switch {
	case r.URL == "":
		return invalidf("sandbox record: empty URL")
	case r.Owner == "":
		return invalidf("sandbox record: empty owner")
	case r.AppID == "":
		return invalidf("sandbox record: empty app id")
	}
	for _, s := range r.SignNames {
		if strings.Contains(s, "\n") {
			return invalidf("sandbox record: sign name %q contains a newline", s)
		}
	}
	return nil
}

// sandboxClaimScript writes the sandbox record when there is none or ARGV[1] owns it.
//
// Input:
// KEYS[1] -> sms:sandbox, the sandbox record
// ARGV[1] -> owner
// ARGV[2] -> url
// ARGV[3] -> app id
// ARGV[4] -> sign names, separated by "\n"
// ARGV[5] -> TTL ms of the record
// Output:
// Returns {1} if written
// Returns {0, owner, url, app, signs} of the record in force otherwise
var sandboxClaimScript = redis.NewScript(`
local o = redis.call('HGET', KEYS[1], 'owner')
if (not o) or o == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'url', ARGV[2], 'app', ARGV[3], 'signs', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {1}
end
local v = redis.call('HMGET', KEYS[1], 'owner', 'url', 'app', 'signs')
return {0, v[1] or '', v[2] or '', v[3] or '', v[4] or ''}
`)

// sandboxReleaseScript deletes the sandbox record only if owner holds it.
//
// Input:
// KEYS[1] -> sms:sandbox, the sandbox record
// ARGV[1] -> owner
// Output:
// Returns 1 if deleted
// Returns 0 if owner does not hold it
var sandboxReleaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// ClaimSandbox records rec as the shared sandbox for ttl when no other owner's record is in
// force; a record of rec.Owner is replaced and its TTL renewed. It returns the record in force
// and whether it is rec.
func (s *Store) ClaimSandbox(ctx context.Context, rec SandboxRecord, ttl time.Duration) (SandboxRecord, bool, error) {
	if err := rec.validate(); err != nil {
		return SandboxRecord{}, false, err
	}
	if ttl < time.Millisecond {
		return SandboxRecord{}, false, invalidf("sandbox record: ttl %v is under 1ms", ttl)
	}
	v, err := sandboxClaimScript.Run(ctx, s.rdb, []string{sandboxKey},
		rec.Owner, rec.URL, rec.AppID, strings.Join(rec.SignNames, "\n"), ttl.Milliseconds()).Slice()
	if err != nil {
		return SandboxRecord{}, false, wrap("claim sandbox record", err)
	}
	if len(v) == 1 {
		return rec, true, nil
	}
	if len(v) != 5 {
		return SandboxRecord{}, false, wrap("claim sandbox record", errors.New("malformed script reply"))
	}
	return sandboxRecord(replyString(v[1]), replyString(v[2]), replyString(v[3]), replyString(v[4])), false, nil
}

// Sandbox returns the shared sandbox's record, or ErrNotFound when none is in force.
func (s *Store) Sandbox(ctx context.Context) (SandboxRecord, error) {
	v, err := s.rdb.HMGet(ctx, sandboxKey, "owner", "url", "app", "signs").Result()
	if err != nil {
		return SandboxRecord{}, wrap("read sandbox record", err)
	}
	owner := replyString(v[0])
	if owner == "" {
		return SandboxRecord{}, ErrNotFound
	}
	return sandboxRecord(owner, replyString(v[1]), replyString(v[2]), replyString(v[3])), nil
}

// ReleaseSandbox deletes the shared sandbox's record if owner holds it; otherwise a no-op. Other
// workers use it, with the owner they read, to drop the record of a sandbox that stopped
// answering (its worker died).
func (s *Store) ReleaseSandbox(ctx context.Context, owner string) error {
	if owner == "" {
		return invalidf("sandbox record: empty owner")
	}
	return wrap("release sandbox record", sandboxReleaseScript.Run(ctx, s.rdb, []string{sandboxKey}, owner).Err())
}

func sandboxRecord(owner, url, app, signs string) SandboxRecord {
	r := SandboxRecord{URL: url, AppID: app, Owner: owner}
	if signs != "" {
		r.SignNames = strings.Split(signs, "\n")
	}
	return r
}
