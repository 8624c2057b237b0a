package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns both ends of a new pseudo-terminal, or skips.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the pty's slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func echoing(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// On a real terminal the password is read with echo off, and echo is on
// again afterwards.
func TestPrompter_SecretOnTerminal(t *testing.T) {
	master, slave := openPTY(t)
	var out bytes.Buffer
	p := newPrompter(slave, &out)
	if p == nil {
		t.Fatal("a pseudo-terminal was not taken for a terminal")
	}
	if !echoing(t, slave) {
		t.Fatal("the new terminal does not echo to begin with")
	}
	type result struct {
		pw  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := p.Secret(context.Background(), "Password: ")
		done <- result{pw, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for echoing(t, slave) {
		if time.Now().After(deadline) {
			t.Fatal("echo still on while the password is asked for")
		}
		time.Sleep(5 * time.Millisecond)
	}
	master.WriteString("hunter2 x\n")
	select {
	case r := <-done:
		if r.err != nil || r.pw != "hunter2 x" {
			t.Errorf("Secret = %q, %v", r.pw, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Secret did not return")
	}
	if !echoing(t, slave) {
		t.Error("echo was left off")
	}
	if out.String() != "Password: \n" {
		t.Errorf("prompt output %q", out.String())
	}
}
