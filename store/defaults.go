package store

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults are the SmsSdkAppId and sign name a worker sends with when a job names none. Workers
// advertise them in Redis so that producers (enqueue, client) need not be configured with them.
type Defaults struct {
	AppID     string
	SignName  string
	UpdatedAt time.Time
}

// AdvertiseDefaults records d as the defaults producers should use; the newest worker wins. The
// record expires after Retention unless a worker advertises again.
func (s *Store) AdvertiseDefaults(ctx context.Context, d Defaults) error {
	if err := checkID("app id", d.AppID); err != nil {
		return err
	}
	now := s.opts.Now()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, defaultsKey, "app", d.AppID, "sign", d.SignName, "at", strconv.FormatInt(now.UnixMilli(), 10))
		p.PExpire(ctx, defaultsKey, s.opts.Retention)
		return nil
	})
	return wrap("advertise defaults", err)
}

// AdvertisedDefaults returns the defaults a worker advertised, or ErrNotFound when none has.
func (s *Store) AdvertisedDefaults(ctx context.Context) (Defaults, error) {
	v, err := s.rdb.HMGet(ctx, defaultsKey, "app", "sign", "at").Result()
	if err != nil {
		return Defaults{}, wrap("read advertised defaults", err)
	}
	app := replyString(v[0])
	if app == "" {
		return Defaults{}, ErrNotFound
	}
	return Defaults{AppID: app, SignName: replyString(v[1]), UpdatedAt: parseMs(replyString(v[2]))}, nil
}
