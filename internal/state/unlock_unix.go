//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

import (
	"os"
	"syscall"
)

// unlockFile drops the flock bbolt took on f (bolt_unix.go), for when bbolt
// panicked during Open and left f open.
func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
