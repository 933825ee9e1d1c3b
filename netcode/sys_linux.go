package netcode

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loops' syscalls on non-blocking fds: read, write, writev and a
// zero-timeout epoll_wait. They are made with RawSyscall, not Syscall,
// because none of them can block: Syscall's entersyscall would wake the
// runtime's sysmon thread whenever it sleeps (an idle process), which under
// bursty relay load cost a futex wake and a context switch per burst, and
// would let sysmon hand our P to another thread mid-write. What RawSyscall
// gives up is the race detector's view of the kernel touching the buffers.

// sysRead reads into p, retrying on EINTR.
func sysRead(fd int, p []byte) (int, error) { return rawIO(unix.SYS_READ, fd, p) }

// sysWrite writes p, retrying on EINTR.
func sysWrite(fd int, p []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, p) }

// rawIO is read(2) or write(2) of p with RawSyscall, retrying on EINTR.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno == 0 {
			return int(r), nil
		}
		if errno != unix.EINTR {
			return 0, errno
		}
	}
}

// sysWritev writes the first n of vecs, retrying on EINTR.
func sysWritev(fd int, vecs *[3]unix.Iovec, n int) (int, error) {
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&vecs[0])), uintptr(n))
		if errno == 0 {
			return int(r), nil
		}
		if errno != unix.EINTR {
			return 0, errno
		}
	}
}

// sysPoll is epoll_wait with a zero timeout, retrying on EINTR.
func sysPoll(epfd int, events []unix.EpollEvent) (int, error) {
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		if errno == 0 {
			return int(r), nil
		}
		if errno != unix.EINTR {
			return 0, errno
		}
	}
}
