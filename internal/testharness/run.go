package testharness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RunOptions adjusts one fetchd run; the zero value is a plain run.
type RunOptions struct {
	Env       []string      // added to the test's environment, e.g. "FETCHD_CRASH_AT=dele.acked:3"
	KillAfter time.Duration // > 0: SIGKILL fetchd after this long, if it still runs
	Timeout   time.Duration // a run still going after this is a test failure; default 2 min
	// Via, when set, is run instead of fetchd, with fetchd's path and args as
	// its arguments: a wrapper that measures fetchd (it must pass on the exit
	// status, and take fetchd with it when it is killed).
	Via string
	// Untrusted leaves SSL_CERT_FILE unset, so that Dovecot's certificate is
	// not trusted (TLS and pinning tests).
	Untrusted bool
}

// Result is one finished fetchd run.
type Result struct {
	Code           int            // exit status; -1 when a signal ended it
	Signal         syscall.Signal // the signal that ended it, or 0
	Stdout, Stderr string
	Elapsed        time.Duration
}

// Killed reports whether SIGKILL ended the run (a crash point or KillAfter).
func (r Result) Killed() bool { return r.Signal == syscall.SIGKILL }

// Run runs the fetchd binary with args, with Dovecot's certificate trusted
// (SSL_CERT_FILE: Go's TLS stack reads it instead of the system bundle).
func (b *Box) Run(tb testing.TB, opt RunOptions, args ...string) Result {
	tb.Helper()
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Minute
	}
	cmd := exec.Command(Binary(tb), args...)
	if opt.Via != "" {
		cmd = exec.Command(opt.Via, append([]string{Binary(tb)}, args...)...)
	}
	cmd.Env = os.Environ()
	if !opt.Untrusted {
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+b.D.Cert)
	}
	cmd.Env = append(cmd.Env, opt.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("fetchd %s: %v", strings.Join(args, " "), err)
	}
	kill := opt.KillAfter
	timedOut := false
	if kill <= 0 || kill > opt.Timeout {
		kill, timedOut = opt.Timeout, true
	}
	timer := time.AfterFunc(kill, func() { cmd.Process.Kill() })
	cmd.Wait()
	fired := !timer.Stop()
	r := Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Signal = ws.Signal()
	}
	if fired && timedOut && r.Killed() {
		tb.Fatalf("fetchd %s: still running after %v\nstderr:\n%s", strings.Join(args, " "), opt.Timeout, Tail(r.Stderr, 40))
	}
	return r
}

// Once runs "fetchd once -c cfg".
func (b *Box) Once(tb testing.TB, cfg string, opt RunOptions) Result {
	tb.Helper()
	return b.Run(tb, opt, "once", "-c", cfg)
}

// Tail returns the last n lines of s, saying how many came before.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
