package tencentconf

import (
	"strings"
	"testing"
)

func TestVarsSet(t *testing.T) {
	t.Parallel()
	byEnv := map[string]Var{}
	for _, v := range Vars() {
		byEnv[v.Env] = v
	}
	tests := []struct {
		env, raw string
		ok       bool
		check    func(Settings) bool
	}{
		{EnvSecretID, "AKIDx", true, func(s Settings) bool { return s.SecretID == "AKIDx" }},
		{EnvSecretID, " AKIDx", false, nil},
		{EnvSecretKey, "k", true, func(s Settings) bool { return s.SecretKey == "k" }},
		{EnvSecretKey, "k\n", false, nil},
		{EnvRegion, "ap-beijing", true, func(s Settings) bool { return s.Region == "ap-beijing" }},
		{EnvRegion, "AP Beijing", false, nil},
		{EnvRegion, "", false, nil},
		{EnvEndpoint, "http://127.0.0.1:9000", true, func(s Settings) bool { return s.Endpoint == "http://127.0.0.1:9000" }},
		{EnvEndpoint, "", true, func(s Settings) bool { return s.Endpoint == "" }},
		{EnvEndpoint, "127.0.0.1:9000", false, nil},
	}
	for _, tt := range tests {
		v, found := byEnv[tt.env]
		if !found {
			t.Fatalf("no Var for %s", tt.env)
		}
		var s Settings
		err := v.Set(&s, tt.raw)
		if (err == nil) != tt.ok {
			t.Errorf("%s=%q: error %v, want ok=%v", tt.env, tt.raw, err, tt.ok)
			continue
		}
		if tt.ok && !tt.check(s) {
			t.Errorf("%s=%q: got %+v", tt.env, tt.raw, s)
		}
		if v.Secret && err != nil && strings.Contains(err.Error(), strings.TrimSpace(tt.raw)) {
			t.Errorf("%s: error %q echoes the secret", tt.env, err)
		}
	}
}

func TestValidateCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s       Settings
		sandbox bool
		wantErr string
	}{
		{Settings{}, true, ""},
		{Settings{Region: "ap-beijing"}, true, ""},
		{Settings{SecretID: "a", SecretKey: "b"}, false, ""},
		{Settings{Endpoint: "http://x"}, false, EnvSecretID},
		{Settings{SecretKey: "b"}, false, EnvSecretID},
		{Settings{SecretID: "a"}, false, EnvSecretKey},
	}
	for _, tt := range tests {
		if got := tt.s.Sandbox(); got != tt.sandbox {
			t.Errorf("%+v: Sandbox %v, want %v", tt.s, got, tt.sandbox)
		}
		err := tt.s.ValidateCredentials()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tt.s, err)
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr+":")):
			t.Errorf("%+v: error %v, want one starting with %s", tt.s, err, tt.wantErr)
		}
	}
}
