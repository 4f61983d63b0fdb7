package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// ErrEvictionPolicy is wrapped by CheckServer's error when a Redis server's maxmemory-policy is
// not noeviction: under memory pressure it would evict job records (every one carries a TTL, so
// even the volatile-* policies take them), and their numbers would never be sent or counted.
var ErrEvictionPolicy = errors.New("store: Redis may evict job records")

// ServerConfig is what CheckServer read of one Redis server's settings.
type ServerConfig struct {
	// Addr is the server's address ("" when the client does not say).
	Addr string
	// Source is where the settings were read: "CONFIG" (CONFIG GET), "INFO" (CONFIG refused,
	// as managed Redis services that rename it do; INFO memory and persistence answered), or ""
	// when neither answered and nothing is known.
	Source string
	// MaxmemoryPolicy is maxmemory-policy ("" when not known).
	MaxmemoryPolicy string
	// AOF reports appendonly yes.
	AOF bool
	// RDB reports at least one RDB save point (save is not empty). RDBKnown is false when only
	// INFO answered: it does not show the save points.
	RDB      bool
	RDBKnown bool
	// Unchecked is why CONFIG GET could not be used (the server's error reply), nil when it was.
	Unchecked error
}

// Durable reports whether the server persists its data (AOF or RDB), and whether that is known.
func (c ServerConfig) Durable() (durable, known bool) {
	switch {
	case c.Source == "":
		return false, false
	case c.AOF || c.RDB:
		return true, true
	}
	return false, c.RDBKnown
}

// CheckServer reads the settings of the Redis behind the store (every master of a Redis Cluster)
// that decide whether job records survive: maxmemory-policy, appendonly and save. It returns one
// ServerConfig per server, and an error wrapping ErrEvictionPolicy, naming the servers and their
// policies, when any may evict keys. A server that refuses CONFIG GET is read through INFO; one
// that refuses both is reported with Source "" (nothing known) and no error. Other errors (the
// server does not answer) are returned as they are.
func (s *Store) CheckServer(ctx context.Context) ([]ServerConfig, error) {
	var (
		mu      sync.Mutex
		configs []ServerConfig
	)
	check := func(ctx context.Context, c redis.Cmdable, addr string) error {
		sc, err := checkOne(ctx, c)
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
		sc.Addr = addr
		mu.Lock()
		configs = append(configs, sc)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return check(ctx, n, n.Options().Addr)
		})
	case *redis.Client:
		err = check(ctx, c, c.Options().Addr)
	default:
		err = check(ctx, c, "")
	}
	if err != nil {
		return configs, wrap("check server settings", err)
	}
	var evicting []string
	for _, c := range configs {
		if c.MaxmemoryPolicy != "" && c.MaxmemoryPolicy != "noeviction" {
			name := "Redis"
			if c.Addr != "" {
				name += " " + c.Addr
			}
			evicting = append(evicting, name+" has maxmemory-policy "+c.MaxmemoryPolicy)
		}
	}
	if len(evicting) > 0 {
		return configs, fmt.Errorf("%w: %s; set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf)",
			ErrEvictionPolicy, strings.Join(evicting, ", "))
	}
	return configs, nil
}

// checkOne reads one server's settings: CONFIG GET, else INFO.
func checkOne(ctx context.Context, c redis.Cmdable) (ServerConfig, error) {
	var sc ServerConfig
	cfg, err := configGet(ctx, c, "maxmemory-policy", "appendonly", "save")
	if err == nil {
		sc.Source = "CONFIG"
		sc.MaxmemoryPolicy = cfg["maxmemory-policy"]
		sc.AOF = cfg["appendonly"] == "yes"
		sc.RDB, sc.RDBKnown = strings.TrimSpace(cfg["save"]) != "", true
		return sc, nil
	}
	if !isReplyError(err) {
		return sc, err
	}
	sc.Unchecked = err
	mem, err := c.Info(ctx, "memory").Result()
	if err != nil {
		if isReplyError(err) {
			return sc, nil
		}
		return sc, err
	}
	per, err := c.Info(ctx, "persistence").Result()
	if err != nil && !isReplyError(err) {
		return sc, err
	}
	sc.MaxmemoryPolicy = infoField(mem, "maxmemory_policy")
	sc.AOF = infoField(per, "aof_enabled") == "1"
	if sc.MaxmemoryPolicy != "" || infoField(per, "aof_enabled") != "" {
		sc.Source = "INFO"
	}
	return sc, nil
}

// configGet reads each parameter with its own CONFIG GET (several in one call need Redis 7).
func configGet(ctx context.Context, c redis.Cmdable, params ...string) (map[string]string, error) {
	out := make(map[string]string, len(params))
	for _, p := range params {
		m, err := c.ConfigGet(ctx, p).Result()
		if err != nil {
			return nil, err
		}
		out[p] = m[p]
	}
	return out, nil
}

// isReplyError reports whether err is an error reply of the server (an unknown or forbidden
// command), as opposed to a network or context error.
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil)
}

// infoField returns the value of "name:value" in an INFO reply, "" when absent.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
