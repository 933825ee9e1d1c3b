//go:build !linux

package redistest

import "syscall"

// dieWithParent: no parent-death signal outside Linux (lobbyd runs on
// Linux only); a server started here outlives an interrupted test binary.
func dieWithParent() *syscall.SysProcAttr { return nil }
