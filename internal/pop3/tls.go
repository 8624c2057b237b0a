package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// tlsConfig returns the TLS configuration to use: a clone of
// cfg.TLSConfig with the server name set, TLS 1.2 as the floor and, when
// cfg pins the server's certificate, the pin check in place of the chain
// check.
func (cfg *Config) tlsConfig() (*tls.Config, error) {
	t := &tls.Config{}
	if cfg.TLSConfig != nil {
		t = cfg.TLSConfig.Clone()
	}
	// RFC 8314 §5.1, RFC 2595 §2.4: the server certificate is verified
	// and must match the host name. There is no switch to turn it off.
	if t.InsecureSkipVerify {
		return nil, fmt.Errorf("%w: TLSConfig.InsecureSkipVerify is set; certificates are always verified (add the server's CA to RootCAs instead)", ErrInsecure)
	}
	if t.ServerName == "" {
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", cfg.Addr, err)
		}
		t.ServerName = host
	}
	// RFC 8996 deprecates TLS 1.0 and 1.1.
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	if cfg.pinned() {
		pinTo(t, cfg.CertFingerprints, cfg.SPKIPins)
	}
	return t, nil
}

// handshake starts TLS on the connection. From here on the reader and writer
// go through TLS, with a fresh read buffer: nothing read before the
// handshake can be mistaken for a reply that came over TLS.
func (c *Client) handshake(ctx context.Context, tcfg *tls.Config) error {
	tc := tls.Client(c.dc, tcfg)
	// Each read has its deadline, but a server that trickles a record
	// keeps renewing it: the handshake as a whole gets one timeout.
	hctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		err = explainHandshake(err, tcfg)
		if ctx.Err() == nil && hctx.Err() != nil {
			err = fmt.Errorf("not done within %v: %w", c.cfg.Timeout, err)
		}
		return c.fail(fmt.Errorf("tls handshake: %w", err))
	}
	c.tls = tc
	c.br = bufio.NewReaderSize(tc, maxReplyLine)
	c.bw.Reset(tc)
	return nil
}

// startTLS upgrades the connection with STLS (RFC 2595 §4), which is
// mandatory in TLSStartTLS mode: when the server cannot, no credential is
// ever sent.
func (c *Client) startTLS(ctx context.Context, tcfg *tls.Config) error {
	// RFC 2595 §4: a server that supports STLS lists it in CAPA.
	// QUIRK: when CAPA itself failed we try STLS anyway; the -ERR aborts.
	if c.caps != nil && !c.caps.Has("STLS") {
		c.abort()
		return fmt.Errorf("stls: %w: not listed in CAPA", ErrSTLSUnavailable)
	}
	if _, err := c.roundTrip(command{verb: "STLS"}); err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			c.abort()
			return fmt.Errorf("stls: %w: %w", ErrSTLSUnavailable, err)
		}
		return fmt.Errorf("stls: %w", err)
	}
	// CVE-2011-0411: bytes that followed the +OK in the clear would be read
	// as if they had come over TLS. No honest server sends them: the next
	// thing on the wire must be the TLS handshake.
	if n := c.br.Buffered(); n > 0 {
		return c.fail(fmt.Errorf("stls: %w: %d octets after +OK", ErrInjection, n))
	}
	if err := c.handshake(ctx, tcfg); err != nil {
		return fmt.Errorf("stls: %w", err)
	}
	// RFC 2595 §4: the client MUST discard what it learnt before TLS and
	// ask again.
	c.caps = nil
	return c.capa()
}

// abort says QUIT, as a courtesy, and closes the connection. It is used when
// Dial gives up on a server that behaves but cannot do what we need.
func (c *Client) abort() {
	_, _ = c.roundTrip(command{verb: "QUIT"})
	c.Close()
}
