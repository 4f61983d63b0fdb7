// Package tencentconf owns the Tencent Cloud settings every smsdispatch binary that calls the SMS
// API reads: TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION and
// SMS_ENDPOINT. It defines their names, defaults and help text (Vars) and parses each one
// (Var.Set). Like internal/redisconf it reads no environment and no flags itself: a binary looks
// each variable (or its flag) up and passes the raw text in.
package tencentconf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// Names of the environment variables.
const (
	EnvSecretID  = "TENCENTCLOUD_SECRET_ID"
	EnvSecretKey = "TENCENTCLOUD_SECRET_KEY"
	EnvRegion    = "TENCENTCLOUD_REGION"
	EnvEndpoint  = "SMS_ENDPOINT"
)

// Settings are the Tencent Cloud settings of a binary.
type Settings struct {
	SecretID  string // TENCENTCLOUD_SECRET_ID
	SecretKey string // TENCENTCLOUD_SECRET_KEY
	Region    string // TENCENTCLOUD_REGION
	Endpoint  string // SMS_ENDPOINT: base URL, "" for Tencent's
}

// Var is one Tencent setting: its environment variable, default and help text.
type Var struct {
	Env     string
	Default string // the raw value used when the setting is not given ("" for none)
	Usage   string
	Secret  bool // never echo the value in messages
	// Set parses raw (the default already substituted by the caller when the setting is not
	// given) into s. Its error is the text that follows "NAME: ".
	Set func(s *Settings, raw string) error
}

// vars is the table of the Tencent settings, in the order of the README's configuration table.
var vars = []Var{
	{Env: EnvSecretID, Usage: "Tencent Cloud API SecretId; with no credentials and no SMS_ENDPOINT the worker runs against an in-process sandbox",
		Set: func(s *Settings, raw string) error { s.SecretID = raw; return noSpace(raw, false) }},
	{Env: EnvSecretKey, Secret: true, Usage: "Tencent Cloud API SecretKey (prefer the environment variable: flags show in ps)",
		Set: func(s *Settings, raw string) error { s.SecretKey = raw; return noSpace(raw, true) }},
	{Env: EnvRegion, Default: tencentsms.DefaultRegion, Usage: "Tencent Cloud region of the SMS API",
		Set: func(s *Settings, raw string) error {
			if raw == "" || strings.Trim(raw, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				return fmt.Errorf("%q is not a region name such as %s", raw, tencentsms.DefaultRegion)
			}
			s.Region = raw
			return nil
		}},
	{Env: EnvEndpoint, Usage: "SMS API base URL, e.g. http://127.0.0.1:9000 for a sandbox (default https://sms.tencentcloudapi.com)",
		Set: func(s *Settings, raw string) error {
			if raw != "" && !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
				return fmt.Errorf("%q is not an http:// or https:// URL", raw)
			}
			s.Endpoint = raw
			return nil
		}},
}

// Vars returns the Tencent settings, in the order of the README's configuration table. The slice
// is a copy: callers may change it.
func Vars() []Var { return append([]Var(nil), vars...) }

// Sandbox reports whether no credentials and no endpoint are set: the binary uses a sandbox
// (the worker serves one; the other binaries use the one a worker advertises).
func (s Settings) Sandbox() bool { return s.SecretID == "" && s.SecretKey == "" && s.Endpoint == "" }

// ValidateCredentials checks that SecretID and SecretKey come as a pair, and that an endpoint has
// credentials. Sandbox settings are valid. Each error starts with the variable's name.
func (s Settings) ValidateCredentials() error {
	if s.Sandbox() {
		return nil
	}
	switch {
	case s.SecretID == "" && s.SecretKey == "":
		return errors.New(EnvSecretID + ": required when " + EnvEndpoint + " is set (the sandbox accepts AKIDsandbox000000000000000000000000 / sandbox-secret-key)")
	case s.SecretID == "":
		return errors.New(EnvSecretID + ": required when " + EnvSecretKey + " is set")
	case s.SecretKey == "":
		return errors.New(EnvSecretKey + ": required when " + EnvSecretID + " is set")
	}
	return nil
}

// Client returns the tencentsms.Config of the settings (its other fields zero: their defaults).
func (s Settings) Client() tencentsms.Config {
	return tencentsms.Config{SecretID: s.SecretID, SecretKey: s.SecretKey, Region: s.Region, Endpoint: s.Endpoint}
}

func noSpace(raw string, secret bool) error {
	if strings.TrimSpace(raw) == raw {
		return nil
	}
	if secret {
		return errors.New("has leading or trailing white space")
	}
	return fmt.Errorf("%q has leading or trailing white space", raw)
}
