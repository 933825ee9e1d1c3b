package proc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ListenerPID finds the process listening on a TCP port (IPv4 or IPv6) by
// reading /proc/net/tcp{,6} for the socket's inode and then the fd links of
// every visible process. It lets `bench idle` measure a server it did not
// start without being told its PID.
func ListenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listenInodes(f, port, inodes); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("proc: nothing listens on port %d", port)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") && inodes[link[len("socket:["):len(link)-1]] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("proc: no visible process owns the listener on port %d", port)
}

// listenInodes adds the inodes of sockets in LISTEN state on port.
func listenInodes(file string, port int, into map[string]bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(fl) < 10 || fl[3] != "0A" || !strings.HasSuffix(fl[1], want) {
			continue
		}
		into[fl[9]] = true
	}
	return sc.Err()
}
