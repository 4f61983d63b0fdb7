//go:build linux

package chaos

import "syscall"

// childAttr makes a child die with the harness (SIGKILL when the harness's thread exits), so an
// interrupted run leaves no redis-server or worker behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
