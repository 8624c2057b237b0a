package deliver

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"fetchd/internal/crashpoint"
)

// MDAError is the Err of the *Error that MDA.Stage returns when the command
// ran but did not deliver. The *Error around it says whether the failure is
// permanent.
type MDAError struct {
	Command  string         // argv[0], or /bin/sh for a shell command
	Status   int            // exit status; -1 when it did not exit by itself
	Signal   syscall.Signal // the signal that ended it, when Status is -1
	Stopped  error          // why we killed it (timeout, cancellation); nil if we did not
	Read     int64          // for exit 0: bytes of its input it read…
	Size     int64          // …out of Size
	Stderr   []string       // the last lines of its stderr, oldest first
	Omitted  int            // earlier stderr lines not kept
	tempCode bool
}

func (e *MDAError) Error() string {
	var b strings.Builder
	b.WriteString(e.Command)
	switch {
	case e.Stopped != nil:
		fmt.Fprintf(&b, " stopped: %v", e.Stopped)
	case e.Status < 0:
		fmt.Fprintf(&b, " killed by signal %d (%v)", int(e.Signal), e.Signal)
	case e.Status == 0:
		fmt.Fprintf(&b, " exited 0 but read only %d of %d bytes", e.Read, e.Size)
	case e.tempCode:
		fmt.Fprintf(&b, " exited with status %d (temporary failure)", e.Status)
	default:
		fmt.Fprintf(&b, " exited with status %d", e.Status)
	}
	if n := len(e.Stderr); n > 0 {
		b.WriteString("; stderr: ")
		b.WriteString(strings.Join(e.Stderr[max(0, n-mdaErrorStderrTail):], " | "))
	}
	return b.String()
}

// run runs the command with stdin as its standard input and decides from how
// it ended, and how much of stdin it read, whether it delivered.
func (m *MDA) run(ctx context.Context, argv []string, stdin *os.File, size int64) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// An *os.File is handed to the child as is, not copied through a pipe:
	// the child shares our file description and so its offset.
	cmd.Stdin = stdin
	tail := &mdaTail{}
	cmd.Stderr = tail
	cmd.Env = m.env
	cmd.Dir = m.dir
	// The command gets its own process group so that a timeout kills
	// everything it started, not just the command itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: m.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = mdaWaitDelay

	err := cmd.Run()
	lines := tail.Lines()
	if m.cfg.Log != nil {
		if tail.dropped > 0 {
			m.cfg.Log(fmt.Sprintf("[%d earlier stderr lines not kept]", tail.dropped))
		}
		for _, l := range lines {
			m.cfg.Log(l)
		}
	}
	st := cmd.ProcessState
	if st == nil {
		// It never started: not found, not executable, a bad working
		// directory. All things the user can fix, so temporary.
		return Temporary(m.name, "start "+argv[0], err)
	}
	e := &MDAError{Command: argv[0], Status: st.ExitCode(), Stderr: lines, Omitted: tail.dropped}
	if e.Status == 0 {
		// The exit status decides, even if ctx ended meanwhile: the
		// command finished before our kill reached it.
		read, serr := stdin.Seek(0, io.SeekCurrent)
		if serr != nil {
			return Temporary(m.name, "check how much the command read", serr)
		}
		if read >= size {
			crashpoint.Hit(ctx, "mda.exited")
			return nil
		}
		e.Read, e.Size = read, size
		return Temporary(m.name, "", e)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal()
	}
	if ctx.Err() != nil {
		// We killed it, or it failed as we did: either way the message
		// may well be deliverable next time.
		e.Stopped = context.Cause(ctx)
		return Temporary(m.name, "", e)
	}
	if e.Status < 0 {
		return Temporary(m.name, "", e)
	}
	if m.tempCodes[e.Status] {
		e.tempCode = true
		return Temporary(m.name, "", e)
	}
	return Permanent(m.name, "", e)
}
