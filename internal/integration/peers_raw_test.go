package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// These tests check the peers themselves, without fetchd: that each carries the
// corpus with only the changes the fetchd tests expect (its own header fields
// at the top). If one fails, the peer's setup or the expectation is wrong, not
// fetchd.

// peerCorpus is what the raw checks send: every tricky byte pattern, the mbox
// From-line cases, and a few ordinary messages.
func peerCorpus() []testcorpus.Message {
	ms := append(testcorpus.Tricky(), testcorpus.FromLines()...)
	return append(ms, testcorpus.Mixed(20, 11)...)
}

// smtpWire is m on the SMTP wire, as fetchd's relay targets send it: every
// bare CR and bare LF becomes CRLF, a final line end is added, lines starting
// with '.' get one more (RFC 5321 §4.5.2), and ".\r\n" ends it.
func smtpWire(m testcorpus.Message) []byte {
	lf := testharness.RelayExpected(m) // LF form with bare CRs already line ends
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(lf, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		if l[0] == '.' {
			b.WriteByte('.')
		}
		b.Write(bytes.TrimSuffix(l, []byte("\n")))
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

// rawSMTP is a deliberately tiny SMTP/LMTP client, independent of fetchd's.
type rawSMTP struct {
	t    *testing.T
	c    net.Conn
	r    *bufio.Reader
	lmtp bool
}

func dialSMTP(t *testing.T, addr string, lmtp bool) *rawSMTP {
	t.Helper()
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	c, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() { c.Close() })
	s := &rawSMTP{t: t, c: c, r: bufio.NewReader(c), lmtp: lmtp}
	s.want("greeting", "220")
	hello := "EHLO"
	if lmtp {
		hello = "LHLO"
	}
	s.cmd(hello+" fetchd-test.invalid", "250")
	return s
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (s *rawSMTP) reply() string {
	s.t.Helper()
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("read: %v", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 4 || l[3] != '-' {
			return l
		}
	}
}

func (s *rawSMTP) want(what, code string) {
	s.t.Helper()
	if l := s.reply(); !strings.HasPrefix(l, code) {
		s.t.Fatalf("%s: %q, want %s", what, l, code)
	}
}

func (s *rawSMTP) cmd(line, code string) {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.c, "%s\r\n", line); err != nil {
		s.t.Fatalf("write: %v", err)
	}
	s.want(line, code)
}

// send transfers one message to one recipient.
func (s *rawSMTP) send(from, rcpt string, m testcorpus.Message) {
	s.t.Helper()
	s.cmd("MAIL FROM:<"+from+">", "250")
	s.cmd("RCPT TO:<"+rcpt+">", "250")
	s.cmd("DATA", "354")
	if _, err := s.c.Write(smtpWire(m)); err != nil {
		s.t.Fatalf("write: %v", err)
	}
	s.want("end of DATA for "+m.Name, "250") // LMTP: one reply per recipient, and there is one
}

func (s *rawSMTP) quit() {
	s.t.Helper()
	s.cmd("QUIT", "221")
}

// TestPeers_PostfixCarriesCorpusRaw: Postfix delivers what it is sent over SMTP
// with only its four header fields added at the top.
func TestPeers_PostfixCarriesCorpusRaw(t *testing.T) {
	p := needPostfix(t)
	addr, maildir := p.mailbox(t)
	ms := peerCorpus()
	s := dialSMTP(t, p.SMTP, false)
	for _, m := range ms {
		s.send("sender@example.org", addr, m)
	}
	s.quit()
	p.wait(t, maildir, len(ms))
	checkArrived(t, "Postfix maildir "+maildir, testharness.ReadMaildir(t, maildir), postfixFields, ms, testharness.RelayExpected, false)
}

// TestPeers_LMTPCarriesCorpusRaw: Dovecot's LMTP server, over TCP and over its
// unix socket, stores what it is sent with only its three header fields added.
func TestPeers_LMTPCarriesCorpusRaw(t *testing.T) {
	d := testharness.NeedDovecot(t)
	for _, tc := range []struct{ name, addr string }{
		{"tcp", d.LMTP},
		{"unix", d.LMTPSocket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.addr == "" {
				missingPeer(t, "Dovecot LMTP address not set (FETCHD_DOVECOT_LMTP, FETCHD_DOVECOT_LMTP_SOCKET)")
			}
			user, maildir := testharness.LMTPUser(t, d)
			ms := peerCorpus()
			s := dialSMTP(t, tc.addr, true)
			for _, m := range ms {
				s.send("sender@example.org", user, m)
			}
			s.quit()
			checkArrived(t, "Dovecot maildir "+maildir, testharness.ReadMaildir(t, maildir), lmtpFields, ms, testharness.RelayExpected, false)
		})
	}
}

// TestPeers_MDACarriesCorpusRaw: procmail and maildrop, given a message on
// stdin, store it in a maildir byte for byte.
func TestPeers_MDACarriesCorpusRaw(t *testing.T) {
	for _, mda := range []string{"procmail", "maildrop"} {
		t.Run(mda, func(t *testing.T) {
			dir := t.TempDir()
			argv, maildir := mdaCommand(t, mda, dir)
			ms := peerCorpus()
			for _, m := range ms {
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Stdin = bytes.NewReader(testcorpus.Expected(m))
				cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s < %s: %v\n%s", strings.Join(argv, " "), m.Name, err, out)
				}
			}
			checkArrived(t, mda+" maildir "+maildir, testharness.ReadMaildir(t, maildir), nil, ms, testcorpus.Expected, false)
		})
	}
}

// mdaCommand writes the rc file for mda ("procmail" or "maildrop") into dir
// and returns the command line that delivers stdin into dir/Maildir, and that
// maildir. The rc file is passed as an argument: fetchd runs an MDA with a
// clean environment, so nothing may depend on the caller's HOME.
func mdaCommand(t *testing.T, mda, dir string) (argv []string, maildir string) {
	t.Helper()
	maildir = filepath.Join(dir, "Maildir")
	switch mda {
	case "procmail":
		bin := needProgram(t, "/usr/bin/procmail", "procmail")
		rc := filepath.Join(dir, "procmailrc")
		// A trailing '/' makes DEFAULT a maildir, created when missing.
		text := fmt.Sprintf("MAILDIR=%s/\nDEFAULT=%s/\nLOGFILE=%s\nVERBOSE=no\n", maildir, maildir, filepath.Join(dir, "procmail.log"))
		if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{bin, rc}, maildir
	case "maildrop":
		bin := needProgram(t, "/usr/bin/maildrop", "maildrop")
		// maildrop delivers only into an existing maildir, and reads only a
		// filter file of mode 0600 owned by the user it runs as.
		if err := testcorpus.WriteMaildir(maildir, nil, -1, -1); err != nil {
			t.Fatal(err)
		}
		rc := filepath.Join(dir, "mailfilter")
		if err := os.WriteFile(rc, []byte(fmt.Sprintf("to %q\n", maildir)), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{bin, rc}, maildir
	}
	t.Fatalf("unknown MDA %q", mda)
	return nil, ""
}
