package tencentsms

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRegion   = "ap-guangzhou"
	DefaultEndpoint = "https://sms.tencentcloudapi.com"
	DefaultTimeout  = 10 * time.Second
	DefaultMaxConns = 64
)

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// SecretID and SecretKey are the API credentials (required). They are
	// never logged; String redacts SecretKey.
	SecretID  string
	SecretKey string

	// Region is sent as X-TC-Region. Defaults to "ap-guangzhou".
	Region string

	// Endpoint is the API base URL: scheme "https" or "http", a host and an
	// optional port, no path. Defaults to "https://sms.tencentcloudapi.com";
	// "http://127.0.0.1:9000" points the client at a local sandbox.
	Endpoint string

	// Timeout bounds each call, from sending the request to reading the whole
	// answer. It is applied as a context deadline, so a shorter deadline on
	// the caller's ctx wins. Defaults to 10s.
	Timeout time.Duration

	// MaxConns caps the connections (in use and idle) the default transport
	// keeps to the endpoint; size it to the worker's concurrency. Calls beyond
	// it wait for a free connection, within Timeout. Defaults to 64. Ignored
	// when Transport is set.
	MaxConns int

	// Transport, if set, replaces the default dedicated *http.Transport, for
	// example to add a proxy or custom TLS. The client wraps it to classify
	// failures and refuse redirects, and never closes it. Do not use one that
	// retries non-idempotent requests.
	Transport http.RoundTripper
}

// String describes c without its secret key, so that a logged Config leaks
// nothing.
func (c Config) String() string {
	key := ""
	if c.SecretKey != "" {
		key = "REDACTED"
	}
	return fmt.Sprintf("tencentsms.Config{SecretID:%q SecretKey:%s Region:%q Endpoint:%q Timeout:%s MaxConns:%d CustomTransport:%t}",
		c.SecretID, key, c.Region, c.Endpoint, c.Timeout, c.MaxConns, c.Transport != nil)
}

// GoString is String, so that %#v redacts the secret key too.
func (c Config) GoString() string { return c.String() }

// endpoint is a parsed Config.Endpoint in the SDK's terms.
type endpoint struct {
	scheme string // "HTTP" or "HTTPS", for profile.HttpProfile.Scheme
	host   string // host[:port], for profile.HttpProfile.Endpoint
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	return c
}

// validate checks a Config that already has its defaults.
func (c Config) validate() (endpoint, error) {
	if c.SecretID == "" {
		return endpoint{}, argErr("Config.SecretID", "required")
	}
	if strings.TrimSpace(c.SecretID) != c.SecretID {
		return endpoint{}, argErr("Config.SecretID", "has leading or trailing white space")
	}
	if c.SecretKey == "" {
		return endpoint{}, argErr("Config.SecretKey", "required")
	}
	if strings.TrimSpace(c.SecretKey) != c.SecretKey {
		return endpoint{}, argErr("Config.SecretKey", "has leading or trailing white space")
	}
	if !validRegion(c.Region) {
		return endpoint{}, argErr("Config.Region", "%q is not a region name such as %q", c.Region, DefaultRegion)
	}
	if c.Timeout < 0 {
		return endpoint{}, argErr("Config.Timeout", "%s is negative", c.Timeout)
	}
	if c.MaxConns < 0 {
		return endpoint{}, argErr("Config.MaxConns", "%d is negative", c.MaxConns)
	}
	return parseEndpoint(c.Endpoint)
}

func validRegion(r string) bool {
	if r == "" {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func parseEndpoint(s string) (endpoint, error) {
	const field = "Config.Endpoint"
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse errors quote the input; keep it out in case it holds
		// credentials.
		return endpoint{}, argErr(field, "not a valid URL")
	}
	if u.User != nil {
		return endpoint{}, argErr(field, "must not contain user information")
	}
	var ep endpoint
	switch u.Scheme {
	case "https":
		ep.scheme = "HTTPS"
	case "http":
		ep.scheme = "HTTP"
	default:
		return endpoint{}, argErr(field, "%q: scheme must be https or http", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return endpoint{}, argErr(field, "%q has no host", s)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return endpoint{}, argErr(field, "%q has an invalid port", s)
		}
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return endpoint{}, argErr(field, "%q must have no path, query or fragment", s)
	}
	ep.host = u.Host
	return ep, nil
}

// newTransport returns the dedicated transport used when Config.Transport is
// nil. It speaks HTTP/1.1 only, so that each in-flight request has its own
// connection and a reset puts only that request in doubt. It reads no
// environment (no proxy from HTTPS_PROXY).
func newTransport(maxConns int) *http.Transport {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		Protocols:           protocols,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     maxConns,
		// Shorter than typical server keep-alive timeouts, to narrow the race
		// where a request goes out on a connection the server is closing
		// (which would surface as an unknown outcome).
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}
