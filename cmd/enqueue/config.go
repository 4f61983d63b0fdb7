package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/smsdispatch/smsdispatch/internal/redisconf"
	"github.com/smsdispatch/smsdispatch/internal/tencentconf"
)

// DefaultRedisURL is the Redis used when neither REDIS_URL nor REDIS_CLUSTER_NODES is set: the
// local Redis, or the embedded one a zero-setup worker serves there.
const DefaultRedisURL = redisconf.DefaultURL

// Config is enqueue's settings. They are read like the worker's: each from its environment
// variable, overridden by its flag (flags win).
type Config struct {
	Redis    redisconf.Settings // REDIS_URL / --redis-url, or REDIS_CLUSTER_NODES / --redis-cluster-nodes with REDIS_CLUSTER_*
	AppID    string             // SMS_SDK_APP_ID: default of --app
	SignName string             // SMS_SIGN_NAME: default of --sign
	// Tencent is TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION and
	// SMS_ENDPOINT, read like the worker reads them: for stats, template, balance and the template
	// check of send. With none set, the sandbox a zero-setup worker advertises is used.
	Tencent tencentconf.Settings

	// sources name where each setting came from ("REDIS_URL" or "--redis-url"), for messages.
	sources map[string]string
}

// setting is one of enqueue's own settings: an environment variable without a flag.
type setting struct {
	env string
	set func(c *Config, raw string) error // error text follows "NAME: "
}

// settings are enqueue's own settings; the Redis settings are redisconf's.
var settings = []setting{
	// The default SmsSdkAppId for --app.
	{env: "SMS_SDK_APP_ID",
		set: func(c *Config, raw string) error {
			if raw != "" && strings.Trim(raw, "0123456789") != "" {
				return fmt.Errorf("%q is not a numeric SmsSdkAppId such as 1400000000", raw)
			}
			c.AppID = raw
			return nil
		}},
	// The default sign name for --sign.
	{env: "SMS_SIGN_NAME",
		set: func(c *Config, raw string) error { c.SignName = raw; return nil }},
}

// addConfigFlags declares the persistent flags of the Redis settings.
func addConfigFlags(fs *pflag.FlagSet) {
	for _, v := range redisconf.Vars() {
		fs.String(v.Flag, "", v.Help())
	}
}

// loadConfig reads every setting from getenv, overridden by the flags of fs that were given. An
// empty environment variable, or an empty flag, means the setting's default. Every malformed
// setting is reported, one per line, each starting with its name (the variable, or the flag when
// the value came from one).
func loadConfig(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	c := Config{sources: map[string]string{}}
	var err error
	c.Redis, err = redisconf.Load(func(v redisconf.Var) (string, string, bool) {
		name, raw := v.Env, getenv(v.Env)
		if f := fs.Lookup(v.Flag); f != nil && f.Changed {
			name, raw = "--"+v.Flag, f.Value.String()
		}
		c.sources[v.Env] = name
		return raw, name, raw != ""
	})
	errs := []error{err}
	for _, v := range tencentconf.Vars() {
		c.sources[v.Env] = v.Env
		raw := getenv(v.Env)
		if raw == "" {
			raw = v.Default
		}
		if err := v.Set(&c.Tencent, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.Env, err))
		}
	}
	for _, s := range settings {
		c.sources[s.env] = s.env
		if err := s.set(&c, getenv(s.env)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.env, err))
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
	return errors.Join(c.Redis.Validate(c.source), c.Tencent.ValidateCredentials())
}

// redisName names the Redis setting in use, for messages.
func (c Config) redisName() string {
	return c.source(c.Redis.Source())
}

// openRedis connects to the configured Redis (Cluster when REDIS_CLUSTER_NODES is set) and checks
// that it answers.
func (c Config) openRedis(ctx context.Context) (redis.UniversalClient, error) {
	where := c.Redis.Where()
	rdb, err := c.Redis.NewClient()
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a Redis URL", c.redisName(), where)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		hint := ""
		if c.redisName() == redisconf.EnvURL && c.Redis.URL == DefaultRedisURL {
			hint = " (start the worker, which serves an embedded Redis there when none runs, or set REDIS_URL)"
		}
		err = fmt.Errorf("%s: %s does not answer%s: %w", c.redisName(), where, hint, err)
		if connectionFailed(err) {
			return nil, unreachableError{err}
		}
		return nil, err // it answered, with an error (a wrong password, say)
	}
	return rdb, nil
}

// connectionFailed reports whether err says that Redis could not be reached or did not answer
// (a dial refused, a DNS failure, a reset or closed connection, a timeout), rather than that it
// answered with an error.
func connectionFailed(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
