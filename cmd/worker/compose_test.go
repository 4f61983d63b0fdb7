package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smsdispatch/smsdispatch/sandbox"
)

// compose is the part of docker-compose.yml this test reads.
type compose struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string            `yaml:"image"`
	Build           string            `yaml:"build"`
	Entrypoint      []string          `yaml:"entrypoint"`
	Command         []string          `yaml:"command"`
	Profiles        []string          `yaml:"profiles"`
	Environment     map[string]string `yaml:"environment"`
	Ports           []string          `yaml:"ports"`
	Volumes         []string          `yaml:"volumes"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	DependsOn       map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// composeVar is one ${...} of a compose file: ${NAME}, ${NAME:-default}, ${NAME-default},
// ${NAME:?error}, ${NAME?error}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes vars into s as Compose does, for the forms composeVar matches ($$ is a
// literal $). A required variable that is missing (or empty, with ":?") is an error naming it.
func interpolate(s string, vars map[string]string) (string, error) {
	var errs []error
	const dollar = "\x00"
	out := composeVar.ReplaceAllStringFunc(strings.ReplaceAll(s, "$$", dollar), func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		val, set := vars[name]
		missing := !set || (strings.HasPrefix(op, ":") && val == "")
		switch {
		case !missing:
			return val
		case strings.HasSuffix(op, "-"):
			return arg
		case strings.HasSuffix(op, "?"):
			errs = append(errs, fmt.Errorf("%s: %s", name, arg))
		}
		return ""
	})
	if strings.Contains(out, "$") {
		errs = append(errs, fmt.Errorf("%q: a $ form this test does not know", s))
	}
	return strings.ReplaceAll(out, dollar, "$"), errors.Join(errs...)
}

// environment is the environment of svc with vars (the shell or .env of `docker compose`).
func (svc composeService) environment(vars map[string]string) (map[string]string, error) {
	env := map[string]string{}
	var errs []error
	for k, v := range svc.Environment {
		val, err := interpolate(v, vars)
		errs = append(errs, err)
		env[k] = val
	}
	return env, errors.Join(errs...)
}

func readCompose(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// readmeSandboxEnvHeader starts the README's .env for the sandbox profile, a block of NAME=VALUE
// lines that ends with the code block. .ci/run validates the compose file with it too.
const readmeSandboxEnvHeader = "# .env for the sandbox profile"

// readmeSandboxEnv returns the README's .env for the sandbox profile.
func readmeSandboxEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, readmeSandboxEnvHeader):
			in = true
		case in && strings.HasPrefix(line, "```"):
			return vars
		case in && line != "" && !strings.HasPrefix(line, "#"):
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("README sandbox .env line %q is not NAME=VALUE", line)
			}
			vars[k] = v
		}
	}
	t.Fatalf("README has no block starting %q", readmeSandboxEnvHeader)
	return nil
}

// productionVars are what an operator sets for production: credentials and app, nothing else.
var productionVars = map[string]string{
	"TENCENTCLOUD_SECRET_ID":  "AKIDproduction00000000000000000000000",
	"TENCENTCLOUD_SECRET_KEY": "production-secret-key",
	"SMS_SDK_APP_ID":          "1400123456",
	"SMS_SIGN_NAME":           "Example",
}

// TestDockerCompose checks that docker-compose.yml at the repository root runs this program with
// settings it knows and accepts against the compose file's own Redis, in production and with the
// sandbox profile the README documents.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	var names []string
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	if want := []string{"asynqmon", "redis", "sandbox", "worker"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	w, sb := c.Services["worker"], c.Services["sandbox"]

	for name := range w.Environment {
		if !knownSetting(name) {
			t.Errorf("worker environment %s is not a setting of cmd/worker (known: %v)", name, settingNames())
		}
	}
	// Without credentials compose refuses to start: the worker must never fall back to its
	// in-process sandbox, which would "send" real jobs nowhere.
	if _, err := w.environment(nil); err == nil {
		t.Error("worker environment interpolates with no variables set; want the credentials required")
	} else {
		for _, name := range []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "SMS_SDK_APP_ID"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("with no variables set, %s is not required (%v)", name, err)
			}
		}
	}

	sandboxVars := readmeSandboxEnv(t)
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		sandbox bool // SMS_ENDPOINT is the sandbox service
	}{
		{name: "production", vars: productionVars},
		{name: "README sandbox .env", vars: sandboxVars, sandbox: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := w.environment(tc.vars)
			if err != nil {
				t.Fatalf("worker environment: %v", err)
			}
			cfg, err := Load(nil, func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("worker environment does not load: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("worker environment does not validate: %v", err)
			}
			if cfg.Sandbox() || cfg.EmbeddedRedisAllowed() {
				t.Errorf("compose worker would run in zero-setup mode (sandbox %v, embedded redis %v)", cfg.Sandbox(), cfg.EmbeddedRedisAllowed())
			}
			if u, err := url.Parse(cfg.Redis.URL); err != nil || u.Hostname() != "redis" || u.Port() != "6379" {
				t.Errorf("REDIS_URL %q is not the redis service", cfg.Redis.URL)
			}

			// docker compose stop waits stop_grace_period before SIGKILL: it must leave the
			// worker SHUTDOWN_TIMEOUT for running sends and a margin to put tasks back.
			grace, err := time.ParseDuration(w.StopGracePeriod)
			if err != nil {
				t.Fatalf("worker stop_grace_period %q: %v", w.StopGracePeriod, err)
			}
			if margin := 5 * time.Second; grace < cfg.ShutdownTimeout+margin {
				t.Errorf("worker stop_grace_period %s is not SHUTDOWN_TIMEOUT %s + %s", grace, cfg.ShutdownTimeout, margin)
			}

			// METRICS_ADDR listens on all interfaces inside the container; its port is published.
			host, port, err := net.SplitHostPort(cfg.MetricsAddr)
			if err != nil {
				t.Fatal(err)
			}
			if host != "0.0.0.0" && host != "" {
				t.Errorf("METRICS_ADDR %q is not reachable from outside the container", cfg.MetricsAddr)
			}
			if !publishes(w.Ports, port) {
				t.Errorf("worker ports %v do not publish METRICS_ADDR port %s", w.Ports, port)
			}

			ep, err := url.Parse(cfg.Endpoint)
			if err != nil {
				t.Fatalf("SMS_ENDPOINT %q: %v", cfg.Endpoint, err)
			}
			if !tc.sandbox {
				if cfg.Endpoint != "" {
					t.Errorf("production SMS_ENDPOINT %q, want Tencent's default", cfg.Endpoint)
				}
				return
			}
			if ep.Hostname() != "sandbox" {
				t.Fatalf("SMS_ENDPOINT %q does not point at the sandbox service", cfg.Endpoint)
			}
			if !slices.Contains(sb.Command, "0.0.0.0:"+ep.Port()) {
				t.Errorf("sandbox command %v does not serve port %s of SMS_ENDPOINT", sb.Command, ep.Port())
			}
			if cfg.SecretID != sandbox.DefaultSecretID || cfg.SecretKey != sandbox.DefaultSecretKey || cfg.AppID != sandbox.DefaultAppID {
				t.Errorf("worker credentials/app (%s, %s) are not the sandbox defaults", cfg.SecretID, cfg.AppID)
			}
			if cfg.SignName != sandbox.DefaultSignName {
				t.Errorf("SMS_SIGN_NAME %q is not the sandbox's %q", cfg.SignName, sandbox.DefaultSignName)
			}
			profiles := strings.Split(tc.vars["COMPOSE_PROFILES"], ",")
			if !slices.ContainsFunc(sb.Profiles, func(p string) bool { return slices.Contains(profiles, p) }) {
				t.Errorf("README sandbox .env COMPOSE_PROFILES %q does not enable the sandbox service (profiles %v)", tc.vars["COMPOSE_PROFILES"], sb.Profiles)
			}
		})
	}

	// The sandbox is optional, and runs the image's sandbox binary.
	if !slices.Equal(sb.Profiles, []string{"sandbox"}) {
		t.Errorf("sandbox profiles %v, want [sandbox]", sb.Profiles)
	}
	if !slices.Equal(sb.Entrypoint, []string{"/usr/local/bin/sandbox"}) {
		t.Errorf("sandbox entrypoint %v, want the image's /usr/local/bin/sandbox", sb.Entrypoint)
	}
	for _, name := range []string{"worker", "sandbox"} {
		if s := c.Services[name]; s.Build != "." || s.Image != w.Image {
			t.Errorf("%s: build %q image %q, want the repository's Dockerfile as image %q", name, s.Build, s.Image, w.Image)
		}
	}
	if raw := w.Environment["SHUTDOWN_TIMEOUT"]; strings.Contains(raw, "$") {
		t.Errorf("worker SHUTDOWN_TIMEOUT %q is a variable: stop_grace_period could not follow it", raw)
	}
}

// TestDockerComposeRedis checks the Redis service: durable (AOF on a named volume), never evicting,
// and the worker waits for it.
func TestDockerComposeRedis(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	r := c.Services["redis"]
	for _, want := range [][]string{{"--appendonly", "yes"}, {"--maxmemory-policy", "noeviction"}} {
		i := slices.Index(r.Command, want[0])
		if i < 0 || i+1 >= len(r.Command) || r.Command[i+1] != want[1] {
			t.Errorf("redis command %v lacks %s %s", r.Command, want[0], want[1])
		}
	}
	volume := ""
	for _, v := range r.Volumes {
		if name, dir, _ := strings.Cut(v, ":"); dir == "/data" {
			volume = name
		}
	}
	if _, ok := c.Volumes[volume]; !ok || volume == "" {
		t.Errorf("redis volumes %v: /data (the AOF) is not on a named volume of %v", r.Volumes, c.Volumes)
	}
	for _, name := range []string{"worker", "asynqmon"} {
		if cond := c.Services[name].DependsOn["redis"].Condition; cond != "service_healthy" {
			t.Errorf("%s depends on redis with condition %q, want service_healthy", name, cond)
		}
	}
}

// TestDockerComposePorts checks that every published port is on loopback and that nothing takes
// the host's 6379.
func TestDockerComposePorts(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	for name, s := range c.Services {
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			if len(parts) != 3 || parts[0] != "127.0.0.1" {
				t.Errorf("%s publishes %q, want 127.0.0.1:HOST:CONTAINER", name, p)
				continue
			}
			if parts[1] == "6379" {
				t.Errorf("%s publishes the host's 6379 (%q)", name, p)
			}
		}
	}
}

// TestDockerComposeAsynqmon checks that asynqmon is read-only and reads the compose Redis.
func TestDockerComposeAsynqmon(t *testing.T) {
	t.Parallel()
	a := readCompose(t).Services["asynqmon"]
	if !strings.HasPrefix(a.Image, "hibiken/asynqmon:") {
		t.Errorf("asynqmon image %q, want hibiken/asynqmon with a tag", a.Image)
	}
	if !slices.Contains(a.Command, "--read-only") {
		t.Errorf("asynqmon command %v lacks --read-only", a.Command)
	}
	if !slices.Contains(a.Command, "--redis-addr=redis:6379") {
		t.Errorf("asynqmon command %v does not read the redis service", a.Command)
	}
	if len(a.Ports) == 0 {
		t.Error("asynqmon publishes no port")
	}
}

// TestDockerfile checks the parts of the Dockerfile the compose file relies on: the three static
// binaries, a non-root user, the worker as entrypoint.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var build, user, entrypoint string
	for line := range strings.SplitSeq(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "RUN CGO_ENABLED=0 go build "):
			build = line
		case strings.HasPrefix(line, "USER "):
			user = strings.TrimPrefix(line, "USER ")
		case strings.HasPrefix(line, "ENTRYPOINT "):
			entrypoint = strings.TrimPrefix(line, "ENTRYPOINT ")
		}
	}
	for _, pkg := range []string{"./cmd/worker", "./cmd/enqueue", "./cmd/sandbox"} {
		if !strings.Contains(build, " "+pkg) {
			t.Errorf("the Dockerfile's static build %q does not build %s", build, pkg)
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("Dockerfile USER %q, want a non-root user", user)
	}
	if entrypoint != `["/usr/local/bin/worker"]` {
		t.Errorf("Dockerfile ENTRYPOINT %s, want the worker", entrypoint)
	}
}

// publishes reports whether ports publishes container port port.
func publishes(ports []string, port string) bool {
	return slices.ContainsFunc(ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) })
}

// TestInterpolate checks the test's Compose interpolation against Compose's rules.
func TestInterpolate(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"SET": "v", "EMPTY": ""}
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{in: "plain", want: "plain"},
		{in: "${SET}", want: "v"},
		{in: "a${SET}b", want: "avb"},
		{in: "${UNSET}", want: ""},
		{in: "${UNSET:-d}", want: "d"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${EMPTY-d}", want: ""},
		{in: "${UNSET-d}", want: "d"},
		{in: "${SET:?e}", want: "v"},
		{in: "${UNSET:?e}", err: true},
		{in: "${EMPTY:?e}", err: true},
		{in: "${EMPTY?e}", want: ""},
		{in: "$$SET", want: "$SET"},
		{in: "$SET", err: true},
	} {
		got, err := interpolate(tc.in, vars)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("interpolate(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
