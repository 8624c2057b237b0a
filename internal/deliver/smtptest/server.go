// Package smtptest runs an in-process SMTP or LMTP server, built on
// go-smtp's server, for tests of delivery targets and of the poll: it
// records the messages it accepts and injects faults (a reply per command,
// per recipient after the final dot, a dropped connection after the final
// dot, a slow reply), like maddy's test targets.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"fetchd/internal/testcert"
)

// Options configure a Server. The zero value is a plain SMTP server on
// 127.0.0.1 that offers 8BITMIME, SIZE (no limit) and no AUTH.
type Options struct {
	LMTP         bool   // speak LMTP (RFC 2033): LHLO, one reply per recipient after the dot
	Unix         bool   // listen on a Unix socket; Addr returns its path
	TLS          bool   // offer STARTTLS (RFC 3207)
	ImplicitTLS  bool   // TLS from the first byte (RFC 8314)
	MaxSize      int64  // announce SIZE with this limit and enforce it; 0 = SIZE without a limit
	SMTPUTF8     bool   // offer SMTPUTF8 (RFC 6531)
	User         string // offer AUTH PLAIN (over TLS) and accept only User/Password
	Password     string
	InsecureAuth bool // offer AUTH without TLS too
	// MaxLineLength is the longest line accepted, commands and DATA alike;
	// 0 = no limit (go-smtp's default is 2000).
	MaxLineLength int
}

// Faults are injected into every session from the moment SetFaults is
// called. Errors are replies: use Reply, or any *smtp.SMTPError (another
// error becomes a 554 after DATA, a 451 elsewhere).
type Faults struct {
	MailErr      error            // reply to MAIL
	RcptErr      map[string]error // reply to RCPT, by address
	DataErr      error            // reply to the final dot (LMTP: for each recipient without an LMTPErr)
	LMTPErr      map[string]error // LMTP: the reply to the final dot for this recipient
	DropAfterDot bool             // read the message to the final dot, record it, close without a reply
	Delay        time.Duration    // wait this long before replying to the final dot
}

// Message is a message the server accepted, as it came off the wire:
// dot-stuffing removed, CRLF line ends kept.
type Message struct {
	From string   // "" for the null sender
	To   []string // the recipients that accepted it
	Data []byte
	Size int64  // the SIZE= parameter of MAIL; 0 = none
	Body string // the BODY= parameter of MAIL ("8BITMIME"); "" = none
	UTF8 bool   // MAIL had SMTPUTF8
}

// Server is a running fake server. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	srv  *smtp.Server
	ln   net.Listener
	addr string
	pool *x509.CertPool

	mu       sync.Mutex
	faults   Faults
	messages []Message
	conns    map[net.Conn]struct{}
	accepted int
	auths    int
	log      bytes.Buffer
}

// NewServer starts a server; tb.Cleanup closes it.
func NewServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	s := &Server{opts: o, conns: make(map[net.Conn]struct{})}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "smtptest.localhost"
	s.srv.LMTP = o.LMTP
	s.srv.MaxMessageBytes = o.MaxSize
	s.srv.MaxLineLength = o.MaxLineLength
	s.srv.EnableSMTPUTF8 = o.SMTPUTF8
	s.srv.AllowInsecureAuth = o.InsecureAuth
	s.srv.Debug = transcript{s}
	s.srv.ErrorLog = log.New(io.Discard, "", 0)

	var ln net.Listener
	var err error
	if o.Unix {
		dir, derr := os.MkdirTemp("", "smtptest")
		if derr != nil {
			tb.Fatalf("smtptest: %v", derr)
		}
		tb.Cleanup(func() { os.RemoveAll(dir) })
		s.addr = filepath.Join(dir, "lmtp.sock")
		ln, err = net.Listen("unix", s.addr)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	if !o.Unix {
		s.addr = ln.Addr().String()
	}
	ln = &countingListener{Listener: ln, s: s}
	if o.TLS || o.ImplicitTLS {
		cert, pool, err := testcert.New("localhost", "127.0.0.1", "::1")
		if err != nil {
			tb.Fatalf("smtptest: certificate: %v", err)
		}
		s.pool = pool
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.ImplicitTLS {
			ln = tls.NewListener(ln, s.srv.TLSConfig)
		}
	}
	s.ln = ln
	go s.srv.Serve(ln)
	tb.Cleanup(s.Close)
	return s
}

// Addr returns "127.0.0.1:port", or the socket path with Options.Unix.
func (s *Server) Addr() string { return s.addr }

// ClientTLSConfig returns a client configuration that trusts the server's
// certificate (valid for localhost, 127.0.0.1 and ::1); nil without TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
}

// SetFaults replaces the faults. The maps are copied.
func (s *Server) SetFaults(f Faults) {
	f.RcptErr, f.LMTPErr = copyMap(f.RcptErr), copyMap(f.LMTPErr)
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

func (s *Server) getFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// AuthAttempts returns how many AUTH exchanges reached the server.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// Transcript returns everything sent and received so far, all sessions
// interleaved (readable for commands; TLS sessions show cleartext).
func (s *Server) Transcript() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// DropConnections closes every open client connection without a word, as a
// server does with a session that has been idle too long.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the server and closes every connection. It is idempotent.
func (s *Server) Close() {
	s.srv.Close()
	s.DropConnections()
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
}

type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	l.s.accepted++
	l.s.conns[c] = struct{}{}
	l.s.mu.Unlock()
	return &trackedConn{Conn: c, s: l.s}, nil
}

type trackedConn struct {
	net.Conn
	s *Server
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c.Conn)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

type transcript struct{ s *Server }

func (t transcript) Write(p []byte) (int, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.log.Write(p)
}

func copyMap(m map[string]error) map[string]error {
	if m == nil {
		return nil
	}
	c := make(map[string]error, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
