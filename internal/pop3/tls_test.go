package pop3

import (
	"context"
	"crypto/tls"
	"slices"
	"testing"
	"time"
)

func stlsConfig() Config {
	return Config{Addr: "localhost:110", TLS: TLSStartTLS, TLSConfig: clientTLSConfig(), Timeout: 2 * time.Second}
}

var stlsHello = []string{
	"S: +OK POP3 ready",
	"C: CAPA",
	"S: +OK",
	"S: STLS",
	"S: USER",
	"S: .",
}

func TestConversation_TLS(t *testing.T) {
	tests := []convTest{
		{
			name: "STLS", cfg: stlsConfig(),
			script: script(stlsHello, []string{
				"C: STLS", "S: +OK begin TLS", "TLS",
				"C: CAPA", "S: +OK", "S: USER", "S: SASL PLAIN", "S: UIDL", "S: .",
			}, loginOK),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				st, ok := c.TLSState()
				if !ok || st.Version < tls.VersionTLS12 {
					t.Errorf("got TLS state %v version %x, want TLS ≥ 1.2", ok, st.Version)
				}
				caps := c.Capabilities()
				if caps.Has("STLS") || !caps.Has("sasl") || !slices.Equal(caps["SASL"], []string{"PLAIN"}) {
					t.Errorf("got capabilities %v, want those read over TLS", caps)
				}
				return login(ctx, c) // AllowInsecure is false: TLS makes it fine
			},
		},
		{
			name: "STLSMissing", cfg: stlsConfig(),
			script: []string{"S: +OK POP3 ready", "C: CAPA", "S: +OK", "S: USER", "S: .", "C: QUIT", "S: +OK"},
			wantIs: ErrSTLSUnavailable,
		},
		{
			name: "STLSErr", cfg: stlsConfig(),
			script: script(stlsHello, []string{"C: STLS", "S: -ERR [SYS/TEMP] TLS not available", "C: QUIT", "S: +OK"}),
			wantIs: ErrSTLSUnavailable, wantCode: "SYS/TEMP", wantCmd: "STLS",
		},
		{
			name: "STLSErrNoCapa", cfg: stlsConfig(),
			script: []string{"S: +OK POP3 ready", "C: CAPA", "S: -ERR", "C: STLS", "S: -ERR no", "C: QUIT", "S: +OK"},
			wantIs: ErrSTLSUnavailable, wantCmd: "STLS",
		},
		{
			// CVE-2011-0411: the fake +OK must not be read as a reply over
			// TLS, and no credential may follow.
			name: "STLSInjection", cfg: stlsConfig(),
			script: script(stlsHello, []string{"C: STLS", "R: +OK begin TLS\r\n+OK injected\r\n"}),
			run:    loginRun,
			wantIs: ErrInjection,
		},
		{
			name: "Implicit", cfg: Config{Addr: "localhost:995", TLSConfig: clientTLSConfig(), Timeout: 2 * time.Second},
			script: script([]string{"TLS"}, hello, loginOK, []string{"C: QUIT", "S: +OK"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if _, ok := c.TLSState(); !ok {
					t.Errorf("got no TLS state")
				}
				if err := login(ctx, c); err != nil {
					return err
				}
				return c.Quit(ctx)
			},
		},
		{
			name: "ImplicitIP", cfg: Config{Addr: "127.0.0.1:995", TLSConfig: clientTLSConfig(), Timeout: 2 * time.Second},
			script: script([]string{"TLS"}, hello),
		},
		{
			name: "ImplicitWrongHost", cfg: Config{Addr: "mail.example.org:995", TLSConfig: clientTLSConfig(), Timeout: 2 * time.Second},
			script: []string{"TLS?"},
			run:    loginRun,
			wantIs: errAny, // a *tls.CertificateVerificationError, checked below
		},
		{
			name: "ImplicitUnknownCA", cfg: Config{Addr: "localhost:995", Timeout: 2 * time.Second},
			script: []string{"TLS?"},
			run:    loginRun,
			wantIs: errAny,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}

func TestDial_CertificateErrorIsPermanent(t *testing.T) {
	for _, addr := range []string{"mail.example.org:995", "localhost:995"} {
		srv, conn := startServer(t, []string{"TLS?"})
		cfg := Config{Addr: addr, TLSConfig: clientTLSConfig(), Timeout: 2 * time.Second, DialContext: pipeDialer(conn)}
		if addr == "localhost:995" {
			cfg.TLSConfig = nil // system roots: the test CA is unknown
		}
		c, err := Dial(context.Background(), cfg)
		if c != nil {
			c.Close()
		}
		conn.Close()
		srv.finish(t)
		if err == nil || !isCertError(err) {
			t.Errorf("%s: got %v, want a certificate verification error", addr, err)
		}
		if IsTemporary(err) {
			t.Errorf("%s: IsTemporary(%q) = true, want false", addr, err)
		}
		if got := srv.received(); len(got) != 0 {
			t.Errorf("%s: server received %q, want nothing", addr, got)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	base := &tls.Config{MinVersion: tls.VersionTLS10}
	cfg := Config{Addr: "[::1]:995", TLSConfig: base}
	got, err := cfg.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got.ServerName != "::1" || got.MinVersion != tls.VersionTLS12 {
		t.Errorf("got ServerName %q MinVersion %x, want %q %x", got.ServerName, got.MinVersion, "::1", tls.VersionTLS12)
	}
	if base.MinVersion != tls.VersionTLS10 || base.ServerName != "" {
		t.Errorf("base config was modified")
	}
}
