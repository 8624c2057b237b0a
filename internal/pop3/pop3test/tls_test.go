package pop3test

import (
	"bufio"
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTLS_Implicit(t *testing.T) {
	s := NewServer(t)
	s.Mode = ImplicitTLS
	s.OfferSTLS = true // meaningless under implicit TLS: not listed
	s.RequireTLSForLogin = true
	s.Messages = msgs("m1\r\n")
	addr := s.Start()

	c := dialTLS(t, addr, s.ClientTLSConfig())
	if g := c.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	c.ok("CAPA")
	if caps := c.multi(); slices.Contains(caps, "STLS") || !slices.Contains(caps, "USER") {
		t.Errorf("CAPA under TLS: got %q, want USER and no STLS", caps)
	}
	c.errReply("STLS", "-ERR")
	c.ok("USER user")
	c.ok("PASS pass")
	c.ok("RETR 1")
	if got, want := c.multiRaw(), "m1\r\n.\r\n"; got != want {
		t.Errorf("RETR: got %q, want %q", got, want)
	}
	c.ok("QUIT")

	// The certificate carries the SANs clients verify.
	cfg := s.ClientTLSConfig()
	cfg.ServerName = "127.0.0.1"
	dialTLS(t, addr, cfg).line()
	cfg = s.ClientTLSConfig()
	cfg.ServerName = "mail.example.org"
	if _, err := tls.Dial("tcp", addr, cfg); err == nil {
		t.Error("handshake for a name not in CertHosts succeeded")
	}
}

// starttls issues STLS on c and switches c to TLS.
func starttls(t *testing.T, c *client, cfg *tls.Config) {
	t.Helper()
	c.ok("STLS")
	if n := c.r.Buffered(); n != 0 {
		t.Fatalf("%d bytes after STLS +OK", n)
	}
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(clientTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

func TestTLS_STLS(t *testing.T) {
	s := NewServer(t)
	s.OfferSTLS = true
	s.RequireTLSForLogin = true
	s.APOP = true
	s.Messages = msgs("m1\r\n")
	c := greeted(t, s.Start())

	c.ok("CAPA")
	caps := c.multi()
	if !slices.Contains(caps, "STLS") || slices.Contains(caps, "USER") {
		t.Errorf("CAPA before STLS: got %q, want STLS and no USER", caps)
	}
	c.errReply("USER user", "-ERR [AUTH]")
	c.errReply("APOP user 00000000000000000000000000000000", "-ERR [AUTH]")
	starttls(t, c, s.ClientTLSConfig())

	c.ok("CAPA")
	caps = c.multi()
	if slices.Contains(caps, "STLS") || !slices.Contains(caps, "USER") {
		t.Errorf("CAPA after STLS: got %q, want USER and no STLS", caps)
	}
	c.errReply("STLS", "-ERR") // RFC 2595 §4: once only
	c.ok("USER user")
	c.ok("PASS pass")
	c.ok("STAT")
	c.ok("QUIT")
}

func TestTLS_STLSFaults(t *testing.T) {
	t.Run("STLSInject", func(t *testing.T) {
		s := NewServer(t)
		s.OfferSTLS = true
		s.Faults = Faults{STLSInject: "+OK injected\r\n"}
		c := greeted(t, s.Start())
		c.ok("STLS")
		if got, want := c.line(), "+OK injected"; got != want {
			t.Errorf("after STLS +OK: got %q, want %q", got, want)
		}
	})
	t.Run("StripSTLS", func(t *testing.T) {
		s := NewServer(t)
		s.OfferSTLS = true
		s.Faults = Faults{StripSTLS: true}
		c := greeted(t, s.Start())
		c.ok("CAPA")
		if caps := c.multi(); slices.Contains(caps, "STLS") {
			t.Errorf("CAPA: got %q, want no STLS", caps)
		}
		c.errReply("STLS", "-ERR")
		c.ok("USER user") // still in step, in cleartext
	})
	t.Run("STLSRefuse", func(t *testing.T) {
		s := NewServer(t)
		s.OfferSTLS = true
		s.Faults = Faults{STLSRefuse: true}
		c := greeted(t, s.Start())
		c.ok("CAPA")
		if caps := c.multi(); !slices.Contains(caps, "STLS") {
			t.Errorf("CAPA: got %q, want STLS listed", caps)
		}
		c.errReply("STLS", "-ERR [SYS/TEMP]")
	})
	t.Run("not offered", func(t *testing.T) {
		c := greeted(t, NewServer(t).Start())
		c.errReply("STLS", "-ERR")
	})
	t.Run("plaintext injected after STLS is discarded", func(t *testing.T) {
		s := NewServer(t)
		s.OfferSTLS = true
		c := greeted(t, s.Start())
		c.send("STLS\r\nUSER evil") // one write: both lines reach the server together
		if got := c.line(); !strings.HasPrefix(got, "+OK") {
			t.Fatalf("STLS: got %q", got)
		}
		tc := tls.Client(c.conn, s.ClientTLSConfig())
		tc.SetDeadline(time.Now().Add(clientTimeout))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		c.conn, c.r = tc, bufio.NewReader(tc)
		c.errReply("PASS pass", "-ERR USER first")
	})
}
