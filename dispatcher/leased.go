package dispatcher

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// leaser is what leasedLoop needs from the store.
type leaser interface {
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// leasedLoop runs once every interval while owner holds the fleet-wide lease name (taken, or
// renewed, before each run), until ctx ends; then it gives the lease up and returns nil. Errors
// of a run are logged ("<what> incomplete"); the next run tries again. The sweeper and the
// receipt lookup run on it.
func leasedLoop(ctx context.Context, st leaser, log *zap.Logger, name, owner string, ttl, interval time.Duration,
	what string, once func(ctx context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	held := false
	defer func() {
		if held {
			rctx, cancel := detached(ctx, 5*time.Second)
			defer cancel()
			if err := st.ReleaseLease(rctx, name, owner); err != nil {
				log.Warn("lease not released; it expires by itself", zap.String("lease", name), zap.Error(err))
			}
		}
	}()
	for {
		ok, err := st.AcquireLease(ctx, name, owner, ttl)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("lease not acquired", zap.String("lease", name), zap.Error(err))
		case ok:
			held = true
			if err := once(ctx); err != nil && ctx.Err() == nil {
				log.Warn("run incomplete", zap.String("loop", what), zap.Error(err))
			}
		default:
			held = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
