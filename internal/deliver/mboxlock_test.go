package deliver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stageMbox stages one message from a@example.com.
func stageMbox(t *testing.T, m *Mbox, body string) Staged {
	t.Helper()
	s, err := m.Stage(context.Background(), &Envelope{From: "a@example.com"}, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Abort() })
	return s
}

func commitWithin(s Staged, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Commit(ctx)
}

func TestMbox_HeldDotlock(t *testing.T) {
	tests := []struct {
		name     string
		ctxLimit time.Duration // the caller's deadline
		timeout  time.Duration // the Mbox's own lock timeout
		wantIs   error
		wantMsg  string // after "mbox <path>: lock: "
	}{
		{"caller deadline", 150 * time.Millisecond, time.Minute, context.DeadlineExceeded,
			"waiting for <path>.lock held by another program: context deadline exceeded"},
		{"own timeout", time.Minute, 150 * time.Millisecond, nil,
			"timed out after 150ms waiting for <path>.lock held by another program"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMbox(t)
			m.lockTimeout = tt.timeout
			if err := os.WriteFile(m.Path+".lock", []byte("1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s := stageMbox(t, m, "x\r\n")
			start := time.Now()
			err := commitWithin(s, tt.ctxLimit)
			if waited := time.Since(start); waited < 100*time.Millisecond || waited > 5*time.Second {
				t.Errorf("Commit returned after %v, want it to wait about 150ms", waited)
			}
			if err == nil || IsPermanent(err) || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
				t.Fatalf("Commit = %v, want a temporary error wrapping %v", err, tt.wantIs)
			}
			want := m.String() + ": lock: " + strings.ReplaceAll(tt.wantMsg, "<path>", m.Path)
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if _, err := os.Stat(m.Path + ".lock"); err != nil {
				t.Errorf("the other program's lock: %v, want it left alone", err)
			}
			if _, err := os.Stat(m.Path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("mbox touched without the lock: %v", err)
			}
		})
	}
}

func TestMbox_DotlockReleasedWhileWaiting(t *testing.T) {
	m := newTestMbox(t)
	lock := m.Path + ".lock"
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := stageMbox(t, m, "x\r\n")
	time.AfterFunc(200*time.Millisecond, func() { os.Remove(lock) })
	start := time.Now()
	if err := commitWithin(s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("Commit returned after %v, before the lock was released", waited)
	}
	if got := readMbox(t, m.Path); got != mboxFrom+"x\n\n" {
		t.Errorf("mbox holds %q", got)
	}
}

func TestMbox_StaleDotlockBroken(t *testing.T) {
	m := newTestMbox(t)
	lock := m.Path + ".lock"
	if err := os.WriteFile(lock, []byte("99999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-6 * time.Minute)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	if err := commitWithin(stageMbox(t, m, "x\r\n"), time.Second); err != nil {
		t.Fatalf("Commit with a stale lock: %v", err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock after Commit: %v, want it gone", err)
	}
}

// TestMbox_HelperHoldFcntl is not a test: run as a child process by
// holdFcntl, it takes an fcntl write lock on the file named by
// FETCHD_TEST_FCNTL_HOLD, says "locked" and holds it until stdin closes.
func TestMbox_HelperHoldFcntl(t *testing.T) {
	path := os.Getenv("FETCHD_TEST_FCNTL_HOLD")
	if path == "" {
		t.Skip("helper process only")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// holdFcntl holds an fcntl lock on path from another process (fcntl locks
// are per process, so this one could not see its own) until release is
// called. It returns the child's pid.
func holdFcntl(t *testing.T, path string) (pid int, release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMbox_HelperHoldFcntl$")
	cmd.Env = append(os.Environ(), "FETCHD_TEST_FCNTL_HOLD="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { stdin.Close(); cmd.Wait() }) }
	t.Cleanup(release)
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	return cmd.Process.Pid, release
}

func TestMbox_FcntlLockHeldByAnotherProcess(t *testing.T) {
	m := newTestMbox(t)
	pid, release := holdFcntl(t, m.Path)
	s := stageMbox(t, m, "x\r\n")

	err := commitWithin(s, 300*time.Millisecond)
	want := fmt.Sprintf("%s: lock: waiting for the fcntl lock on %s (pid %d) held by another program: context deadline exceeded", m, m.Path, pid)
	if err == nil || IsPermanent(err) || err.Error() != want {
		t.Fatalf("Commit = %v, want temporary %q", err, want)
	}
	if _, err := os.Stat(m.Path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("our dot lock after a failed Commit: %v, want it released", err)
	}
	if got := readMbox(t, m.Path); got != "" {
		t.Errorf("mbox holds %q while locked, want nothing", got)
	}

	time.AfterFunc(200*time.Millisecond, release)
	start := time.Now()
	if err := commitWithin(s, 10*time.Second); err != nil {
		t.Fatalf("Commit after the lock is released: %v", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("Commit returned after %v, before the lock was released", waited)
	}
	if got := readMbox(t, m.Path); got != mboxFrom+"x\n\n" {
		t.Errorf("mbox holds %q", got)
	}
}

func TestMbox_ConcurrentCommits(t *testing.T) {
	m := newTestMbox(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				body := fmt.Sprintf("Subject: %d-%d\r\n\r\n%s\r\n", g, i, strings.Repeat("From y\r\n", 100*i))
				if err := deliverMbox(t, m, strings.NewReader(body), Trace{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	msgs := parseMboxrd(t, readMbox(t, m.Path))
	if len(msgs) != 40 {
		t.Fatalf("%d messages, want 40", len(msgs))
	}
	seen := make(map[string]bool)
	for _, msg := range msgs {
		subj, rest, _ := strings.Cut(msg, "\n\n")
		var g, i int
		fmt.Sscanf(subj, "Subject: %d-%d", &g, &i)
		if want := strings.Repeat("From y\n", 100*i) + "\n"; rest != want || seen[subj] {
			t.Errorf("%s: body of %d bytes, want %d (or seen twice)", subj, len(rest), len(want))
		}
		seen[subj] = true
	}
}

func TestMbox_WaitForOwnDeliveryObeysCtx(t *testing.T) {
	m := newTestMbox(t)
	m.appending <- struct{}{} // another goroutine's Commit is appending
	err := commitWithin(stageMbox(t, m, "x\r\n"), 100*time.Millisecond)
	want := m.String() + ": lock: waiting for another delivery by fetchd to " + m.Path + " to finish: context deadline exceeded"
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != want {
		t.Errorf("Commit = %v, want %q", err, want)
	}
}
