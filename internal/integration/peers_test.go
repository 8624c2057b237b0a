package integration

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"fetchd/internal/testharness"
)

// The peers that fetchd's delivery targets hand mail to: a private Postfix
// (scripts/postfix.sh), Dovecot's LMTP server (scripts/dovecot.sh), procmail
// and maildrop. Like Dovecot, a missing peer skips its tests, or fails them
// under CI=true.

// postfixPeer describes the private Postfix that scripts/postfix.sh started.
type postfixPeer struct {
	Dir, Log, SMTP, VMail, Domain string
	Pool                          int // addresses p000 … p(Pool-1)
}

func needPostfix(t *testing.T) *postfixPeer {
	t.Helper()
	get := func(k string) string { return os.Getenv("FETCHD_POSTFIX_" + k) }
	p := &postfixPeer{Dir: get("DIR"), Log: get("LOG"), SMTP: get("SMTP"), VMail: get("VMAIL"), Domain: get("DOMAIN")}
	var err error
	p.Pool, err = strconv.Atoi(get("POOL"))
	if p.Dir == "" || p.SMTP == "" || p.VMail == "" || p.Domain == "" || err != nil || p.Pool <= 0 {
		missingPeer(t, "Postfix not running (no FETCHD_POSTFIX_* variables)")
	}
	if p.Log == "" {
		p.Log = filepath.Join(p.Dir, "postfix.log")
	}
	return p
}

// needProgram returns path if it is an executable file.
func needProgram(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		missingPeer(t, fmt.Sprintf("%s not installed (Debian package %s)", path, pkg))
	}
	return path
}

// missingPeer skips the test, or fails it under CI=true so that CI cannot pass
// by skipping.
func missingPeer(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + ": run ./scripts/test.sh")
	}
	t.Skip(why + ": run ./scripts/test.sh")
}

// poolNext spreads the tests of one process over Postfix's address pool.
var poolNext atomic.Uint32

// mailbox returns a Postfix address nobody else in this process uses, and the
// maildir its mail lands in, emptied first (a previous run may have used it).
func (p *postfixPeer) mailbox(t *testing.T) (addr, maildir string) {
	t.Helper()
	if poolNext.Load() == 0 {
		poolNext.CompareAndSwap(0, rand.Uint32N(uint32(p.Pool))+1)
	}
	local := fmt.Sprintf("p%03d", poolNext.Add(1)%uint32(p.Pool))
	maildir = filepath.Join(p.VMail, local)
	if err := os.RemoveAll(maildir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(maildir) })
	return local + "@" + p.Domain, maildir
}

// wait returns when maildir holds n messages and Postfix's queue is empty:
// Postfix answers 250 to DATA when the message is queued, and delivers it after.
func (p *postfixPeer) wait(t *testing.T, maildir string, n int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := testharness.CountMaildir(t, maildir)
		queued := p.queued(t)
		if got >= n && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("Postfix: after 90s %s holds %d messages, want %d; %d still queued; last lines of %s:\n%s",
				maildir, got, n, queued, p.Log, testharness.Tail(readFile(t, p.Log), 20))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queued counts the messages in the instance's queues.
func (p *postfixPeer) queued(t *testing.T) int {
	t.Helper()
	n := 0
	for _, q := range []string{"maildrop", "incoming", "active", "deferred", "hold"} {
		err := filepath.WalkDir(filepath.Join(p.Dir, "spool", q), func(_ string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // a file Postfix moved on while we walked
				}
				return err
			}
			if e.Type().IsRegular() {
				n++
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return n
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(data)
}

// The fields each hop adds, top to bottom, as seen here (scripts/postfix.sh and
// scripts/dovecot.sh describe the peers' settings):
var (
	// Postfix: virtual(8) adds Return-Path, X-Original-To, Delivered-To; smtpd adds Received.
	postfixFields = []testharness.Field{{Name: "Return-Path"}, {Name: "X-Original-To"}, {Name: "Delivered-To"}, {Name: "Received", Has: "(Postfix)"}}
	// Dovecot LMTP: Return-Path, Delivered-To, and its Received.
	lmtpFields = []testharness.Field{{Name: "Return-Path"}, {Name: "Delivered-To"}, {Name: "Received", Has: "with LMTP"}}
	// fetchd in front of a relayed message: Received only (the final MTA adds
	// Return-Path and Delivered-To).
	fetchdRelayFields = []testharness.Field{{Name: "Received", Has: "(fetchd "}}
)

// fetchdLocalFields are the fields fetchd adds for a local target (mda, mbox)
// with trace_headers on: Delivered-To when the delivery has a recipient, and
// Received. Return-Path only when the message has none and the target sets
// from; the tests do not set it, and Mixed messages carry their own.
func fetchdLocalFields(rcpt string) []testharness.Field {
	if rcpt == "" {
		return []testharness.Field{{Name: "Received", Has: "(fetchd "}}
	}
	return []testharness.Field{{Name: "Delivered-To", Has: rcpt}, {Name: "Received", Has: "(fetchd "}}
}
