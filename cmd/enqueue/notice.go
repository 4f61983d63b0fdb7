package main

import (
	"os"
	"path/filepath"
)

// cacheDir is enqueue's directory under the user's cache directory ($XDG_CACHE_HOME, else
// os.UserCacheDir), "" when there is none.
func cacheDir(getenv func(string) string) string {
	base := getenv("XDG_CACHE_HOME")
	if base == "" {
		var err error
		if base, err = os.UserCacheDir(); err != nil {
			return ""
		}
	}
	return filepath.Join(base, "smsdispatch")
}

// firstTime reports whether the notice named key has not been shown yet in dir, and records that
// it now has (a marker file). Without a usable dir every call is the first: the notice is shown
// each time rather than never.
func firstTime(dir, key string) bool {
	if dir == "" {
		return true
	}
	marker := filepath.Join(dir, "notice-"+key)
	if _, err := os.Stat(marker); err == nil {
		return false
	}
	if err := os.MkdirAll(dir, 0o700); err == nil {
		_ = os.WriteFile(marker, nil, 0o600) // a notice shown again is harmless
	}
	return true
}
