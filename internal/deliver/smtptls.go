package deliver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// relayTLSConfig returns the TLS configuration for host: a clone of base with
// the server name set and TLS 1.2 as the floor, as the POP3 side does.
func relayTLSConfig(base *tls.Config, host string) (*tls.Config, error) {
	t := &tls.Config{}
	if base != nil {
		t = base.Clone()
	}
	// RFC 8314 §5.1 (and RFC 7817): the certificate is verified and must
	// match the host name. There is no switch to turn that off.
	if t.InsecureSkipVerify {
		return nil, errors.New("TLSConfig.InsecureSkipVerify is set; certificates are always verified (add the server's CA to RootCAs instead)")
	}
	if t.ServerName == "" {
		t.ServerName = host
	}
	// RFC 8996 deprecates TLS 1.0 and 1.1.
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	return t, nil
}

// errNoSTARTTLS is why a "starttls" target fails against a server that does
// not offer it. It is permanent: the configuration asks for TLS, and
// nothing (least of all a password) is sent without it.
var errNoSTARTTLS = errors.New("the server does not offer STARTTLS, which this target requires (RFC 3207)")

// startTLS runs the cleartext start of the session by hand: greeting, EHLO,
// STARTTLS, then the TLS handshake. It does this itself rather than through
// go-smtp (v0.25.1 has no public STARTTLS on an existing client, and its
// NewClientStartTLS says "EHLO localhost" and reports a missing STARTTLS as
// an untyped error). Nothing but EHLO and STARTTLS is sent in the clear.
func (m *SMTP) startTLS(ctx context.Context, raw net.Conn) (net.Conn, error) {
	raw.SetDeadline(time.Now().Add(m.timeout))
	tp := textproto.NewConn(raw)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, smtpCmdError(ctx, m.name, "greeting", err, false)
	}
	if err := tp.PrintfLine("EHLO %s", m.helo); err != nil {
		return nil, smtpConnError(ctx, m.name, "EHLO", err)
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		if e, ok := textprotoReply(err); ok && e.Code/100 == 5 {
			// No EHLO, no extensions: RFC 3207 needs EHLO.
			tp.PrintfLine("QUIT")
			return nil, Permanent(m.name, "STARTTLS", fmt.Errorf("%w: EHLO refused: %v", errNoSTARTTLS, smtpReply{e}))
		}
		return nil, smtpCmdError(ctx, m.name, "EHLO", err, false)
	}
	if !ehloOffers(msg, "STARTTLS") {
		tp.PrintfLine("QUIT")
		return nil, Permanent(m.name, "STARTTLS", errNoSTARTTLS)
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return nil, smtpConnError(ctx, m.name, "STARTTLS", err)
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, smtpCmdError(ctx, m.name, "STARTTLS", err, false)
	}
	// CVE-2011-0411: bytes that followed the 220 in the clear would be read
	// as if they had come over TLS. No honest server sends them: the next
	// thing on the wire must be the TLS handshake.
	if n := tp.R.Buffered(); n > 0 {
		return nil, Temporary(m.name, "STARTTLS", fmt.Errorf("%d octets after the 220 reply in the clear: possible command injection", n))
	}
	tc := tls.Client(raw, m.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, smtpConnError(ctx, m.name, "TLS handshake", err)
	}
	raw.SetDeadline(time.Time{})
	return &greetedConn{Conn: tc, greeting: []byte("220 STARTTLS done\r\n")}, nil
}

// ehloOffers reports whether an EHLO reply (textproto's joined lines, the
// greeting first) lists the extension ext.
func ehloOffers(msg, ext string) bool {
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], ext) {
			return true
		}
	}
	return false
}

// greetedConn hands go-smtp's client, which always starts by reading a 220
// greeting, the one it would have read had it opened the session itself. We
// read the real greeting before STARTTLS; RFC 3207 §4.2 has the client start
// again with EHLO, which go-smtp then sends over TLS.
type greetedConn struct {
	net.Conn
	greeting []byte
}

func (g *greetedConn) Read(p []byte) (int, error) {
	if len(g.greeting) > 0 {
		n := copy(p, g.greeting)
		g.greeting = g.greeting[n:]
		return n, nil
	}
	return g.Conn.Read(p)
}
