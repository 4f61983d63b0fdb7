package redisconf

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// caFile is the PEM file of a fresh private CA.
func caFile(t *testing.T) string { return redistest.NewTLSFiles(t).CA }

// set parses raw into the setting named env of a fresh Settings.
func set(t *testing.T, env, raw string) (Settings, error) {
	t.Helper()
	for _, v := range Vars() {
		if v.Env == env {
			var s Settings
			err := v.Set(&s, raw)
			return s, err
		}
	}
	t.Fatalf("no setting %s", env)
	return Settings{}, nil
}

func TestVars(t *testing.T) {
	t.Parallel()
	want := []string{EnvURL, EnvClusterNodes, EnvClusterUsername, EnvClusterPassword, EnvClusterTLS,
		EnvSentinelAddrs, EnvSentinelMaster, EnvSentinelPassword, EnvTLSCAFile}
	vs := Vars()
	if len(vs) != len(want) {
		t.Fatalf("%d settings, want %d", len(vs), len(want))
	}
	for i, v := range vs {
		if v.Env != want[i] {
			t.Errorf("setting %d is %s, want %s", i, v.Env, want[i])
		}
		if wantFlag := strings.ReplaceAll(strings.ToLower(v.Env), "_", "-"); v.Flag != wantFlag {
			t.Errorf("%s: flag %q, want %q", v.Env, v.Flag, wantFlag)
		}
		if v.Usage == "" {
			t.Errorf("%s: no help text", v.Env)
		}
		if v.Default != "" {
			if _, err := set(t, v.Env, v.Default); err != nil {
				t.Errorf("%s: default %q rejected: %v", v.Env, v.Default, err)
			}
		}
	}
	for _, v := range vs {
		if secret := v.Env == EnvClusterPassword || v.Env == EnvSentinelPassword; v.Secret != secret {
			t.Errorf("%s: secret %v, want %v (only the passwords are secret)", v.Env, v.Secret, secret)
		}
	}
	vs[0].Env = "changed"
	if Vars()[0].Env != EnvURL {
		t.Error("Vars does not return a copy")
	}
}

// notPEM is a file that holds no certificate.
var notPEM = func() string {
	f, err := os.CreateTemp("", "redisconf-notpem-*")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	_, _ = f.WriteString("not a certificate\n")
	return f.Name()
}()

func TestMain(m *testing.M) {
	code := m.Run()
	_ = os.Remove(notPEM)
	os.Exit(code)
}

func TestSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env, raw string
		want     Settings
		err      string // substring of the error; "" for none
		avoid    string // must not appear in the error
	}{
		{env: EnvURL, raw: "redis://127.0.0.1:6379/0", want: Settings{URL: "redis://127.0.0.1:6379/0"}},
		{env: EnvURL, raw: "rediss://u:p@h:6380/2", want: Settings{URL: "rediss://u:p@h:6380/2"}},
		{env: EnvURL, raw: "http://localhost:6379", err: `"http://localhost:6379" is not a Redis URL`},
		{env: EnvURL, raw: "", err: "is not a Redis URL"},
		{env: EnvURL, raw: "redis://user:hunter2@host:6379/notadb", err: "user:xxxxx@host", avoid: "hunter2"},
		{env: EnvClusterNodes, raw: "a:7000, b:7001,c:7002", want: Settings{ClusterNodes: []string{"a:7000", "b:7001", "c:7002"}}},
		{env: EnvClusterNodes, raw: "  ", want: Settings{}},
		{env: EnvClusterNodes, raw: "a:7000,b", err: `"b" is not a host:port`},
		{env: EnvClusterNodes, raw: ":7000", err: `":7000" is not a host:port`},
		{env: EnvClusterNodes, raw: "a:0", err: `"a:0" is not a host:port`},
		{env: EnvClusterNodes, raw: "a:65536", err: `"a:65536" is not a host:port`},
		{env: EnvClusterUsername, raw: "alice", want: Settings{ClusterUsername: "alice"}},
		{env: EnvClusterPassword, raw: "pw", want: Settings{ClusterPassword: "pw"}},
		{env: EnvClusterTLS, raw: "true", want: Settings{ClusterTLS: true}},
		{env: EnvClusterTLS, raw: " false ", want: Settings{}},
		{env: EnvClusterTLS, raw: "yes please", err: `"yes please" is not true or false`},
		{env: EnvClusterTLS, raw: "", err: `"" is not true or false`},
		{env: EnvSentinelAddrs, raw: "s1:26379, s2:26380", want: Settings{SentinelAddrs: []string{"s1:26379", "s2:26380"}}},
		{env: EnvSentinelAddrs, raw: "s1", err: `"s1" is not a host:port`},
		{env: EnvSentinelMaster, raw: " mymaster ", want: Settings{SentinelMaster: "mymaster"}},
		{env: EnvSentinelPassword, raw: "spw", want: Settings{SentinelPassword: "spw"}},
		{env: EnvTLSCAFile, raw: "", want: Settings{}},
		{env: EnvTLSCAFile, raw: "/nonexistent/ca.pem", err: "cannot read the CA file"},
		{env: EnvTLSCAFile, raw: notPEM, err: "holds no PEM certificate"},
	}
	for _, tt := range tests {
		got, err := set(t, tt.env, tt.raw)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s=%q: %v", tt.env, tt.raw, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s=%q: error %v, want one containing %q", tt.env, tt.raw, err, tt.err)
		case tt.avoid != "" && err != nil && strings.Contains(err.Error(), tt.avoid):
			t.Errorf("%s=%q: error %q shows %q", tt.env, tt.raw, err, tt.avoid)
		case tt.err == "" && !reflect.DeepEqual(got, tt.want):
			t.Errorf("%s=%q: %+v, want %+v", tt.env, tt.raw, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Settings{URL: DefaultURL}
	cluster := Settings{ClusterNodes: []string{"a:1"}, ClusterUsername: "u", ClusterPassword: "p", ClusterTLS: true}
	sentinel := Settings{URL: DefaultURL, SentinelAddrs: []string{"s:1", "s:2"}, SentinelMaster: "m", SentinelPassword: "secret"}
	tests := []struct {
		name string
		s    Settings
		want []string // substrings of the error; none for no error
	}{
		{"url", ok, nil},
		{"cluster with credentials", cluster, nil},
		{"cluster, no url needed", Settings{ClusterNodes: []string{"a:1"}}, nil},
		{"bad url", Settings{URL: "redis://u:secret@h:1/x"}, []string{"REDIS_URL: ", "u:xxxxx@h"}},
		{"user without nodes", Settings{URL: DefaultURL, ClusterUsername: "u"}, []string{"REDIS_CLUSTER_USERNAME: only used with REDIS_CLUSTER_NODES"}},
		{"password without nodes", Settings{URL: DefaultURL, ClusterPassword: "p"}, []string{"REDIS_CLUSTER_PASSWORD: only used with REDIS_CLUSTER_NODES"}},
		{"tls without nodes", Settings{URL: DefaultURL, ClusterTLS: true}, []string{"REDIS_CLUSTER_TLS: only used with REDIS_CLUSTER_NODES"}},
		{"all at once", Settings{URL: "x", ClusterUsername: "u", ClusterPassword: "p", ClusterTLS: true},
			[]string{"REDIS_URL:", "REDIS_CLUSTER_USERNAME:", "REDIS_CLUSTER_PASSWORD:", "REDIS_CLUSTER_TLS:"}},
		{"sentinel", sentinel, nil},
		{"sentinel with a TLS URL and a CA", Settings{URL: "rediss://u:p@ignored:1/2", SentinelAddrs: []string{"s:1"}, SentinelMaster: "m", TLSCAFile: caFile(t)}, nil},
		{"sentinel without master", Settings{URL: DefaultURL, SentinelAddrs: []string{"s:1"}}, []string{"REDIS_SENTINEL_MASTER: required with REDIS_SENTINEL_ADDRS"}},
		{"master without sentinels", Settings{URL: DefaultURL, SentinelMaster: "m"}, []string{"REDIS_SENTINEL_MASTER: only used with REDIS_SENTINEL_ADDRS"}},
		{"sentinel password without sentinels", Settings{URL: DefaultURL, SentinelPassword: "secret"}, []string{"REDIS_SENTINEL_PASSWORD: only used with REDIS_SENTINEL_ADDRS"}},
		{"sentinel and cluster", Settings{ClusterNodes: []string{"a:1"}, SentinelAddrs: []string{"s:1"}, SentinelMaster: "m"}, []string{"REDIS_SENTINEL_ADDRS: not with REDIS_CLUSTER_NODES"}},
		{"sentinel with cluster credentials", Settings{URL: DefaultURL, SentinelAddrs: []string{"s:1"}, SentinelMaster: "m", ClusterPassword: "secret"}, []string{"REDIS_CLUSTER_PASSWORD: only used with REDIS_CLUSTER_NODES"}},
		{"sentinel with a bad url", Settings{URL: "redis://u:secret@h:1/x", SentinelAddrs: []string{"s:1"}, SentinelMaster: "m"}, []string{"REDIS_URL: ", "u:xxxxx@h"}},
		{"CA file without TLS", Settings{URL: DefaultURL, TLSCAFile: caFile(t)}, []string{"REDIS_TLS_CA_FILE: only used with TLS"}},
		{"CA file, cluster without TLS", Settings{ClusterNodes: []string{"a:1"}, TLSCAFile: caFile(t)}, []string{"REDIS_TLS_CA_FILE: only used with TLS"}},
		{"CA file with a TLS URL", Settings{URL: "rediss://h:1/0", TLSCAFile: caFile(t)}, nil},
		{"CA file with cluster TLS", Settings{ClusterNodes: []string{"a:1"}, ClusterTLS: true, TLSCAFile: caFile(t)}, nil},
		{"CA file gone", Settings{URL: "rediss://h:1/0", TLSCAFile: "/nonexistent/ca.pem"}, []string{"REDIS_TLS_CA_FILE: cannot read the CA file"}},
	}
	for _, tt := range tests {
		err := tt.s.Validate(nil)
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %q shows the password", tt.name, err)
		}
	}
	// The caller names the settings, e.g. after the flag that set one.
	err := Settings{URL: DefaultURL, ClusterPassword: "p"}.Validate(func(env string) string { return "--" + env })
	if err == nil || !strings.HasPrefix(err.Error(), "--REDIS_CLUSTER_PASSWORD: ") {
		t.Errorf("named error %v, want it to start with the caller's name", err)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":    "redis://127.0.0.1:6379/0",
		"redis://:pw@h:1/0":           "redis://:xxxxx@h:1/0",
		"rediss://user:p@ss@h:1/2":    "rediss://user:xxxxx@h:1/2",
		"redis://useronly@h:1":        "redis://useronly@h:1",
		"redis://u:p%zz@h:1/0":        "redis://u:xxxxx@h:1/0", // url.Parse rejects it
		"not a url":                   "not a url",
		"":                            "",
		"redis://u:pw@h:1/0?dial=1@x": "redis://u:xxxxx@h:1/0?dial=1@x",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClient(t *testing.T) {
	t.Parallel()
	s := Settings{ClusterNodes: []string{"a:7000"}, ClusterUsername: "u", ClusterPassword: "p", ClusterTLS: true}
	opt, err := s.ClusterOptions()
	if err != nil || !reflect.DeepEqual(opt.Addrs, []string{"a:7000"}) || opt.Username != "u" || opt.Password != "p" || opt.TLSConfig == nil || opt.TLSConfig.RootCAs != nil {
		t.Errorf("ClusterOptions = %+v, %v", opt, err)
	}
	if opt, _ := (Settings{ClusterNodes: []string{"a:7000"}}).ClusterOptions(); opt.TLSConfig != nil {
		t.Error("TLS without REDIS_CLUSTER_TLS")
	}
	ca := caFile(t)
	withCA := s
	withCA.TLSCAFile = ca
	if opt, err := withCA.ClusterOptions(); err != nil || opt.TLSConfig.RootCAs == nil {
		t.Errorf("cluster with a CA file: %+v, %v", opt, err)
	}
	if o, err := (Settings{URL: "rediss://h:1/0", TLSCAFile: ca}).URLOptions(); err != nil || o.TLSConfig.RootCAs == nil || o.TLSConfig.ServerName != "h" {
		t.Errorf("rediss URL with a CA file: %+v, %v", o, err)
	}
	if o, err := (Settings{URL: "rediss://h:1/0"}).URLOptions(); err != nil || o.TLSConfig.RootCAs != nil {
		t.Errorf("rediss URL without a CA file: %+v, %v (want the system's roots)", o, err)
	}
	sen := Settings{URL: "rediss://alice:pw@ignored:1/4", SentinelAddrs: []string{"s1:26379", "s2:26379"}, SentinelMaster: "m", SentinelPassword: "spw", TLSCAFile: ca}
	fo, err := sen.FailoverOptions()
	if err != nil || fo.MasterName != "m" || !reflect.DeepEqual(fo.SentinelAddrs, sen.SentinelAddrs) || fo.SentinelPassword != "spw" ||
		fo.Username != "alice" || fo.Password != "pw" || fo.DB != 4 || fo.TLSConfig == nil || fo.TLSConfig.RootCAs == nil || fo.TLSConfig.ServerName != "" {
		t.Errorf("FailoverOptions = %+v, %v", fo, err)
	}
	if sen.Source() != EnvSentinelAddrs || s.Source() != EnvClusterNodes || (Settings{URL: DefaultURL}).Source() != EnvURL {
		t.Errorf("Source: %s %s", sen.Source(), s.Source())
	}
	if w := sen.Where(); w != `master "m" of sentinels s1:26379,s2:26379` {
		t.Errorf("Where = %q", w)
	}
	if rdb, err := sen.NewClient(); err != nil {
		t.Errorf("sentinel client: %v", err)
	} else {
		_ = rdb.Close()
	}
	rdb, err := s.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Errorf("one seed node: %T, want a cluster client", rdb)
	}
	_ = rdb.Close()
	if s.Where() != "a:7000" {
		t.Errorf("Where = %q", s.Where())
	}

	u := Settings{URL: "redis://u:pw@h:6380/3"}
	rdb, err = u.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := rdb.(*redis.Client); !ok || c.Options().Addr != "h:6380" || c.Options().DB != 3 || c.Options().Password != "pw" {
		t.Errorf("URL client %T %+v", rdb, rdb)
	}
	_ = rdb.Close()
	if u.Where() != "redis://u:xxxxx@h:6380/3" {
		t.Errorf("Where = %q", u.Where())
	}
	if _, err := (Settings{URL: "redis://u:secret@h:1/x"}).NewClient(); err == nil ||
		!strings.HasPrefix(err.Error(), "REDIS_URL: ") || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: %v, want a REDIS_URL error without the password", err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	// Nothing given: every default.
	s, err := Load(func(v Var) (string, string, bool) { return "", v.Env, false })
	if err != nil || !reflect.DeepEqual(s, Settings{URL: DefaultURL}) {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	// Given values are parsed; every bad one is reported under the name it came by.
	given := map[string]string{EnvClusterNodes: "a:1,b", EnvClusterUsername: "alice", EnvClusterTLS: "maybe"}
	_, err = Load(func(v Var) (string, string, bool) {
		raw, ok := given[v.Env]
		return raw, "--" + v.Flag, ok
	})
	for _, want := range []string{`--redis-cluster-nodes: "b" is not a host:port`, `--redis-cluster-tls: "maybe" is not true or false`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	given[EnvClusterNodes], given[EnvClusterTLS] = "a:1, b:2", "true"
	s, err = Load(func(v Var) (string, string, bool) { raw, ok := given[v.Env]; return raw, v.Env, ok })
	want := Settings{URL: DefaultURL, ClusterNodes: []string{"a:1", "b:2"}, ClusterUsername: "alice", ClusterTLS: true}
	if err != nil || !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v, %v; want %+v", s, err, want)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, v := range Vars() {
		h := v.Help()
		if !strings.HasPrefix(h, v.Usage) || !strings.Contains(h, "(env "+v.Env+")") {
			t.Errorf("%s: help %q", v.Env, h)
		}
		if hasDef := strings.Contains(h, "(default "); hasDef != (v.Default != "" && !v.Secret) {
			t.Errorf("%s: help %q shows default %v", v.Env, h, hasDef)
		}
	}
}
