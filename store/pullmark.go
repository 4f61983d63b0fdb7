package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
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

// MarkPull records that owner starts a pull of app at at (call it before PullSendStatus).
func (s *Store) MarkPull(ctx context.Context, app, owner string, at time.Time) error {
	if err := checkID("app", app); err != nil {
		return err
	}
	err := s.rdb.Set(ctx, pullMarkKey(app), strconv.FormatInt(at.UnixMilli(), 10)+"|"+owner, s.opts.Retention).Err()
	return wrap("mark pull of "+app, err)
}

// ClearPull removes app's pull mark if owner wrote it (its pulled page is saved, or the pull
// returned nothing); another puller's mark is left alone.
func (s *Store) ClearPull(ctx context.Context, app, owner string) error {
	if err := checkID("app", app); err != nil {
		return err
	}
	v, err := s.rdb.Get(ctx, pullMarkKey(app)).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return wrap("clear pull mark of "+app, err)
	}
	if _, who, _ := strings.Cut(v, "|"); who != owner {
		return nil
	}
	return wrap("clear pull mark of "+app, delIfScript.Run(ctx, s.rdb, []string{pullMarkKey(app)}, v).Err())
}

// TakePullMark removes app's pull mark and, when there was one, records a suspected receipt loss
// at its time (SuspectReceiptLoss) and returns that time. Call it holding the app's pull lease,
// before the first pull: a mark found then was left by a pull whose page may be lost. The loss
// is recorded before the mark is removed (and only the mark read is removed), so a failure in
// between leaves the mark for the next try.
func (s *Store) TakePullMark(ctx context.Context, app string) (time.Time, bool, error) {
	if err := checkID("app", app); err != nil {
		return time.Time{}, false, err
	}
	v, err := s.rdb.Get(ctx, pullMarkKey(app)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, wrap("take pull mark of "+app, err)
	}
	msText, _, _ := strings.Cut(v, "|")
	ms, perr := strconv.ParseInt(msText, 10, 64)
	if perr != nil {
		// Not a mark this code writes: drop it rather than stop every pull of the app.
		return time.Time{}, false, wrap("take pull mark of "+app, delIfScript.Run(ctx, s.rdb, []string{pullMarkKey(app)}, v).Err())
	}
	at := time.UnixMilli(ms)
	if err := s.SuspectReceiptLoss(ctx, at); err != nil {
		return time.Time{}, false, err
	}
	if err := delIfScript.Run(ctx, s.rdb, []string{pullMarkKey(app)}, v).Err(); err != nil {
		return time.Time{}, false, wrap("take pull mark of "+app, err)
	}
	return at, true, nil
}

// delIfScript deletes a key if it still holds a value.
//
// Input:
// KEYS[1] -> the key
// ARGV[1] -> the value
// Output:
// Returns 1 if deleted
// Returns 0 if not (changed or gone)
var delIfScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

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
//
// Input:
// KEYS[1] -> the key (sms:rcpt:loss)
// ARGV[1] -> the value, unix ms
// ARGV[2] -> TTL ms of the key
// Output:
// Returns 1
var maxScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '')
if not cur or cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)
