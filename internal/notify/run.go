package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// run runs the command for ev and logs how it went.
func (n *Notifier) run(parent context.Context, ev Event) {
	n.logEvent(n.log.Debug(), ev).Msg("running notify_command")
	input, err := json.Marshal(ev)
	if err != nil {
		// Details holds something JSON cannot encode: a bug in fetchd.
		n.logEvent(n.log.Error(), ev).Err(err).Msg("notify_command not run: cannot encode the event")
		return
	}
	input = append(input, '\n')

	ctx, cancel := context.WithTimeout(parent, n.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.argv[0], n.argv[1:]...)
	cmd.Stdin = bytes.NewReader(input)
	out := &capped{}
	// One writer for both: exec then gives the command a single pipe and
	// the output keeps its order.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = commandEnv(os.Environ(), ev)
	// Its own process group, so that a timeout kills what it started too
	// (a shell script's children), not only the command itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay

	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// It succeeded; something it started in the background kept its
		// output open and was cut off.
		err = nil
	}
	output := out.String()
	switch {
	case err == nil:
		if output != "" {
			n.logEvent(n.log.Info(), ev).Str("output", output).Msg("notify_command output")
		}
	case cmd.ProcessState == nil:
		n.logEvent(n.log.Warn(), ev).Err(err).Str("command", n.argv[0]).
			Msg("notify_command could not be started: check that it exists and is executable")
	default:
		e := n.logEvent(n.log.Warn(), ev).Str("command", n.argv[0]).Int("status", cmd.ProcessState.ExitCode())
		if output != "" {
			e = e.Str("output", output)
		}
		switch {
		case parent.Err() != nil:
			e.Msg("notify_command killed: fetchd is stopping")
		case ctx.Err() != nil:
			e.Dur("timeout", n.timeout).Msg("notify_command killed: it ran longer than the timeout")
		default:
			e.Str("exit", cmd.ProcessState.String()).Msg("notify_command failed: check the command and its output")
		}
	}
}

// systemdVars are what systemd hands the daemon itself: its notify socket,
// watchdog and passed sockets. The command must not speak for the daemon: a
// tool in a notify script that honours NOTIFY_SOCKET would send READY=1 or
// STOPPING=1 that systemd takes as the daemon's under NotifyAccess=all (and
// logs as refused under the default, main). See sd_notify(3),
// sd_watchdog_enabled(3), sd_listen_fds(3).
var systemdVars = []string{
	"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
	"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
}

// commandEnv is the environment of the command for ev: the daemon's,
// without systemdVars, with FETCHD_EVENT and FETCHD_ACCOUNT added. The
// rest stays, CREDENTIALS_DIRECTORY included: a script that mails the
// event may need a credential to log in to the mail server.
func commandEnv(environ []string, ev Event) []string {
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(systemdVars, name) {
			env = append(env, kv)
		}
	}
	// exec.Cmd keeps the last of duplicate names, so these override a
	// FETCHD_EVENT the daemon inherited.
	return append(env, "FETCHD_EVENT="+ev.Event, "FETCHD_ACCOUNT="+ev.Account)
}

// capped keeps the first MaxOutput bytes written to it and counts the rest.
type capped struct {
	mu      sync.Mutex
	buf     []byte
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := min(len(p), MaxOutput-len(c.buf))
	c.buf = append(c.buf, p[:keep]...)
	c.dropped += len(p) - keep
	return len(p), nil
}

// String is the output without its final line end, noting what was cut.
func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimRight(string(c.buf), "\r\n")
	if c.dropped > 0 {
		s += "\n[" + strconv.Itoa(c.dropped) + " more bytes not kept]"
	}
	return s
}
