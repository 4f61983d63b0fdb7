package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"},
			Settings: vcs("vcs.revision", "7ddb18b01f21f4e6254f0d3fb152c148067746ec", "vcs.time", "2026-12-04T19:00:00Z", "vcs.modified", "false")},
			"enqueue v1.2.0 (revision 7ddb18b01f21, 2026-12-04T19:00:00Z) go1.26.8"},
		{"modified work tree", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "abc", "vcs.time", "2026-12-04T19:00:00Z", "vcs.modified", "true")},
			"enqueue (devel) (revision abc, 2026-12-04T19:00:00Z, modified) go1.26.8"},
		{"no vcs stamp", debug.BuildInfo{GoVersion: "go1.26.8"}, "enqueue (devel) go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := format("enqueue", &tt.info); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestString: the test binary has build info; its line starts with the name and names the Go
// version it was built with.
func TestString(t *testing.T) {
	got := String("worker")
	info, _ := debug.ReadBuildInfo()
	if !strings.HasPrefix(got, "worker ") || !strings.HasSuffix(got, " "+info.GoVersion) || strings.Contains(got, "\n") {
		t.Fatalf("String = %q", got)
	}
}

func TestRequested(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--version"}, true},
		{[]string{"-addr", ":1", "-version"}, true},
		{[]string{"-versions"}, false},
		{[]string{"--", "--version"}, false},
	}
	for _, tt := range tests {
		if got := Requested(tt.args); got != tt.want {
			t.Errorf("Requested(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
