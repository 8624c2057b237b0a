// Package testharness is what the reliability campaigns share to drive the
// real fetchd binary against the private Dovecot that scripts/dovecot.sh
// starts: the instance's settings (FETCHD_DOVECOT_*), a fetchd binary built
// once per process, a fresh Dovecot mailbox per test seeded with testcorpus
// messages, a fetchd config, a `fetchd once` run (optionally killed), and the
// delivered messages read back as SHA-256 multisets to compare with
// testcorpus.Expected.
//
// It is a non-test package so that several test packages can import it; it
// is meant for tests only (it takes a testing.TB and fails or skips through it).
package testharness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Dovecot describes the private instance scripts/dovecot.sh started.
type Dovecot struct {
	Dir, Log, Cert, Home, Password string
	POP3, POP3S, LMTP              string // host:port
	LMTPSocket                     string // unix socket path
	UID, GID                       int    // owner of the mail files
}

// NeedDovecot returns the running instance described by the FETCHD_DOVECOT_*
// variables, or skips the test when there is none; under CI=true a missing
// Dovecot is a failure, so CI cannot pass by skipping.
func NeedDovecot(tb testing.TB) *Dovecot {
	tb.Helper()
	get := func(k string) string { return os.Getenv("FETCHD_DOVECOT_" + k) }
	d := &Dovecot{
		Dir: get("DIR"), Log: get("LOG"), Cert: get("CERT"), Home: get("HOME"),
		Password: get("PASSWORD"), POP3: get("POP3"), POP3S: get("POP3S"),
		LMTP: get("LMTP"), LMTPSocket: get("LMTP_SOCKET"),
	}
	var err1, err2 error
	d.UID, err1 = strconv.Atoi(get("UID"))
	d.GID, err2 = strconv.Atoi(get("GID"))
	if d.Dir == "" || d.Cert == "" || d.Home == "" || d.POP3 == "" || d.POP3S == "" || err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("Dovecot not running: run ./scripts/test.sh or ./scripts/campaign.sh")
		}
		tb.Skip("Dovecot not running (no FETCHD_DOVECOT_* variables): run ./scripts/test.sh or ./scripts/campaign.sh")
	}
	if d.Log == "" {
		d.Log = filepath.Join(d.Dir, "dovecot.log")
	}
	if d.Password == "" {
		d.Password = "secret"
	}
	return d
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// Binary returns the path of a fetchd binary built from fetchd/cmd/fetchd,
// building it on the first call of the process (into a temp dir of its own:
// tests of several packages must not share it; RemoveBinary removes it).
func Binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "fetchd-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "fetchd")
		out, err := exec.Command("go", "build", "-o", build.bin, "fetchd/cmd/fetchd").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build fetchd/cmd/fetchd: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.bin
}

// RemoveBinary removes the binary Binary built, if any; a TestMain calls it
// after m.Run.
func RemoveBinary() {
	if build.bin != "" {
		os.RemoveAll(filepath.Dir(build.bin))
	}
}
