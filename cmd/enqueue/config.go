package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/smsdispatch/smsdispatch/internal/redisconf"
)

// DefaultRedisURL is the Redis used when neither REDIS_URL nor REDIS_CLUSTER_NODES is set: the
// local Redis, or the embedded one a zero-setup worker serves there.
const DefaultRedisURL = redisconf.DefaultURL

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
	def              string // shown in the help; set substitutes it for an empty value
	secret           bool
	set              func(c *Config, raw string) error // error text follows "NAME: "
}

// settings are redisconf's Redis settings, each with its flag, then enqueue's own.
var settings = append(redisSettings(), []setting{
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
}...)

// redisSettings are redisconf's Redis settings as enqueue settings. An empty value means the
// setting's default.
func redisSettings() []setting {
	var out []setting
	for _, v := range redisconf.Vars() {
		out = append(out, setting{env: v.Env, flag: v.Flag, usage: v.Usage, def: v.Default, secret: v.Secret,
			set: func(c *Config, raw string) error {
				if raw == "" {
					raw = v.Default
				}
				r := c.redis()
				err := v.Set(&r, raw)
				c.setRedis(r)
				return err
			}})
	}
	return out
}

// redis returns the Redis settings of c.
func (c Config) redis() redisconf.Settings {
	return redisconf.Settings{
		URL:             c.RedisURL,
		ClusterNodes:    c.RedisClusterNodes,
		ClusterUsername: c.RedisClusterUsername,
		ClusterPassword: c.RedisClusterPassword,
		ClusterTLS:      c.RedisClusterTLS,
	}
}

// setRedis stores r into c.
func (c *Config) setRedis(r redisconf.Settings) {
	c.RedisURL = r.URL
	c.RedisClusterNodes = r.ClusterNodes
	c.RedisClusterUsername = r.ClusterUsername
	c.RedisClusterPassword = r.ClusterPassword
	c.RedisClusterTLS = r.ClusterTLS
}

// addConfigFlags declares the persistent flags of the settings that have one.
func addConfigFlags(fs *pflag.FlagSet) {
	for _, s := range settings {
		if s.flag != "" {
			help := s.usage + " (env " + s.env + ")"
			if s.def != "" && !s.secret {
				help += fmt.Sprintf(" (default %q)", s.def)
			}
			fs.String(s.flag, "", help)
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
	return c.redis().Validate(c.source)
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
	r := c.redis()
	where := r.Where()
	rdb, err := r.NewClient()
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a Redis URL", c.redisName(), where)
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
