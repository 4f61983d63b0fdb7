package main

import (
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/smsdispatch/smsdispatch/sandbox"
)

// compose is the part of docker-compose.yml this test reads.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		DependsOn   []string          `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestDockerCompose checks that docker-compose.yml at the repository root runs this program with
// settings it knows and accepts, against the compose file's own Redis and sandbox.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var names []string
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	if want := []string{"redis", "sandbox", "worker"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}

	w := c.Services["worker"]
	if !slices.Contains(w.Command, "./cmd/worker") {
		t.Errorf("worker command %v does not run ./cmd/worker", w.Command)
	}
	for _, dep := range []string{"redis", "sandbox"} {
		if !slices.Contains(w.DependsOn, dep) {
			t.Errorf("worker does not depend on %s", dep)
		}
	}
	for name := range w.Environment {
		if !knownSetting(name) {
			t.Errorf("worker environment %s is not a setting of cmd/worker (known: %v)", name, settingNames())
		}
	}

	// The environment loads and validates, and is production-shaped (no zero-setup fallback).
	cfg, err := Load(nil, func(k string) string { return w.Environment[k] })
	if err != nil {
		t.Fatalf("worker environment does not load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("worker environment does not validate: %v", err)
	}
	if cfg.Sandbox() || cfg.EmbeddedRedisAllowed() {
		t.Errorf("compose worker would run in zero-setup mode (sandbox %v, embedded redis %v)", cfg.Sandbox(), cfg.EmbeddedRedisAllowed())
	}

	// REDIS_URL names the redis service; SMS_ENDPOINT the sandbox service on the port it serves.
	if u, err := url.Parse(cfg.Redis.URL); err != nil || u.Hostname() != "redis" {
		t.Errorf("REDIS_URL %q does not point at the redis service", cfg.Redis.URL)
	}
	ep, err := url.Parse(cfg.Endpoint)
	if err != nil || ep.Hostname() != "sandbox" {
		t.Fatalf("SMS_ENDPOINT %q does not point at the sandbox service", cfg.Endpoint)
	}
	sb := c.Services["sandbox"]
	if !slices.Contains(sb.Command, "0.0.0.0:"+ep.Port()) {
		t.Errorf("sandbox command %v does not serve port %s of SMS_ENDPOINT", sb.Command, ep.Port())
	}
	// The sandbox service runs with its default credentials and app.
	if cfg.SecretID != sandbox.DefaultSecretID || cfg.SecretKey != sandbox.DefaultSecretKey || cfg.AppID != sandbox.DefaultAppID {
		t.Errorf("worker credentials/app (%s, %s) are not the sandbox defaults", cfg.SecretID, cfg.AppID)
	}
	if cfg.SignName != sandbox.DefaultSignName {
		t.Errorf("SMS_SIGN_NAME %q is not the sandbox's %q", cfg.SignName, sandbox.DefaultSignName)
	}

	// METRICS_ADDR listens on all interfaces inside the container and its port is published.
	host, port, err := net.SplitHostPort(cfg.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if host != "0.0.0.0" && host != "" {
		t.Errorf("METRICS_ADDR %q is not reachable from outside the container", cfg.MetricsAddr)
	}
	published := false
	for _, p := range w.Ports {
		if strings.HasSuffix(p, ":"+port) {
			published = true
		}
	}
	if !published {
		t.Errorf("worker ports %v do not publish METRICS_ADDR port %s", w.Ports, port)
	}
}
