package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
)

// DefaultRedisURL is the Redis used when neither REDIS_URL nor REDIS_CLUSTER_NODES is set: the
// local Redis, or the embedded one a zero-setup worker serves there.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Config is enqueue's settings. They are read like the worker's: each from its environment
// variable, overridden by its flag (flags win).
type Config struct {
	RedisURL             string   // REDIS_URL / --redis-url (redis:// or rediss://)
	RedisClusterNodes    []string // REDIS_CLUSTER_NODES / --redis-cluster-nodes: used instead of RedisURL
	RedisClusterUsername string   // REDIS_CLUSTER_USERNAME / --redis-cluster-username
	RedisClusterPassword string   // REDIS_CLUSTER_PASSWORD / --redis-cluster-password
	RedisClusterTLS      bool     // REDIS_CLUSTER_TLS / --redis-cluster-tls
	AppID                string   // SMS_SDK_APP_ID: default of --app
	SignName             string   // SMS_SIGN_NAME: default of --sign

	// sources name where each setting came from ("REDIS_URL" or "--redis-url"), for messages.
	sources map[string]string
}

// setting is one environment variable with its (persistent) flag.
type setting struct {
	env, flag, usage string
	secret           bool
	set              func(c *Config, raw string) error // error text follows "NAME: "
}

var settings = []setting{
	{env: "REDIS_URL", flag: "redis-url", usage: "Redis URL, redis:// or rediss:// for TLS (default " + DefaultRedisURL + ")",
		set: func(c *Config, raw string) error {
			if raw == "" {
				raw = DefaultRedisURL
			}
			if _, err := redis.ParseURL(raw); err != nil {
				return fmt.Errorf("%q is not a Redis URL (redis://[user:password@]host:port/db or rediss://...): %s",
					redactURL(raw), strings.ReplaceAll(err.Error(), raw, redactURL(raw)))
			}
			c.RedisURL = raw
			return nil
		}},
	{env: "REDIS_CLUSTER_NODES", flag: "redis-cluster-nodes", usage: "comma-separated host:port seed nodes of a Redis Cluster; when set, used instead of REDIS_URL",
		set: func(c *Config, raw string) error {
			c.RedisClusterNodes = nil
			if strings.TrimSpace(raw) == "" {
				return nil
			}
			for _, n := range strings.Split(raw, ",") {
				n = strings.TrimSpace(n)
				host, port, err := net.SplitHostPort(n)
				if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
					return fmt.Errorf("%q is not a host:port", n)
				}
				c.RedisClusterNodes = append(c.RedisClusterNodes, n)
			}
			return nil
		}},
	{env: "REDIS_CLUSTER_USERNAME", flag: "redis-cluster-username", usage: "ACL user for REDIS_CLUSTER_NODES",
		set: func(c *Config, raw string) error { c.RedisClusterUsername = raw; return nil }},
	{env: "REDIS_CLUSTER_PASSWORD", flag: "redis-cluster-password", secret: true, usage: "password for REDIS_CLUSTER_NODES (prefer the environment variable)",
		set: func(c *Config, raw string) error { c.RedisClusterPassword = raw; return nil }},
	{env: "REDIS_CLUSTER_TLS", flag: "redis-cluster-tls", usage: "use TLS to REDIS_CLUSTER_NODES (true/false)",
		set: func(c *Config, raw string) error {
			if raw == "" {
				c.RedisClusterTLS = false
				return nil
			}
			b, err := strconv.ParseBool(strings.TrimSpace(raw))
			if err != nil {
				return fmt.Errorf("%q is not true or false", raw)
			}
			c.RedisClusterTLS = b
			return nil
		}},
	{env: "SMS_SDK_APP_ID", flag: "", usage: "default SmsSdkAppId for --app",
		set: func(c *Config, raw string) error {
			if raw != "" && strings.Trim(raw, "0123456789") != "" {
				return fmt.Errorf("%q is not a numeric SmsSdkAppId such as 1400000000", raw)
			}
			c.AppID = raw
			return nil
		}},
	{env: "SMS_SIGN_NAME", flag: "", usage: "default sign name for --sign",
		set: func(c *Config, raw string) error { c.SignName = raw; return nil }},
}

// addConfigFlags declares the persistent flags of the settings that have one.
func addConfigFlags(fs *pflag.FlagSet) {
	for _, s := range settings {
		if s.flag != "" {
			fs.String(s.flag, "", s.usage+" (env "+s.env+")")
		}
	}
}

// loadConfig reads every setting from getenv, overridden by the flags of fs that were given. An
// empty environment variable counts as unset. Every malformed setting is reported, one per line,
// each starting with its name (the variable, or the flag when the value came from one).
func loadConfig(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	c := Config{sources: map[string]string{}}
	var errs []error
	for _, s := range settings {
		name, raw := s.env, getenv(s.env)
		if s.flag != "" {
			if f := fs.Lookup(s.flag); f != nil && f.Changed {
				name, raw = "--"+s.flag, f.Value.String()
			}
		}
		c.sources[s.env] = name
		if err := s.set(&c, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// source names where a setting came from: its variable or its flag.
func (c Config) source(env string) string {
	if s := c.sources[env]; s != "" {
		return s
	}
	return env
}

// Validate checks the settings together; each error names the setting.
func (c Config) Validate() error {
	var errs []error
	if _, err := redis.ParseURL(c.RedisURL); err != nil && len(c.RedisClusterNodes) == 0 {
		errs = append(errs, fmt.Errorf("%s: %q is not a Redis URL", c.source("REDIS_URL"), redactURL(c.RedisURL)))
	}
	if len(c.RedisClusterNodes) == 0 {
		if c.RedisClusterUsername != "" {
			errs = append(errs, fmt.Errorf("%s: only used with REDIS_CLUSTER_NODES (put the user in REDIS_URL)", c.source("REDIS_CLUSTER_USERNAME")))
		}
		if c.RedisClusterPassword != "" {
			errs = append(errs, fmt.Errorf("%s: only used with REDIS_CLUSTER_NODES (put the password in REDIS_URL)", c.source("REDIS_CLUSTER_PASSWORD")))
		}
		if c.RedisClusterTLS {
			errs = append(errs, fmt.Errorf("%s: only used with REDIS_CLUSTER_NODES (use a rediss:// REDIS_URL)", c.source("REDIS_CLUSTER_TLS")))
		}
	}
	return errors.Join(errs...)
}

// redisName names the Redis setting in use, for messages.
func (c Config) redisName() string {
	if len(c.RedisClusterNodes) > 0 {
		return c.source("REDIS_CLUSTER_NODES")
	}
	return c.source("REDIS_URL")
}

// openRedis connects to the configured Redis (Cluster when RedisClusterNodes is set) and checks
// that it answers.
func (c Config) openRedis(ctx context.Context) (redis.UniversalClient, error) {
	var rdb redis.UniversalClient
	where := redactURL(c.RedisURL)
	if len(c.RedisClusterNodes) > 0 {
		opt := &redis.ClusterOptions{Addrs: c.RedisClusterNodes, Username: c.RedisClusterUsername, Password: c.RedisClusterPassword}
		if c.RedisClusterTLS {
			opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		rdb = redis.NewClusterClient(opt)
		where = strings.Join(c.RedisClusterNodes, ",")
	} else {
		opt, err := redis.ParseURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a Redis URL", c.redisName(), where)
		}
		rdb = redis.NewClient(opt)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		hint := ""
		if c.redisName() == "REDIS_URL" && c.RedisURL == DefaultRedisURL {
			hint = " (start the worker, which serves an embedded Redis there when none runs, or set REDIS_URL)"
		}
		return nil, fmt.Errorf("%s: %s does not answer%s: %w", c.redisName(), where, hint, err)
	}
	return rdb, nil
}

// redactURL hides the password of a Redis URL.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	i := strings.Index(raw, "://")
	at := strings.LastIndex(raw, "@")
	if i < 0 || at < i {
		return raw
	}
	if user, _, ok := strings.Cut(raw[i+3:at], ":"); ok {
		return raw[:i+3] + user + ":xxxxx" + raw[at:]
	}
	return raw
}
