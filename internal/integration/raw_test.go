package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// rawConn is a deliberately tiny POP3 client, independent of internal/pop3, that
// checks the test setup itself: that Dovecot serves the corpus unchanged, so
// that a difference seen through fetchd is fetchd's.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func rawDialTLS(t *testing.T, d *testharness.Dovecot) *rawConn {
	t.Helper()
	pem, err := os.ReadFile(d.Cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", d.Cert)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", d.POP3S,
		&tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("dial %s: %v", d.POP3S, err)
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if line := rc.line(); !strings.HasPrefix(line, "+OK") {
		t.Fatalf("greeting %q", line)
	}
	return rc
}

func (rc *rawConn) line() string {
	rc.t.Helper()
	l, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends one command and returns the status line.
func (rc *rawConn) cmd(format string, args ...any) string {
	rc.t.Helper()
	if _, err := fmt.Fprintf(rc.c, format+"\r\n", args...); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	return rc.line()
}

func (rc *rawConn) login(user, password string) string {
	rc.t.Helper()
	if l := rc.cmd("USER %s", user); !strings.HasPrefix(l, "+OK") {
		rc.t.Fatalf("USER: %q", l)
	}
	return rc.cmd("PASS %s", password)
}

// retr returns message num as it was on the server: dot-unstuffed, CRLF → LF.
func (rc *rawConn) retr(num int) []byte {
	rc.t.Helper()
	if l := rc.cmd("RETR %d", num); !strings.HasPrefix(l, "+OK") {
		rc.t.Fatalf("RETR %d: %q", num, l)
	}
	var out bytes.Buffer
	for {
		l, err := rc.r.ReadBytes('\n')
		if err != nil {
			rc.t.Fatalf("RETR %d: %v", num, err)
		}
		if !bytes.HasSuffix(l, []byte("\r\n")) {
			rc.t.Fatalf("RETR %d: line without CRLF: %q", num, l)
		}
		if string(l) == ".\r\n" {
			return out.Bytes()
		}
		l = bytes.TrimPrefix(l, []byte(".")) // RFC 1939 §3: byte-stuffing
		out.Write(l[:len(l)-2])
		out.WriteByte('\n')
	}
}

// TestDovecot_CorpusRoundTripsRaw: every testcorpus.Tricky message (and a few
// Mixed ones) comes back from Dovecot with exactly the bytes of Expected, read
// with a minimal client. If this fails, the corpus or the Dovecot setup is
// wrong, not fetchd.
func TestDovecot_CorpusRoundTripsRaw(t *testing.T) {
	d := testharness.NeedDovecot(t)
	b := newBox(t, d)
	ms := append(testcorpus.Tricky(), testcorpus.Mixed(20, 7)...)
	b.Seed(t, ms)

	rc := rawDialTLS(t, d)
	if l := rc.login(b.User, d.Password); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("PASS: %q", l)
	}
	var count int
	var size int64
	if l := rc.cmd("STAT"); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("STAT: %q", l)
	} else if _, err := fmt.Sscanf(l, "+OK %d %d", &count, &size); err != nil {
		t.Fatalf("STAT %q: %v", l, err)
	}
	if count != len(ms) {
		t.Fatalf("STAT: %d messages, want %d", count, len(ms))
	}
	want, names := testharness.Want(ms, testcorpus.Expected)
	got := testharness.Multiset{}
	for i := 1; i <= count; i++ {
		data := rc.retr(i)
		h := sha256.Sum256(data)
		got[h]++
		if _, ok := want[h]; !ok {
			t.Errorf("RETR %d: bytes match no corpus message: %s", i, testharness.Mismatch(data, ms, testcorpus.Expected))
		}
	}
	for h, n := range want {
		if got[h] != n {
			t.Errorf("message %s: served %d times unchanged, want %d", names[h], got[h], n)
		}
	}
	rc.cmd("QUIT")
}

// TestDovecot_RawWrongPasswordRejected: the static passdb accepts any user, but
// only with the right password.
func TestDovecot_RawWrongPasswordRejected(t *testing.T) {
	d := testharness.NeedDovecot(t)
	rc := rawDialTLS(t, d)
	if l := rc.login(fmt.Sprintf("nobody%d", time.Now().UnixNano()), "wrong-"+d.Password); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("PASS with a wrong password: %q, want -ERR", l)
	}
}
