//go:build linux

package pop3

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketPending returns how many octets wait unread in the kernel's receive
// buffer of conn, without reading or waiting; ok is false when conn is not a
// socket that can say.
func socketPending(conn net.Conn) (n int, ok bool) {
	sc, isSC := conn.(syscall.Conn)
	if !isSC {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var ierr error
	// A control function runs without waiting for the socket to be ready.
	err = rc.Control(func(fd uintptr) {
		n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	if err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
