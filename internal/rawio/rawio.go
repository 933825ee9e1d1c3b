// Package rawio makes read(2) and write(2) on non-blocking descriptors
// with RawSyscall instead of Syscall. Neither call can block on such a
// descriptor, and Syscall's entersyscall wakes the Go runtime's sysmon
// thread whenever it sleeps (an idle process): sysmon then polls every
// 20 µs for a millisecond, a context switch each, which a process that
// idles between short bursts of I/O pays over and over. The epoll loops
// (netcode) and a cluster shard's Redis connections (cluster) use it.
// What RawSyscall gives up is the race detector's view of the kernel
// touching the buffers.
package rawio

import (
	"syscall"
	"unsafe"
)

// Read reads into p, retrying on EINTR. An error is the call's
// syscall.Errno (syscall.EAGAIN when nothing is there yet).
func Read(fd int, p []byte) (int, error) { return do(syscall.SYS_READ, fd, p) }

// Write writes p, or its first part, retrying on EINTR. An error is the
// call's syscall.Errno (syscall.EAGAIN when the socket's buffer is full).
func Write(fd int, p []byte) (int, error) { return do(syscall.SYS_WRITE, fd, p) }

func do(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno == 0 {
			return int(r), nil
		}
		if errno != syscall.EINTR {
			return 0, errno
		}
	}
}
