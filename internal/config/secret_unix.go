//go:build unix

package config

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// killGroupOnTimeout runs cmd in a process group of its own and makes the
// end of its context kill the whole group. Killing only the program would
// leave what it started (a gpg waiting for a passphrase, a helper's helper)
// running, one more at every poll of the daemon; WaitDelay only stops
// waiting for them.
//
// Not when fetchd has a controlling terminal: a process outside the
// terminal's foreground group that reads from it, as a passphrase prompt on
// /dev/tty does, is stopped by SIGTTIN, so `fetchd once` in a terminal would
// hang until the timeout instead of prompting.
func killGroupOnTimeout(cmd *exec.Cmd) {
	if hasTTY() {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// A negative pid names the process group, whose id is the
		// leader's pid.
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}

// hasTTY reports whether fetchd has a controlling terminal; opening
// /dev/tty fails without one. A variable so tests can choose.
var hasTTY = func() bool {
	f, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	f.Close()
	return true
}
