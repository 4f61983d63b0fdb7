package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A pull (PullSmsSendStatus) is a destructive read: a puller killed between Tencent's answer and
// the save of the page loses that page for good. The pull mark makes such a loss visible: the
// puller writes it before each pull and clears it once the page is saved, so a mark that a new
// holder of the app's pull lease finds was left by a puller that died mid-pull (or could not
// save). TakePullMark turns it into a suspected receipt loss, and the receipt lookup then looks
// up, soon, the numbers sent before that time that still have no receipt, instead of waiting
// their whole lookup age.

// MarkPull records that a pull of app starts at at (call it before PullSendStatus).
func (s *Store) MarkPull(ctx context.Context, app string, at time.Time) error {
	if err := checkID("app", app); err != nil {
		return err
	}
	err := s.rdb.Set(ctx, pullMarkKey(app), at.UnixMilli(), s.opts.Retention).Err()
	return wrap("mark pull of "+app, err)
}

// ClearPull removes app's pull mark (the pulled page is saved, or the pull returned nothing).
func (s *Store) ClearPull(ctx context.Context, app string) error {
	if err := checkID("app", app); err != nil {
		return err
	}
	return wrap("clear pull mark of "+app, s.rdb.Del(ctx, pullMarkKey(app)).Err())
}

// TakePullMark removes app's pull mark and, when there was one, records a suspected receipt loss
// at its time (SuspectReceiptLoss) and returns that time. Call it holding the app's pull lease,
// before the first pull: a mark found then was left by a pull whose page may be lost.
func (s *Store) TakePullMark(ctx context.Context, app string) (time.Time, bool, error) {
	if err := checkID("app", app); err != nil {
		return time.Time{}, false, err
	}
	v, err := s.rdb.GetDel(ctx, pullMarkKey(app)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, wrap("take pull mark of "+app, err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: pull mark of %s: %q is not a time", app, v)
	}
	at := time.UnixMilli(ms)
	return at, true, s.SuspectReceiptLoss(ctx, at)
}

// SuspectReceiptLoss records that receipts received by Tencent before at may have been lost
// (a pull whose page was never saved, or whose answer was never read). The latest time is kept.
func (s *Store) SuspectReceiptLoss(ctx context.Context, at time.Time) error {
	err := maxScript.Run(ctx, s.rdb, []string{receiptLossKey}, at.UnixMilli(), s.retentionArg()).Err()
	return wrap("suspect receipt loss", err)
}

// ReceiptLossSuspected returns the latest time before which receipts may have been lost (zero if
// none is recorded).
func (s *Store) ReceiptLossSuspected(ctx context.Context) (time.Time, error) {
	v, err := s.rdb.Get(ctx, receiptLossKey).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("receipt loss", err)
	}
	return time.UnixMilli(v), nil
}

// maxScript sets a key to an integer if it is larger than the key's, and (re)sets its TTL.
// KEYS[1] key. ARGV[1] value, ARGV[2] ttl ms. Output: 1.
var maxScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '')
if not cur or cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)
