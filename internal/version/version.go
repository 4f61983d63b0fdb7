// Package version renders the build information of smsdispatch's binaries for their --version
// flag, in one format for all of them, from runtime/debug.ReadBuildInfo: the module version and
// the VCS stamp (revision, commit time, modified) that `go build` records in a git work tree.
package version

import (
	"runtime/debug"
	"strings"
)

// String is the --version line of the binary name, e.g.
//
//	enqueue v1.2.0 (revision 7ddb18b01f21, 2026-12-04T19:00:00Z, modified) go1.26.8
//
// Fields the build did not record are left out; a binary built outside a module reports
// "(unknown)".
func String(name string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (unknown)"
	}
	return format(name, info)
}

// format renders info for String.
func format(name string, info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var stamp []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		stamp = append(stamp, "revision "+rev)
	}
	if at != "" {
		stamp = append(stamp, at)
	}
	if modified {
		stamp = append(stamp, "modified")
	}
	out := name + " " + v
	if len(stamp) > 0 {
		out += " (" + strings.Join(stamp, ", ") + ")"
	}
	if info.GoVersion != "" {
		out += " " + info.GoVersion
	}
	return out
}

// Requested reports whether args (without the program name) ask for the version: -version or
// --version before a "--" that ends the flags. Binaries that parse flags with package flag call
// it first, so --version works whatever else is on the command line.
func Requested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-version", "--version":
			return true
		}
	}
	return false
}
