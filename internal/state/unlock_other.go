//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package state

import "os"

// unlockFile does nothing: where bbolt does not use flock, its lock goes with
// the file handle, which Open closes.
func unlockFile(*os.File) {}
