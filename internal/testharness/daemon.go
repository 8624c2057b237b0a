package testharness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fetchd/internal/control"
)

// Daemon is one `fetchd run` process started by StartDaemon, with a
// unixgram NOTIFY_SOCKET that collects what it tells systemd and a runtime
// directory of its own for the control socket.
type Daemon struct {
	tb       testing.TB
	cmd      *exec.Cmd
	Runtime  string   // $RUNTIME_DIRECTORY
	Env      []string // the daemon's environment; Cmd runs other commands in it
	Stderr   *SyncBuffer
	Notify   *NotifyListener
	exited   chan struct{}
	exitCode int
}

// SyncBuffer is a bytes.Buffer a process may write while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// NotifyListener collects the datagrams sent to a NOTIFY_SOCKET.
type NotifyListener struct {
	Path string
	mu   sync.Mutex
	msgs []string
}

// ListenNotify listens on dir/notify.
func ListenNotify(tb testing.TB, dir string) *NotifyListener {
	tb.Helper()
	n := &NotifyListener{Path: filepath.Join(dir, "notify")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.Path, Net: "unixgram"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

// Count returns how many received lines equal field, e.g. "READY=1".
func (n *NotifyListener) Count(field string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, m := range n.msgs {
		for _, line := range strings.Split(m, "\n") {
			if line == field {
				c++
			}
		}
	}
	return c
}

// All is everything received, for failure messages.
func (n *NotifyListener) All() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, " | ")
}

// ShortDir makes a temporary directory whose path fits a unix socket
// address (t.TempDir's may not).
func ShortDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "fd")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// StartDaemon runs `fetchd run -c cfg` with env added to the test's
// environment, and waits for READY=1. The test's cleanup kills it if it
// still runs and logs its stderr if the test failed.
func StartDaemon(tb testing.TB, cfg string, env ...string) *Daemon {
	tb.Helper()
	sock := ShortDir(tb)
	d := &Daemon{tb: tb, Runtime: filepath.Join(sock, "run"), Stderr: &SyncBuffer{},
		Notify: ListenNotify(tb, sock), exited: make(chan struct{})}
	d.Env = append(os.Environ(), "RUNTIME_DIRECTORY="+d.Runtime, "NOTIFY_SOCKET="+d.Notify.Path)
	d.Env = append(d.Env, env...)
	d.cmd = exec.Command(Binary(tb), "run", "-c", cfg)
	d.cmd.Env = d.Env
	d.cmd.Stderr = d.Stderr
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		d.cmd.Wait()
		d.exitCode = d.cmd.ProcessState.ExitCode()
		close(d.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
		if tb.Failed() {
			tb.Logf("daemon stderr (tail):\n%s", Tail(d.Stderr.String(), 60))
		}
	})
	d.WaitNotify("READY=1", 1, 30*time.Second)
	return d
}

// WaitNotify waits until the daemon has sent field n times.
func (d *Daemon) WaitNotify(field string, n int, within time.Duration) {
	d.tb.Helper()
	Eventually(d.tb, within, fmt.Sprintf("%d × %s from the daemon (got %s)", n, field, d.Notify.All()), func() bool {
		select {
		case <-d.exited:
			d.tb.Fatalf("daemon exited (%d) while waiting for %s:\n%s", d.exitCode, field, Tail(d.Stderr.String(), 60))
		default:
		}
		return d.Notify.Count(field) >= n
	})
}

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig syscall.Signal) {
	d.tb.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.tb.Fatal(err)
	}
}

// Stop sends SIGTERM, fails the test unless the daemon exits 0 within
// within, and returns how long it took.
func (d *Daemon) Stop(within time.Duration) time.Duration {
	d.tb.Helper()
	start := time.Now()
	d.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(within):
		d.tb.Fatalf("daemon still running %s after SIGTERM:\n%s", within, Tail(d.Stderr.String(), 60))
	}
	if d.exitCode != 0 {
		d.tb.Errorf("daemon exit status %d after SIGTERM, want 0", d.exitCode)
	}
	return time.Since(start)
}

// Client talks to the daemon's control socket.
func (d *Daemon) Client() *control.Client {
	return control.Dial(filepath.Join(d.Runtime, control.SocketName))
}

// Socket is the daemon's control socket path.
func (d *Daemon) Socket() string { return filepath.Join(d.Runtime, control.SocketName) }

// Cmd runs another fetchd command in the daemon's environment and returns
// its exit status and combined output.
func (d *Daemon) Cmd(args ...string) (code int, out string) {
	d.tb.Helper()
	cmd := exec.Command(Binary(d.tb), args...)
	cmd.Env = d.Env
	b, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		d.tb.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(b)
}

// Eventually polls cond every 20 ms and fails the test if it is not true
// within the given time.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
