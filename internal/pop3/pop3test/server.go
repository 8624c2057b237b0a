// Package pop3test provides an in-process POP3 server for tests, with fault
// injection, in the spirit of net/http/httptest.
//
// The server follows RFC 1939 (AUTHORIZATION, TRANSACTION and UPDATE states;
// USER/PASS, APOP, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT, with
// deletions committed only by QUIT), RFC 2449 (CAPA, response codes,
// PIPELINING), RFC 3206 (the AUTH and SYS response codes), RFC 2595 (STLS) and
// RFC 5034 (AUTH, with the SASL mechanisms PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1,
// SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER named in Server.SASL), and also
// serves implicit TLS. Only one session at a time holds the mailbox lock, as
// real servers do (with AnyUser, one per user name). A Faults value scripts
// misbehaviour: dropped connections, stalls, truncated bodies, raw replies,
// STLS stripping, response injection and hostile SASL exchanges.
//
// For tests of a daemon polling many accounts at once, a server can listen on
// another loopback address (Host), accept any user name (AnyUser), answer
// logins slowly (LoginPause), send bodies slowly (BodyRate), and count
// sessions and logins (ActiveSessions, PeakSessions, Logins).
//
// Set the Server's fields between NewServer and Start; after Start use
// SetFaults, SetPassword, SetBodyRate and AddMessages, which are safe for
// concurrent use:
//
//	srv := pop3test.NewServer(t)
//	srv.Messages = []pop3test.Message{{Body: []byte("Subject: hi\r\n\r\nhello\r\n")}}
//	srv.Faults = pop3test.Faults{DropAt: "QUIT", Sessions: 1}
//	addr := srv.Start()
//	// dial addr; for TLS use srv.ClientTLSConfig()
package pop3test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// Message is one message in the mailbox.
type Message struct {
	// UID is the UIDL value. "" becomes "uid-<n>", n counting every message
	// given to the server from 1 (Messages first, then AddMessages). It is
	// not validated, so tests can serve malformed UIDs.
	UID string
	// Body is the message as the server holds it, in wire form (CRLF line
	// ends). RETR serves it byte-exact except that lines starting with "."
	// are dot-stuffed (a line starts at the start of Body or after CRLF, not
	// after a bare LF) and CRLF is appended if a non-empty Body does not end
	// with CRLF. An empty Body is served as just ".\r\n". Its size in STAT
	// and LIST is len(Body).
	Body []byte
}

// Mode is how a connection starts.
type Mode int

const (
	// Plain starts in cleartext (port 110 style); STLS is possible.
	Plain Mode = iota
	// ImplicitTLS starts with a TLS handshake (port 995 style, RFC 8314).
	ImplicitTLS
)

// MaxCommandLine is the longest command line accepted, in octets including
// CRLF. RFC 2449 §4 allows 255; like many servers we are more generous.
const MaxCommandLine = 512

const (
	writeTimeout     = 10 * time.Second // per reply: a test never hangs on a write
	handshakeTimeout = 10 * time.Second
	idleTimeout      = 10 * time.Minute // RFC 1939 §3: autologout timer of at least 10 minutes
)

// CertOptions shape the fake server's certificate for TLS tests. The zero
// value is a valid certificate for CertHosts signed by the server's own CA
// (ClientTLSConfig and CertPool trust it).
type CertOptions struct {
	Expired    bool // NotAfter in the past
	SelfSigned bool // signed by itself, not by the CA that CertPool holds
}

// Server is a fake POP3 server. Create it with NewServer.
type Server struct {
	User, Password string    // credentials; default "user", "pass"
	Messages       []Message // initial mailbox
	Mode           Mode
	OfferSTLS      bool // CAPA lists STLS and STLS works (Plain mode only)
	NoCAPA         bool // CAPA → -ERR
	NoUIDL         bool // UIDL → -ERR, and not in CAPA
	APOP           bool // greeting carries a <timestamp>; APOP accepted
	Pipelining     bool // CAPA lists PIPELINING
	// ExtraCaps are more CAPA lines, e.g. "EXPIRE 0"; the server does not
	// act on them.
	ExtraCaps          []string
	RequireTLSForLogin bool // USER/PASS/APOP → -ERR [AUTH] without TLS; CAPA omits USER
	// CertHosts are the SANs of the certificate; default {"localhost",
	// "127.0.0.1"}, plus Host if Host is set and CertHosts left at the default.
	CertHosts []string
	Faults    Faults // installed by Start; later use SetFaults

	// Host is the IP address to listen on; "" means 127.0.0.1. Other
	// loopback addresses (127.0.0.2, ...) let a test run several servers
	// that a client tells apart by host.
	Host string
	// AnyUser accepts any user name with Password. Every user sees the same
	// mailbox, but the mailbox lock is per user name: sessions of different
	// users run side by side, and only a second session of the same user
	// gets IN-USE. DELE still works: QUIT removes the messages from the
	// shared mailbox.
	AnyUser bool
	// LoginPause delays the answer to a correct PASS or APOP, so that
	// sessions overlap. Close, or the client hanging up, ends the pause and
	// the session.
	LoginPause time.Duration
	// BodyRate, if > 0, paces RETR bodies (terminator included, status line
	// not) to about this many bytes per second, in writes of at most 32 KiB.
	// The body faults apply to the paced body as to any other. After Start
	// use SetBodyRate.
	BodyRate int64

	// SASL lists the RFC 5034 mechanisms CAPA announces ("SASL PLAIN
	// SCRAM-SHA-256 ...") and AUTH accepts, among PLAIN, LOGIN, CRAM-MD5,
	// SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2 and OAUTHBEARER. Password
	// mechanisms check User and Password; the OAuth ones check ValidToken.
	SASL []string
	// ValidToken judges an OAuth2 bearer token (XOAUTH2, OAUTHBEARER);
	// nil accepts exactly Password as the token.
	ValidToken func(user, token string) bool

	// TLS test options (the TLS matrix): TLSMaxVersion caps the version
	// the server speaks (tls.VersionTLS11 makes a server fetchd must
	// refuse); CertOptions shape the certificate it presents.
	TLSMaxVersion uint16
	CertOptions   CertOptions

	tb   testing.TB
	cfg  settings // snapshot taken by Start, read-only afterwards
	wg   sync.WaitGroup
	done chan struct{} // closed by Close: ends pauses

	mu         sync.Mutex
	cert       *serverCert
	ln         net.Listener
	addr       string
	closed     bool
	conns      map[net.Conn]struct{}
	mailbox    []*message // committed state
	uidSeq     int
	faults     Faults
	faultsFrom int // sessions count when faults were installed
	commands   []string
	sessions   int
	retrieved  map[string]int
	lockHolder int            // session id holding the mailbox lock; 0 = none
	userLocks  map[string]int // with AnyUser: user name → session id holding its lock
	password   string         // Password as of Start or the last SetPassword
	bodyRate   int64          // BodyRate as of Start or the last SetBodyRate
	peak       int            // highest len(conns) since Start
	inTxn      int            // sessions logged in now
	peakTxn    int            // highest inTxn since Start
	logins     map[string]int // successful logins per user name
}

// settings is the configuration a session reads, copied at Start so that
// sessions never read fields a test may still be writing.
type settings struct {
	user                            string // the password is read under mu
	mode                            Mode
	offerSTLS, noCAPA, noUIDL, apop bool
	pipelining, requireTLSForLogin  bool
	extraCaps                       []string
	anyUser                         bool
	loginPause                      time.Duration
	sasl                            []string // upper-cased
	validToken                      func(user, token string) bool
}

// message is a mailbox entry; sessions refer to it by pointer.
type message struct {
	uid  string
	body []byte
}

// NewServer returns a server that is configured but not yet listening.
// tb.Cleanup closes it.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		User:      "user",
		Password:  "pass",
		CertHosts: slices.Clone(defaultCertHosts),
		tb:        tb,
		done:      make(chan struct{}),
		conns:     make(map[net.Conn]struct{}),
		retrieved: make(map[string]int),
		userLocks: make(map[string]int),
		logins:    make(map[string]int),
	}
	tb.Cleanup(s.Close)
	return s
}

var defaultCertHosts = []string{"localhost", "127.0.0.1"}

// Start listens on Host port 0 (Host "" is 127.0.0.1) and serves, returning
// "host:port". Calling it again returns the same address.
func (s *Server) Start() string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.addr
	}
	if s.closed {
		s.tb.Fatal("pop3test: Start after Close")
	}
	if err := s.ensureCertLocked(); err != nil {
		s.tb.Fatalf("pop3test: %v", err)
	}
	s.cert.maxVersion = s.TLSMaxVersion
	host := s.Host
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		s.tb.Fatalf("pop3test: listen: %v", err)
	}
	s.cfg = settings{
		user: s.User, mode: s.Mode,
		offerSTLS: s.OfferSTLS, noCAPA: s.NoCAPA, noUIDL: s.NoUIDL, apop: s.APOP,
		pipelining: s.Pipelining, requireTLSForLogin: s.RequireTLSForLogin,
		anyUser: s.AnyUser, loginPause: s.LoginPause,
		sasl: upperAll(s.SASL), validToken: s.ValidToken,
		extraCaps: append([]string(nil), s.ExtraCaps...),
	}
	s.password, s.bodyRate = s.Password, s.BodyRate
	s.appendLocked(s.Messages)
	s.faults, s.faultsFrom = s.Faults.clone(), 0
	s.ln, s.addr = ln, ln.Addr().String()
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return s.addr
}

// Addr returns the listening address, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops the listener, closes every session (ending stalls and pauses,
// rolling back uncommitted deletions) and waits for all goroutines. It is
// idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		close(s.done)
	}
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// ClientTLSConfig returns a client configuration trusting the server's
// certificate, with ServerName "localhost".
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CertPool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// CertPool returns a pool holding the CA of the server's certificate,
// generating both (from CertHosts, Host and CertOptions) if Start has not
// yet done so.
func (s *Server) CertPool() *x509.CertPool {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureCertLocked(); err != nil {
		s.tb.Fatalf("pop3test: %v", err)
	}
	return s.cert.pool
}

func (s *Server) ensureCertLocked() error {
	if s.cert != nil {
		return nil
	}
	hosts := s.CertHosts
	if s.Host != "" && slices.Equal(hosts, defaultCertHosts) && !slices.Contains(hosts, s.Host) {
		hosts = append(slices.Clone(hosts), s.Host)
	}
	c, err := newServerCert(hosts, s.CertOptions)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	s.cert = c
	return nil
}

// Mailbox returns the committed mailbox: the messages remaining on the
// server, UIDs filled in. Deletions pending in a session are not reflected.
func (s *Server) Mailbox() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	box := s.mailbox
	if s.ln == nil { // before Start: what Start will serve
		box = nil
		for i, m := range s.Messages {
			box = append(box, &message{uid: defaultUID(m.UID, s.uidSeq+i+1), body: m.Body})
		}
	}
	out := make([]Message, len(box))
	for i, m := range box {
		out[i] = Message{UID: m.uid, Body: slices.Clone(m.body)}
	}
	return out
}

func defaultUID(uid string, n int) string {
	if uid == "" {
		return fmt.Sprintf("uid-%d", n)
	}
	return uid
}

// Commands returns every command line received, from all sessions in order,
// exactly as sent without the line end (over-long lines are truncated).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// Sessions returns the number of connections accepted so far.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Retrieved returns, per UID, how many times a RETR body was sent in full
// (terminator included). TOP does not count.
func (s *Server) Retrieved() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.retrieved)
}

// AddMessages appends messages to the mailbox. A session that already holds
// the mailbox lock does not see them; the next one does.
func (s *Server) AddMessages(ms ...Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		s.Messages = append(s.Messages, ms...)
		return
	}
	s.appendLocked(ms)
}

func (s *Server) appendLocked(ms []Message) {
	for _, m := range ms {
		s.uidSeq++
		s.mailbox = append(s.mailbox, &message{uid: defaultUID(m.UID, s.uidSeq), body: slices.Clone(m.Body)})
	}
}

// SetFaults replaces the faults for sessions accepted from now on; sessions
// already running keep theirs. Faults.Sessions counts from this call.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Faults = f
	s.faults, s.faultsFrom = f.clone(), s.sessions
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: retry
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.sessions++
		id := s.sessions
		var f Faults
		if s.faults.Sessions <= 0 || id-s.faultsFrom <= s.faults.Sessions {
			f = s.faults
		}
		s.conns[c] = struct{}{}
		s.peak = max(s.peak, len(s.conns))
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c, id, f)
	}
}

func (s *Server) record(line string) {
	s.mu.Lock()
	s.commands = append(s.commands, line)
	s.mu.Unlock()
}
