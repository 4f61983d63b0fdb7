// Package redisconf owns the Redis settings every smsdispatch binary reads: REDIS_URL, or
// REDIS_CLUSTER_NODES with REDIS_CLUSTER_USERNAME, REDIS_CLUSTER_PASSWORD and REDIS_CLUSTER_TLS.
// It defines their names, flags, defaults and help text (Vars), parses and checks each one
// (Var.Set), reads them all (Load), checks them together (Settings.Validate), builds go-redis
// clients from them (Settings.NewClient), and hides passwords in messages (RedactURL). It reads no
// environment and no flags itself: a binary looks each variable (or its flag) up and passes the
// raw text in.
package redisconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the Redis used when neither REDIS_URL nor REDIS_CLUSTER_NODES is set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Names of the environment variables.
const (
	EnvURL             = "REDIS_URL"
	EnvClusterNodes    = "REDIS_CLUSTER_NODES"
	EnvClusterUsername = "REDIS_CLUSTER_USERNAME"
	EnvClusterPassword = "REDIS_CLUSTER_PASSWORD"
	EnvClusterTLS      = "REDIS_CLUSTER_TLS"
)

// Settings are the Redis settings of a binary.
type Settings struct {
	URL             string   // REDIS_URL: redis:// or rediss:// for TLS
	ClusterNodes    []string // REDIS_CLUSTER_NODES: when set, Redis Cluster is used instead of URL
	ClusterUsername string   // REDIS_CLUSTER_USERNAME: ACL user for ClusterNodes
	ClusterPassword string   // REDIS_CLUSTER_PASSWORD: password for ClusterNodes
	ClusterTLS      bool     // REDIS_CLUSTER_TLS: TLS to ClusterNodes
}

// Var is one Redis setting: its environment variable, its flag, its default and its help text.
type Var struct {
	Env     string // e.g. REDIS_URL
	Flag    string // e.g. redis-url (without the dashes)
	Default string // the raw value used when the setting is not given ("" for none)
	Usage   string // help text
	Secret  bool   // never echo the value in messages
	// Set parses raw (the default already substituted by the caller when the setting is not
	// given) into s. Its error is the text that follows "NAME: ".
	Set func(s *Settings, raw string) error
}

// vars is the table of the Redis settings, in the order of the README's configuration table.
var vars = []Var{
	{Env: EnvURL, Flag: "redis-url", Default: DefaultURL,
		Usage: "Redis URL (redis:// or rediss:// for TLS)",
		Set: func(s *Settings, raw string) error {
			if _, err := redis.ParseURL(raw); err != nil {
				return fmt.Errorf("%q is not a Redis URL (redis://[user:password@]host:port/db or rediss://...): %s", RedactURL(raw), RedactErr(err, raw))
			}
			s.URL = raw
			return nil
		}},
	{Env: EnvClusterNodes, Flag: "redis-cluster-nodes",
		Usage: "comma-separated host:port seed nodes of a Redis Cluster; when set, used instead of REDIS_URL",
		Set: func(s *Settings, raw string) error {
			nodes, err := ParseNodes(raw)
			s.ClusterNodes = nodes
			return err
		}},
	{Env: EnvClusterUsername, Flag: "redis-cluster-username",
		Usage: "ACL user name for REDIS_CLUSTER_NODES (REDIS_URL carries its own)",
		Set:   func(s *Settings, raw string) error { s.ClusterUsername = raw; return nil }},
	{Env: EnvClusterPassword, Flag: "redis-cluster-password", Secret: true,
		Usage: "password for REDIS_CLUSTER_NODES (REDIS_URL carries its own; prefer the environment variable: flags show in ps)",
		Set:   func(s *Settings, raw string) error { s.ClusterPassword = raw; return nil }},
	{Env: EnvClusterTLS, Flag: "redis-cluster-tls", Default: "false",
		Usage: "use TLS to REDIS_CLUSTER_NODES (true or false)",
		Set: func(s *Settings, raw string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(raw))
			if err != nil {
				return fmt.Errorf("%q is not true or false", raw)
			}
			s.ClusterTLS = b
			return nil
		}},
}

// Help is the flag help of v: its usage, its environment variable and, unless it is secret, its
// default. Every binary's flags use this form.
func (v Var) Help() string {
	help := v.Usage + " (env " + v.Env + ")"
	if v.Default != "" && !v.Secret {
		help += fmt.Sprintf(" (default %q)", v.Default)
	}
	return help
}

// Load reads every Redis setting. lookup returns the raw text of v (from its flag or its
// environment variable, as the binary decides), the name it came by, for messages ("--redis-url"
// or "REDIS_URL"), and whether it was given; a setting not given takes v.Default. Every malformed
// setting is reported, each on its own line starting with its name.
func Load(lookup func(v Var) (raw, name string, given bool)) (Settings, error) {
	var s Settings
	var errs []error
	for _, v := range vars {
		raw, name, given := lookup(v)
		if !given {
			raw = v.Default
		}
		if err := v.Set(&s, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return s, errors.Join(errs...)
}

// Vars returns the Redis settings, in the order of the README's configuration table. The slice
// is a copy: callers may change it.
func Vars() []Var { return append([]Var(nil), vars...) }

// ParseNodes parses a comma-separated list of host:port seed nodes; blank means none (nil).
func ParseNodes(raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var nodes []string
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		host, port, err := net.SplitHostPort(n)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("%q is not a host:port", n)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// Cluster reports whether the settings name a Redis Cluster.
func (s Settings) Cluster() bool { return len(s.ClusterNodes) > 0 }

// Validate checks the settings together; each error starts with name(env), the name of the
// setting as the user gave it (its variable or its flag); nil name means the variable.
func (s Settings) Validate(name func(env string) string) error {
	if name == nil {
		name = func(env string) string { return env }
	}
	var errs []error
	add := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name(env)}, args...)...))
	}
	if s.Cluster() {
		return nil
	}
	if _, err := redis.ParseURL(s.URL); err != nil {
		add(EnvURL, "%q is not a Redis URL", RedactURL(s.URL))
	}
	if s.ClusterUsername != "" {
		add(EnvClusterUsername, "only used with REDIS_CLUSTER_NODES (put the user in REDIS_URL)")
	}
	if s.ClusterPassword != "" {
		add(EnvClusterPassword, "only used with REDIS_CLUSTER_NODES (put the password in REDIS_URL)")
	}
	if s.ClusterTLS {
		add(EnvClusterTLS, "only used with REDIS_CLUSTER_NODES (use a rediss:// REDIS_URL)")
	}
	return errors.Join(errs...)
}

// ClusterOptions are the go-redis options of the Redis Cluster the settings name.
func (s Settings) ClusterOptions() *redis.ClusterOptions {
	opt := &redis.ClusterOptions{Addrs: s.ClusterNodes, Username: s.ClusterUsername, Password: s.ClusterPassword}
	if s.ClusterTLS {
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return opt
}

// URLOptions are the go-redis options of REDIS_URL. The error names REDIS_URL and hides the
// password.
func (s Settings) URLOptions() (*redis.Options, error) {
	opt, err := redis.ParseURL(s.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", EnvURL, RedactErr(err, s.URL))
	}
	return opt, nil
}

// NewClient returns a client of the configured Redis: a cluster client when ClusterNodes is set
// (even with one seed node), otherwise a client of URL. It does not connect.
func (s Settings) NewClient() (redis.UniversalClient, error) {
	if s.Cluster() {
		return redis.NewClusterClient(s.ClusterOptions()), nil
	}
	opt, err := s.URLOptions()
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// Where describes the configured Redis for messages: the seed nodes, or the redacted URL.
func (s Settings) Where() string {
	if s.Cluster() {
		return strings.Join(s.ClusterNodes, ",")
	}
	return RedactURL(s.URL)
}

// RedactURL hides the password of a Redis URL, also of one url.Parse rejects.
func RedactURL(raw string) string {
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

// RedactErr returns err's text with raw replaced by its redacted form.
func RedactErr(err error, raw string) string {
	return strings.ReplaceAll(err.Error(), raw, RedactURL(raw))
}
