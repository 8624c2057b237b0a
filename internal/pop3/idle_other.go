//go:build !linux

package pop3

import "net"

// socketPending cannot look into the socket here: expectIdle probes.
func socketPending(net.Conn) (int, bool) { return 0, false }
