package netcode

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lobbyd/lobbyd/internal/rawio"
)

// The loops' syscalls on non-blocking fds: read, write, writev and a
// zero-timeout epoll_wait, made with RawSyscall, not Syscall (read and
// write through internal/rawio, which says why). Syscall would also let
// sysmon hand our P to another thread mid-write.

// sysRead reads into p, retrying on EINTR.
func sysRead(fd int, p []byte) (int, error) { return rawio.Read(fd, p) }

// sysWrite writes p, retrying on EINTR.
func sysWrite(fd int, p []byte) (int, error) { return rawio.Write(fd, p) }

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
