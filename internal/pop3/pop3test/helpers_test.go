package pop3test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// client is a hand-written POP3 peer: it sends raw lines and reads raw
// bytes, so the tests see exactly what the server puts on the wire.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

const clientTimeout = 5 * time.Second

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *client {
	t.Helper()
	d := &net.Dialer{Timeout: clientTimeout}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

// greeted dials and reads the greeting, which must be +OK.
func greeted(t *testing.T, addr string) *client {
	t.Helper()
	c := dial(t, addr)
	if g := c.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q, want +OK", g)
	}
	return c
}

// loggedIn dials, reads the greeting and logs in with USER/PASS.
func loggedIn(t *testing.T, addr string) *client {
	t.Helper()
	c := greeted(t, addr)
	c.ok("USER user")
	c.ok("PASS pass")
	return c
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(clientTimeout))
	if _, err := io.WriteString(c.conn, strings.Join(lines, "\r\n")+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", lines, err)
	}
}

// line reads one reply line without CRLF.
func (c *client) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line %q does not end with CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// cmd sends a command and returns its status line.
func (c *client) cmd(line string) string {
	c.t.Helper()
	c.send(line)
	return c.line()
}

// ok sends a command whose status line must start with +OK.
func (c *client) ok(line string) string {
	c.t.Helper()
	r := c.cmd(line)
	if !strings.HasPrefix(r, "+OK") {
		c.t.Fatalf("%s: got %q, want +OK", line, r)
	}
	return r
}

// errReply sends a command whose status line must start with want (a -ERR).
func (c *client) errReply(line, want string) {
	c.t.Helper()
	if r := c.cmd(line); !strings.HasPrefix(r, want) {
		c.t.Fatalf("%s: got %q, want prefix %q", line, r, want)
	}
}

// multiRaw reads the rest of a multi-line reply, up to and including the
// ".\r\n" terminator line, byte-exact.
func (c *client) multiRaw() string {
	c.t.Helper()
	var b strings.Builder
	for {
		c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
		l, err := c.r.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			c.t.Fatalf("read multi-line: %v (got %q)", err, b.String())
		}
		if l == ".\r\n" && (b.Len() == 3 || strings.HasSuffix(b.String()[:b.Len()-3], "\r\n")) {
			return b.String()
		}
	}
}

// multi reads the rest of a multi-line reply as lines, without the terminator.
func (c *client) multi() []string {
	c.t.Helper()
	raw := strings.TrimSuffix(c.multiRaw(), ".\r\n")
	if raw == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
}

// rest reads until the server closes the connection and returns what came.
func (c *client) rest() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
	b, err := io.ReadAll(c.r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("server did not close the connection (got %q)", b)
	}
	return string(b)
}

// silent asserts that nothing arrives within d.
func (c *client) silent(d time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	b, err := c.r.ReadByte()
	if err == nil {
		c.t.Fatalf("got byte %q, want silence", b)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("got %v, want silence", err)
	}
}

// uids returns the UIDs of the committed mailbox.
func uids(s *Server) []string {
	var out []string
	for _, m := range s.Mailbox() {
		out = append(out, m.UID)
	}
	return out
}

// waitUnlocked waits until every session has ended, so that
// the effects of a dropped connection (rollback, unlock) are visible.
func waitUnlocked(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(clientTimeout)
	for {
		s.mu.Lock()
		free := s.lockHolder == 0 && len(s.conns) == 0
		s.mu.Unlock()
		if free {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("sessions still running")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func msgs(bodies ...string) []Message {
	out := make([]Message, len(bodies))
	for i, b := range bodies {
		out[i] = Message{Body: []byte(b)}
	}
	return out
}
