package redistest

import "syscall"

// dieWithParent makes a child get SIGKILL when the thread that started it
// exits (see spawner), so servers never outlive the test binary.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
