package rawio

import (
	"syscall"
	"testing"
)

// A write reaches the other end of a non-blocking socket pair, a read of
// an empty one is EAGAIN (not a block), and a zero-length call makes no
// system call at all.
func TestReadWrite(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	for _, fd := range fds {
		if err := syscall.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 16)
	if n, err := Read(fds[1], buf); n != 0 || err != syscall.EAGAIN {
		t.Fatalf("read of an empty socket: %d, %v; want EAGAIN", n, err)
	}
	if n, err := Write(fds[0], []byte("hello")); n != 5 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if n, err := Read(fds[1], buf); n != 5 || err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
	if n, err := Write(-1, nil); n != 0 || err != nil {
		t.Fatalf("empty write on a bad fd: %d, %v (no system call expected)", n, err)
	}
	if _, err := Write(-1, []byte("x")); err != syscall.EBADF {
		t.Fatalf("write on a bad fd: %v, want EBADF", err)
	}
}
