//go:build unix

package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// On a timeout the whole process group goes, not only the program: what
// it started would otherwise outlive it, one more at every poll.
func TestAccount_SecretCommandTimeoutKillsGroup(t *testing.T) {
	old, oldTTY := secretTimeout, hasTTY
	secretTimeout = 300 * time.Millisecond
	hasTTY = func() bool { return false } // as in the daemon
	t.Cleanup(func() { secretTimeout, hasTTY = old, oldTTY })

	pidFile := filepath.Join(t.TempDir(), "pid")
	a := &Account{Name: "work", PasswordCommand: []string{"sh", "-c",
		`sleep 60 & echo $! > "$0"; wait`, pidFile}}
	start := time.Now()
	_, err := a.Secret(context.Background())
	if err == nil || !strings.Contains(err.Error(), `account "work": password_command "sh": timed out after 300ms`) {
		t.Fatalf("got %v, want a timeout", err)
	}
	// Without the group kill, Wait gives up after WaitDelay (1s) with the
	// sleep still running.
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("took %v: the grandchild held the pipes", d)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d still runs after the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether process pid runs. A zombie does not: nobody may reap
// an orphan in a container.
func alive(pid int) bool {
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// pid (comm) S …: the state follows the last ')'.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
	} else if errors.Is(err, os.ErrNotExist) && runtime.GOOS == "linux" {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}
