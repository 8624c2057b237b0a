package deliver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// SMTPConfig configures an SMTP relay target (RFC 5321).
type SMTPConfig struct {
	Addr      string      // host:port
	TLS       string      // "implicit" (RFC 8314), "starttls" (RFC 3207, required), "none"; "" = "starttls"
	TLSConfig *tls.Config // optional base (RootCAs for tests); ServerName = host, TLS 1.2 floor, always verified
	// User turns on AUTH (PLAIN, or LOGIN when only that is offered). It is
	// refused without TLS unless the host is loopback.
	User     string
	Password func(ctx context.Context) (string, error) // asked at each connect; required with User
	Timeout  time.Duration                             // per command and reply; 0 → 60s, and 5m for the reply to the final dot
	Helo     string                                    // our name for EHLO; "" → os.Hostname()
}

// SMTP relays messages to an SMTP server: a smarthost, or the local MTA.
//
// Stage runs the whole transaction (MAIL, RCPT, DATA): the server's 250 to
// the final dot is the commit point, so Commit and Abort do nothing. One
// session is kept open across Stage calls, RSET after a failed transaction,
// reconnected when the server closed it in between, and ended by Close with
// QUIT. An SMTP is safe for concurrent use; transactions are serialised.
//
// Errors are *Error (or *RecipientsError when some recipients refused at
// RCPT and the rest got the message): a 4xx reply is temporary and a 5xx
// permanent, except a 552 to RCPT (RFC 5321 §4.5.3.1.10) and an X.2.2
// enhanced code (mailbox full, RFC 3463), which are temporary. Connection
// failures and timeouts are temporary, including a reply lost after the
// final dot; a server certificate that does not verify is permanent.
type SMTP struct {
	relay
	cfg  SMTPConfig
	host string
	tls  *tls.Config
}

var _ Deliverer = (*SMTP)(nil)

// NewSMTP checks cfg and returns an SMTP target. It does not connect: the
// first Stage does.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	m := &SMTP{cfg: cfg}
	m.name = "smtp " + cfg.Addr
	m.dial = m.connect
	m.timeout, m.dataTimeout = cfg.Timeout, cfg.Timeout
	if cfg.Timeout <= 0 {
		m.timeout, m.dataTimeout = 60*time.Second, 5*time.Minute // RFC 5321 §4.5.3.2
	}
	var err error
	if m.host, err = relayHost(cfg.Addr); err != nil {
		return nil, Permanent(m.name, "config", err)
	}
	if m.helo, err = relayHelo(cfg.Helo); err != nil {
		return nil, Permanent(m.name, "config", err)
	}
	switch cfg.TLS {
	case "":
		m.cfg.TLS = "starttls"
	case "implicit", "starttls", "none":
	default:
		return nil, Permanent(m.name, "config", fmt.Errorf("tls %q: want implicit, starttls or none", cfg.TLS))
	}
	if m.tls, err = relayTLSConfig(cfg.TLSConfig, m.host); err != nil {
		return nil, Permanent(m.name, "config", err)
	}
	if cfg.User != "" {
		if cfg.Password == nil {
			return nil, Permanent(m.name, "config", errors.New("user set without a password"))
		}
		if m.cfg.TLS == "none" && !relayLoopback(m.host) {
			return nil, Permanent(m.name, "config", errAuthWithoutTLS)
		}
	}
	return m, nil
}

var errAuthWithoutTLS = errors.New("AUTH refused: credentials are never sent without TLS to a host that is not loopback (use tls = \"starttls\" or \"implicit\")")

// String returns "smtp host:port".
func (m *SMTP) String() string { return m.name }

// Stage relays the message: MAIL FROM:<env.From> (<> when empty), RCPT TO
// each of env.Recipients, DATA with the Received trace field and the body.
// It returns a Staged only when every recipient accepted the message.
func (m *SMTP) Stage(ctx context.Context, env *Envelope, body io.Reader) (Staged, error) {
	return m.stage(ctx, env, body)
}

// Close ends the session with QUIT. The SMTP stays usable: the next Stage
// connects again.
func (m *SMTP) Close() error { return m.close() }

// connect dials, secures the connection as configured, greets and
// authenticates.
func (m *SMTP) connect(ctx context.Context) (*relaySession, error) {
	d := net.Dialer{Timeout: m.timeout}
	raw, err := d.DialContext(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return nil, smtpConnError(ctx, m.name, "connect", err)
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	s, err := m.handshake(ctx, raw)
	if !stop() && err == nil {
		s.c.Close()
		s, err = nil, Temporary(m.name, "connect", ctx.Err())
	}
	if err != nil {
		raw.Close()
		return nil, err
	}
	return s, nil
}

func (m *SMTP) handshake(ctx context.Context, raw net.Conn) (*relaySession, error) {
	var conn net.Conn = raw
	switch m.cfg.TLS {
	case "implicit":
		raw.SetDeadline(time.Now().Add(m.timeout))
		tc := tls.Client(raw, m.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, smtpConnError(ctx, m.name, "TLS handshake", err)
		}
		raw.SetDeadline(time.Time{})
		conn = tc
	case "starttls":
		var err error
		if conn, err = m.startTLS(ctx, raw); err != nil {
			return nil, err
		}
	}
	s, err := m.greet(ctx, raw, conn)
	if err != nil {
		return nil, err
	}
	if m.cfg.User != "" {
		if err := m.auth(ctx, s, conn != raw); err != nil {
			s.c.Close()
			return nil, err
		}
	}
	return s, nil
}

// auth logs in with AUTH PLAIN (RFC 4616), or LOGIN when only that is
// offered.
func (m *SMTP) auth(ctx context.Context, s *relaySession, secure bool) error {
	// RFC 4954 §4: no credentials in the clear. NewSMTP refused the
	// configuration already; this guards the connection actually made.
	if !secure && !relayLoopback(m.host) {
		return Permanent(m.name, "AUTH", errAuthWithoutTLS)
	}
	var mech func(pass string) sasl.Client
	switch {
	case s.c.SupportsAuth("PLAIN"):
		mech = func(pass string) sasl.Client { return sasl.NewPlainClient("", m.cfg.User, pass) }
	case s.c.SupportsAuth("LOGIN"):
		mech = func(pass string) sasl.Client { return sasl.NewLoginClient(m.cfg.User, pass) }
	default:
		return Permanent(m.name, "AUTH", errors.New("the server offers neither AUTH PLAIN nor AUTH LOGIN"))
	}
	pass, err := m.cfg.Password(ctx)
	if err != nil {
		return Temporary(m.name, "AUTH: password", err)
	}
	if err := s.c.Auth(mech(pass)); err != nil {
		return smtpCmdError(ctx, m.name, "AUTH", err, false)
	}
	return nil
}

// relayHost returns the host of a host:port address.
func relayHost(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("address %q: want host:port", addr)
	}
	return host, nil
}

// relayHelo returns the name to give in EHLO/LHLO.
func relayHelo(helo string) (string, error) {
	if helo == "" {
		return hostname(), nil
	}
	if strings.ContainsFunc(helo, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		return "", fmt.Errorf("helo %q: spaces and control characters are not allowed", helo)
	}
	return helo, nil
}

// relayLoopback reports whether host is "localhost" or a loopback address.
func relayLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
