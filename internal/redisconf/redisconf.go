// Package redisconf owns the Redis settings every smsdispatch binary reads: REDIS_URL, or
// REDIS_CLUSTER_NODES with REDIS_CLUSTER_USERNAME, REDIS_CLUSTER_PASSWORD and REDIS_CLUSTER_TLS, or
// REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER and REDIS_SENTINEL_PASSWORD (the master's user,
// password, database and TLS then come from REDIS_URL), and REDIS_TLS_CA_FILE for a private CA.
// It defines their names, flags, defaults and help text (Vars), parses and checks each one
// (Var.Set), reads them all (Load), checks them together (Settings.Validate), builds go-redis
// clients from them (Settings.NewClient), and hides passwords in messages (RedactURL). It reads no
// environment and no flags itself: a binary looks each variable (or its flag) up and passes the
// raw text in.
package redisconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the Redis used when none of REDIS_URL, REDIS_CLUSTER_NODES and
// REDIS_SENTINEL_ADDRS is set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Names of the environment variables.
const (
	EnvURL              = "REDIS_URL"
	EnvClusterNodes     = "REDIS_CLUSTER_NODES"
	EnvClusterUsername  = "REDIS_CLUSTER_USERNAME"
	EnvClusterPassword  = "REDIS_CLUSTER_PASSWORD"
	EnvClusterTLS       = "REDIS_CLUSTER_TLS"
	EnvSentinelAddrs    = "REDIS_SENTINEL_ADDRS"
	EnvSentinelMaster   = "REDIS_SENTINEL_MASTER"
	EnvSentinelPassword = "REDIS_SENTINEL_PASSWORD"
	EnvTLSCAFile        = "REDIS_TLS_CA_FILE"
)

// Settings are the Redis settings of a binary.
type Settings struct {
	URL             string   // REDIS_URL: redis:// or rediss:// for TLS
	ClusterNodes    []string // REDIS_CLUSTER_NODES: when set, Redis Cluster is used instead of URL
	ClusterUsername string   // REDIS_CLUSTER_USERNAME: ACL user for ClusterNodes
	ClusterPassword string   // REDIS_CLUSTER_PASSWORD: password for ClusterNodes
	ClusterTLS      bool     // REDIS_CLUSTER_TLS: TLS to ClusterNodes
	// REDIS_SENTINEL_ADDRS: when set, the master SentinelMaster that these sentinels name is
	// used; URL's user, password, database and rediss:// scheme apply to it, its host does not.
	SentinelAddrs    []string
	SentinelMaster   string // REDIS_SENTINEL_MASTER: the master's name in the sentinels' configuration
	SentinelPassword string // REDIS_SENTINEL_PASSWORD: the sentinels' own password (requirepass)
	TLSCAFile        string // REDIS_TLS_CA_FILE: PEM file of the CAs a TLS server's certificate must chain to
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
	{Env: EnvSentinelAddrs, Flag: "redis-sentinel-addrs",
		Usage: "comma-separated host:port of Redis Sentinels; when set, the master they name (REDIS_SENTINEL_MASTER) is used, with REDIS_URL's user, password, database and TLS",
		Set: func(s *Settings, raw string) error {
			addrs, err := ParseNodes(raw)
			s.SentinelAddrs = addrs
			return err
		}},
	{Env: EnvSentinelMaster, Flag: "redis-sentinel-master",
		Usage: "name of the master the sentinels monitor (with REDIS_SENTINEL_ADDRS)",
		Set:   func(s *Settings, raw string) error { s.SentinelMaster = strings.TrimSpace(raw); return nil }},
	{Env: EnvSentinelPassword, Flag: "redis-sentinel-password", Secret: true,
		Usage: "password of the sentinels themselves (with REDIS_SENTINEL_ADDRS; prefer the environment variable: flags show in ps)",
		Set:   func(s *Settings, raw string) error { s.SentinelPassword = raw; return nil }},
	{Env: EnvTLSCAFile, Flag: "redis-tls-ca-file",
		Usage: "PEM file of the CA certificates that sign the Redis server's certificate, for a private CA (with rediss:// or REDIS_CLUSTER_TLS); default: the system's",
		Set: func(s *Settings, raw string) error {
			s.TLSCAFile = strings.TrimSpace(raw)
			if s.TLSCAFile == "" {
				return nil
			}
			_, err := loadCAs(s.TLSCAFile)
			return err
		}},
}

// loadCAs reads the PEM certificates of file into a pool.
func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
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

// Sentinel reports whether the settings name a master through Redis Sentinel.
func (s Settings) Sentinel() bool { return len(s.SentinelAddrs) > 0 }

// Source is the variable that says where the Redis in use is: EnvClusterNodes,
// EnvSentinelAddrs or EnvURL.
func (s Settings) Source() string {
	switch {
	case s.Cluster():
		return EnvClusterNodes
	case s.Sentinel():
		return EnvSentinelAddrs
	}
	return EnvURL
}

// tls reports whether the connections of the settings use TLS.
func (s Settings) tls() bool {
	if s.Cluster() {
		return s.ClusterTLS
	}
	return strings.HasPrefix(s.URL, "rediss://")
}

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
	if s.TLSCAFile != "" {
		if !s.tls() {
			add(EnvTLSCAFile, "only used with TLS (a rediss:// REDIS_URL, or REDIS_CLUSTER_TLS=true with REDIS_CLUSTER_NODES)")
		} else if _, err := loadCAs(s.TLSCAFile); err != nil {
			add(EnvTLSCAFile, "%v", err)
		}
	}
	if s.Sentinel() != (s.SentinelMaster != "") {
		if s.Sentinel() {
			add(EnvSentinelMaster, "required with REDIS_SENTINEL_ADDRS (the name of the master the sentinels monitor)")
		} else {
			add(EnvSentinelMaster, "only used with REDIS_SENTINEL_ADDRS")
		}
	}
	if s.SentinelPassword != "" && !s.Sentinel() {
		add(EnvSentinelPassword, "only used with REDIS_SENTINEL_ADDRS")
	}
	if s.Cluster() {
		if s.Sentinel() {
			add(EnvSentinelAddrs, "not with REDIS_CLUSTER_NODES: set one of them")
		}
		return errors.Join(errs...)
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

// tlsConfig returns c (a new one when nil) with the CAs of TLSCAFile as its roots.
func (s Settings) tlsConfig(c *tls.Config) (*tls.Config, error) {
	if c == nil {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.TLSCAFile != "" {
		pool, err := loadCAs(s.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvTLSCAFile, err)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// ClusterOptions are the go-redis options of the Redis Cluster the settings name. The error
// names REDIS_TLS_CA_FILE when it cannot be read.
func (s Settings) ClusterOptions() (*redis.ClusterOptions, error) {
	opt := &redis.ClusterOptions{Addrs: s.ClusterNodes, Username: s.ClusterUsername, Password: s.ClusterPassword}
	if s.ClusterTLS {
		c, err := s.tlsConfig(nil)
		if err != nil {
			return nil, err
		}
		opt.TLSConfig = c
	}
	return opt, nil
}

// URLOptions are the go-redis options of REDIS_URL, with the CAs of REDIS_TLS_CA_FILE for a
// rediss:// URL. The error names the setting and hides the password.
func (s Settings) URLOptions() (*redis.Options, error) {
	opt, err := redis.ParseURL(s.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", EnvURL, RedactErr(err, s.URL))
	}
	if opt.TLSConfig != nil {
		if opt.TLSConfig, err = s.tlsConfig(opt.TLSConfig); err != nil {
			return nil, err
		}
	}
	return opt, nil
}

// FailoverOptions are the go-redis options of the master the sentinels name: the sentinels'
// addresses, master name and password, and REDIS_URL's user, password, database and TLS (the
// same TLS settings reach the sentinels). The error names the setting and hides the password.
func (s Settings) FailoverOptions() (*redis.FailoverOptions, error) {
	u, err := s.URLOptions()
	if err != nil {
		return nil, err
	}
	tlsc := u.TLSConfig
	if tlsc != nil {
		// ParseURL names REDIS_URL's host as the server: here each sentinel, master and
		// replica is checked against its own host instead (tls.DialWithDialer fills it in).
		tlsc = tlsc.Clone()
		tlsc.ServerName = ""
	}
	return &redis.FailoverOptions{
		MasterName:       s.SentinelMaster,
		SentinelAddrs:    s.SentinelAddrs,
		SentinelPassword: s.SentinelPassword,
		Username:         u.Username,
		Password:         u.Password,
		DB:               u.DB,
		TLSConfig:        tlsc,
	}, nil
}

// NewClient returns a client of the configured Redis: a cluster client when ClusterNodes is set
// (even with one seed node), a failover client of the sentinels' master when SentinelAddrs is
// set, otherwise a client of URL. It does not connect.
func (s Settings) NewClient() (redis.UniversalClient, error) {
	switch {
	case s.Cluster():
		opt, err := s.ClusterOptions()
		if err != nil {
			return nil, err
		}
		return redis.NewClusterClient(opt), nil
	case s.Sentinel():
		opt, err := s.FailoverOptions()
		if err != nil {
			return nil, err
		}
		return redis.NewFailoverClient(opt), nil
	}
	opt, err := s.URLOptions()
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// Where describes the configured Redis for messages: the seed nodes, the master and its
// sentinels, or the redacted URL.
func (s Settings) Where() string {
	switch {
	case s.Cluster():
		return strings.Join(s.ClusterNodes, ",")
	case s.Sentinel():
		return fmt.Sprintf("master %q of sentinels %s", s.SentinelMaster, strings.Join(s.SentinelAddrs, ","))
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
