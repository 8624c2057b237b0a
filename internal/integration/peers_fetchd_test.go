package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// The fetchd binary polls a Dovecot POP3 mailbox and hands every message to one
// real peer. The acceptance test for each target kind: the same 200-message
// mailbox arrives complete and byte-identical apart from the trace header
// fields fetchd and the peer add at the top, compared by SHA-256 as multisets.

const (
	peersN    = 200
	peersSeed = 2024
)

// peersMailbox is the mailbox every target gets.
func peersMailbox() []testcorpus.Message { return testcorpus.Mixed(peersN, peersSeed) }

// peerRcpt is the envelope recipient the MDA tests configure, so that the
// Delivered-To field fetchd adds is predictable.
const peerRcpt = "peer-test@example.net"

// peerRun seeds a fresh mailbox with ms, runs fetchd once with trace headers on
// and deliver as its [[account.deliver]] tables, and returns the result.
func peerRun(t *testing.T, d *testharness.Dovecot, ms []testcorpus.Message, deliver, extra string) (*testharness.Box, result) {
	t.Helper()
	b := newBox(t, d)
	b.Seed(t, ms)
	a := b.ImplicitTLS()
	a.TraceHeaders = true
	a.Deliver = deliver
	a.Extra = extra
	r := once(t, b, b.Config(t, a))
	return b, r
}

// wantAllFetched fails unless the run succeeded, fetched n and left nothing.
func wantAllFetched(t *testing.T, b *testharness.Box, r result, n int) {
	t.Helper()
	wantCode(t, r, 0)
	if got := r.fetched(t); got != n {
		t.Errorf("fetched %d, want %d", got, n)
	}
	wantServerCount(t, b, 0)
}

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func testMDA(t *testing.T, mda string, ms []testcorpus.Message) {
	d := needFetchd(t)
	dir := t.TempDir()
	argv, maildir := mdaCommand(t, mda, dir)
	b, r := peerRun(t, d, ms, fmt.Sprintf("[[account.deliver]]\nmda = %s\nrecipients = [%q]\n", tomlStrings(argv), peerRcpt), "")
	wantAllFetched(t, b, r, len(ms))
	checkArrived(t, mda+" maildir "+maildir, testharness.ReadMaildir(t, maildir), fetchdLocalFields(peerRcpt), ms, testcorpus.Expected, false)
}

func TestPeers_Procmail200(t *testing.T) { testMDA(t, "procmail", peersMailbox()) }

func TestPeers_Maildrop200(t *testing.T) { testMDA(t, "maildrop", peersMailbox()) }

// TestPeers_MDATricky: NUL bytes, bare CRs, 8-bit and 20 KB lines reach the
// MDA's maildir unchanged (an MDA gets the message in LF form on stdin).
func TestPeers_MDATricky(t *testing.T) {
	for _, mda := range []string{"procmail", "maildrop"} {
		t.Run(mda, func(t *testing.T) {
			testMDA(t, mda, append(testcorpus.Tricky(), testcorpus.FromLines()...))
		})
	}
}

func TestPeers_PostfixSMTP200(t *testing.T) {
	d := needFetchd(t)
	p := needPostfix(t)
	addr, maildir := p.mailbox(t)
	ms := peersMailbox()
	b, r := peerRun(t, d, ms, fmt.Sprintf("[[account.deliver]]\nsmtp = %q\nsmtp_tls = \"none\"\nrecipients = [%q]\n", p.SMTP, addr), "")
	wantAllFetched(t, b, r, len(ms))
	p.wait(t, maildir, len(ms))
	checkArrived(t, "Postfix maildir "+maildir, testharness.ReadMaildir(t, maildir), slices.Concat(postfixFields, fetchdRelayFields),
		ms, testharness.RelayExpected, false)
}

func TestPeers_LMTP200(t *testing.T) {
	d := needFetchd(t)
	user, maildir := testharness.LMTPUser(t, d)
	ms := peersMailbox()
	b, r := peerRun(t, d, ms, fmt.Sprintf("[[account.deliver]]\nlmtp = %q\nrecipients = [%q]\n", d.LMTP, user), "")
	wantAllFetched(t, b, r, len(ms))
	checkArrived(t, "Dovecot maildir "+maildir, testharness.ReadMaildir(t, maildir), slices.Concat(lmtpFields, fetchdRelayFields),
		ms, testharness.RelayExpected, false)
}

func TestPeers_Mbox200(t *testing.T) {
	d := needFetchd(t)
	mbox := filepath.Join(t.TempDir(), "mbox")
	ms := peersMailbox()
	b, r := peerRun(t, d, ms, fmt.Sprintf("[[account.deliver]]\nmbox = %q\n", mbox), "")
	wantAllFetched(t, b, r, len(ms))
	checkMbox(t, mbox, ms)
}

// TestPeers_MboxFromLines: lines that look like an mbox separator, or like a
// quoted one, come back unchanged through mboxrd quoting.
func TestPeers_MboxFromLines(t *testing.T) {
	d := needFetchd(t)
	mbox := filepath.Join(t.TempDir(), "mbox")
	ms := append(testcorpus.FromLines(), testcorpus.Tricky()...)
	b, r := peerRun(t, d, ms, fmt.Sprintf("[[account.deliver]]\nmbox = %q\n", mbox), "")
	wantAllFetched(t, b, r, len(ms))
	checkMbox(t, mbox, ms)
}

// fromLineRE is an mbox From line: "From sender asctime".
var fromLineRE = regexp.MustCompile(`^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}$`)

func checkMbox(t *testing.T, mbox string, ms []testcorpus.Message) {
	t.Helper()
	data, err := os.ReadFile(mbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := testharness.ParseMboxrd(data)
	if err != nil {
		t.Fatalf("mbox %s: %v", mbox, err)
	}
	for i, m := range msgs {
		if !fromLineRE.MatchString(m.From) {
			t.Errorf("mbox message %d: From line %q is not \"From sender asctime\"", i+1, m.From)
		}
	}
	// The mbox target has no recipients key: Delivered-To names the local user.
	checkArrived(t, "mbox "+mbox, msgs, slices.Concat([]testharness.Field{{Name: "Delivered-To"}}, fetchdRelayFields), ms, testcorpus.Expected, false)
}

// testRelayTricky sends every tricky message through a relay target. Each must
// arrive with only the documented normalisation (testharness.RelayExpected: a
// bare CR becomes a line end), or be reported failed and stay on the server;
// nothing may arrive cut or changed otherwise.
func testRelayTricky(t *testing.T, d *testharness.Dovecot, deliver, where string, added []testharness.Field, arrived func(n int) []testharness.File) {
	t.Helper()
	ms := append(testcorpus.Tricky(), testcorpus.FromLines()...)
	b, r := peerRun(t, d, ms, deliver, "on_permanent_failure = \"keep\"\n")
	m := countsRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no summary in stdout %q (exit %d)\nstderr:\n%s", r.Stdout, r.Code, testharness.Tail(r.Stderr, 30))
	}
	fetched, _ := strconv.Atoi(m[1])
	failed, _ := strconv.Atoi(m[3])
	missing := checkArrived(t, where, arrived(fetched), added, ms, testharness.RelayExpected, true)
	if len(missing) > 0 {
		t.Logf("reported failed and kept on the server: %s", strings.Join(missing, ", "))
	}
	if failed != len(missing) {
		t.Errorf("fetchd reported %d failed, but %d messages did not arrive: %v", failed, len(missing), missing)
	}
	wantCode := 0
	if len(missing) > 0 {
		wantCode = 1
	}
	if r.Code != wantCode {
		t.Errorf("fetchd exited %d, want %d with %d failed", r.Code, wantCode, len(missing))
	}
	wantServerCount(t, b, len(missing))
}

func TestPeers_PostfixSMTPTricky(t *testing.T) {
	d := needFetchd(t)
	p := needPostfix(t)
	addr, maildir := p.mailbox(t)
	testRelayTricky(t, d, fmt.Sprintf("[[account.deliver]]\nsmtp = %q\nsmtp_tls = \"none\"\nrecipients = [%q]\n", p.SMTP, addr),
		"Postfix maildir "+maildir, slices.Concat(postfixFields, fetchdRelayFields),
		func(n int) []testharness.File {
			p.wait(t, maildir, n)
			return testharness.ReadMaildir(t, maildir)
		})
}

// TestPeers_LMTPSocketTricky goes through Dovecot's LMTP unix socket.
func TestPeers_LMTPSocketTricky(t *testing.T) {
	d := needFetchd(t)
	sock := d.LMTPSocket
	if sock == "" {
		missingPeer(t, "FETCHD_DOVECOT_LMTP_SOCKET not set")
	}
	user, maildir := testharness.LMTPUser(t, d)
	testRelayTricky(t, d, fmt.Sprintf("[[account.deliver]]\nlmtp = %q\nrecipients = [%q]\n", sock, user),
		"Dovecot maildir "+maildir, slices.Concat(lmtpFields, fetchdRelayFields),
		func(int) []testharness.File { return testharness.ReadMaildir(t, maildir) })
}

// TestPeers_PostfixRefusedRecipientHeldThenRetried: Postfix refuses an unknown
// recipient with a 5xx at RCPT. The messages stay on the server, are held (not
// offered to Postfix again on the next poll), and `fetchd retry`, once the
// config names a good recipient, delivers them.
func TestPeers_PostfixRefusedRecipientHeldThenRetried(t *testing.T) {
	d := needFetchd(t)
	p := needPostfix(t)
	good, maildir := p.mailbox(t)
	bad := fmt.Sprintf("nosuch%08x@%s", rand.Uint32(), p.Domain)
	ms := testcorpus.Mixed(3, 77)
	b := newBox(t, d)
	b.Seed(t, ms)
	a := b.ImplicitTLS()
	a.TraceHeaders = true
	a.Extra = "on_permanent_failure = \"keep\"\n"
	smtpTarget := func(rcpt string) string {
		return fmt.Sprintf("[[account.deliver]]\nsmtp = %q\nsmtp_tls = \"none\"\nrecipients = [%q]\n", p.SMTP, rcpt)
	}
	a.Deliver = smtpTarget(bad)
	cfg := b.Config(t, a)
	// rejections counts Postfix's log lines refusing bad, waiting up to 3s for
	// at least want of them (postlogd writes the log asynchronously).
	rejections := func(want int) int {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := strings.Count(readFile(t, p.Log), "<"+bad+">: Recipient address rejected")
			if n >= want || time.Now().After(deadline) {
				return n
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	r := once(t, b, cfg)
	wantCode(t, r, 1)
	if m := countsRE.FindStringSubmatch(r.Stdout); m == nil || m[3] != strconv.Itoa(len(ms)) {
		t.Errorf("stdout %q, want %d failed", r.Stdout, len(ms))
	}
	wantServerCount(t, b, len(ms))
	if n := rejections(len(ms)); n != len(ms) {
		t.Errorf("Postfix's log shows %d rejections of %s, want %d", n, bad, len(ms))
	}

	r = once(t, b, cfg)
	if r.fetched(t) != 0 {
		t.Errorf("second poll fetched %d, want 0: the refused messages are held", r.fetched(t))
	}
	wantServerCount(t, b, len(ms))
	if n := rejections(len(ms) + 1); n != len(ms) {
		t.Errorf("after the second poll Postfix's log shows %d rejections, want still %d: held messages were offered again", n, len(ms))
	}

	a.Deliver = smtpTarget(good)
	cfg = b.Config(t, a)
	r = runFetchd(t, b, "retry", "-c", cfg, "t")
	wantCode(t, r, 0)
	if n := r.fetched(t); n != len(ms) {
		t.Errorf("retry fetched %d, want %d", n, len(ms))
	}
	wantServerCount(t, b, 0)
	p.wait(t, maildir, len(ms))
	checkArrived(t, "Postfix maildir "+maildir, testharness.ReadMaildir(t, maildir), slices.Concat(postfixFields, fetchdRelayFields),
		ms, testharness.RelayExpected, false)
}
