package dispatcher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
)

// haltOf returns the app's halt, through the process-wide cache.
func (h *SendHandler) haltOf(ctx context.Context, app string) (*store.Halt, error) {
	if halt, ok := h.halts.get(app); ok {
		return halt, nil
	}
	halt, err := h.store.HaltOf(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("dispatcher: halt of %s: %w", app, err)
	}
	h.halts.put(app, halt)
	return halt, nil
}

// haltCache remembers halt lookups (a nil halt: the app is not halted) for a short time, so that
// a batch costs no extra Redis round trip (SendConfig.HaltCacheTTL; a ttl <= 0 disables it).
// Expiry uses the wall clock: it is a cache, not logic. It is safe for concurrent use.
type haltCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]haltEntry
}

// haltEntry is one cached lookup.
type haltEntry struct {
	halt    *store.Halt
	expires time.Time
}

// get returns the app's cached halt; ok is false when there is none or it expired.
func (c *haltCache) get(app string) (*store.Halt, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[app]
	if !ok || time.Now().After(e.expires) {
		return nil, false
	}
	return e.halt, true
}

// put caches the app's halt for the ttl.
func (c *haltCache) put(app string, halt *store.Halt) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]haltEntry)
	}
	c.m[app] = haltEntry{halt: halt, expires: time.Now().Add(c.ttl)}
}

// forget drops the app's cached halt (the app was resumed).
func (c *haltCache) forget(app string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, app)
}
