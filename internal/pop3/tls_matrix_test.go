package pop3

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"fetchd/internal/pop3/pop3test"
)

// The TLS matrix (issue 6): against the fake server, every way a connection
// can fall short of TLS with a verified certificate is refused by Dial or
// Login with an error naming the cause, and the server never sees a
// credential.

// matrixServer starts a fake server speaking implicit TLS, or plaintext
// offering STLS, shaped by setup.
func matrixServer(t *testing.T, mode TLSMode, setup func(*pop3test.Server)) *pop3test.Server {
	t.Helper()
	s := pop3test.NewServer(t)
	s.Messages = []pop3test.Message{{Body: []byte("Subject: hi\r\n\r\nhello\r\n")}}
	switch mode {
	case TLSImplicit:
		s.Mode = pop3test.ImplicitTLS
	case TLSStartTLS:
		s.OfferSTLS = true
	}
	if setup != nil {
		setup(s)
	}
	s.Start()
	return s
}

// matrixConfig is a client configuration for s that trusts s's CA.
func matrixConfig(s *pop3test.Server, mode TLSMode) Config {
	return Config{Addr: s.Addr(), TLS: mode, TLSConfig: s.ClientTLSConfig(), Timeout: 5 * time.Second}
}

// dialAndLogin dials and logs in with the server's credentials, then
// closes the server so that every line it received is recorded.
func dialAndLogin(t *testing.T, s *pop3test.Server, cfg Config) error {
	t.Helper()
	ctx := context.Background()
	c, err := Dial(ctx, cfg)
	if err == nil {
		err = c.Login(ctx, s.User, s.Password, AuthUser)
		if err == nil {
			_, _, err = c.Stat(ctx)
		}
		if err == nil {
			err = c.Quit(ctx)
		}
		c.Close()
	}
	s.Close()
	return err
}

// assertNoCredentials fails when the server received a login command or
// the password in any line.
func assertNoCredentials(t *testing.T, s *pop3test.Server) {
	t.Helper()
	for _, line := range s.Commands() {
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		if verb == "USER" || verb == "PASS" || verb == "APOP" || verb == "AUTH" || strings.Contains(line, s.Password) {
			t.Errorf("server received %q: a credential went on the wire (all: %q)", line, s.Commands())
		}
	}
}

var certErr = errors.New("a certificate verification error") // matched by isCertError

func TestTLSMatrix_RefusedWithoutCredentials(t *testing.T) {
	untrusted := func(t *testing.T, s *pop3test.Server, cfg *Config) {
		// A client that trusts another CA, not the fake server's.
		cfg.TLSConfig.RootCAs = pop3test.NewServer(t).CertPool()
	}
	tests := []struct {
		name   string
		modes  []TLSMode // client modes the case applies to
		server func(*pop3test.Server)
		client func(*testing.T, *pop3test.Server, *Config)
		wantIs error  // certErr: isCertError
		want   string // regexp the error's text must match
	}{
		{
			name: "Expired", modes: []TLSMode{TLSImplicit, TLSStartTLS},
			server: func(s *pop3test.Server) { s.CertOptions.Expired = true },
			wantIs: certErr, want: `x509: certificate has expired or is not yet valid: current time \S+ is after \S+; the server's certificate .* has SHA-256 fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2} and SPKI pin \S{43}=`,
		},
		{
			name: "SelfSigned", modes: []TLSMode{TLSImplicit, TLSStartTLS},
			server: func(s *pop3test.Server) { s.CertOptions.SelfSigned = true },
			wantIs: certErr, want: `x509: certificate signed by unknown authority; the server's certificate \(subject "CN=fetchd pop3test server,O=fetchd pop3test", issuer "CN=fetchd pop3test server,O=fetchd pop3test"`,
		},
		{
			name: "WrongHostName", modes: []TLSMode{TLSImplicit, TLSStartTLS},
			server: func(s *pop3test.Server) { s.CertHosts = []string{"mail.example.org"} },
			wantIs: certErr, want: `x509: certificate is valid for mail.example.org, not localhost`,
		},
		{
			name: "UntrustedCA", modes: []TLSMode{TLSImplicit, TLSStartTLS},
			client: untrusted,
			wantIs: certErr, want: `x509: certificate signed by unknown authority.*issuer "CN=fetchd pop3test CA`,
		},
		{
			name: "TLS11Only", modes: []TLSMode{TLSImplicit, TLSStartTLS},
			server: func(s *pop3test.Server) { s.TLSMaxVersion = tls.VersionTLS11 },
			wantIs: ErrTLSVersion, want: `no TLS version in common with the server \(fetchd requires TLS 1.2 or later.*protocol version not supported`,
		},
		{
			name: "STLSStripped", modes: []TLSMode{TLSStartTLS},
			server: func(s *pop3test.Server) { s.Faults.StripSTLS = true },
			wantIs: ErrSTLSUnavailable, want: `stls: pop3: server does not offer STLS: not listed in CAPA`,
		},
		{
			name: "STLSErr", modes: []TLSMode{TLSStartTLS},
			server: func(s *pop3test.Server) { s.Faults.STLSRefuse = true },
			wantIs: ErrSTLSUnavailable, want: `server rejected STLS: -ERR \[SYS/TEMP\] TLS not available`,
		},
		{
			name: "STLSInjection", modes: []TLSMode{TLSStartTLS},
			server: func(s *pop3test.Server) { s.Faults.STLSInject = "+OK injected\r\n" },
			wantIs: ErrInjection, want: `data injected before TLS handshake: 14 octets after \+OK`,
		},
		{
			// A plaintext port with tls = "none" and no allow_insecure.
			name: "PlaintextWithoutAllowInsecure", modes: []TLSMode{TLSNone},
			wantIs: ErrInsecure, want: `login: pop3: refusing to send credentials without TLS`,
		},
		{
			// A plaintext port dialled for implicit TLS.
			name: "PlaintextPortAsImplicit", modes: []TLSMode{TLSImplicit},
			server: func(s *pop3test.Server) { s.Mode = pop3test.Plain },
			wantIs: certErr, want: `tls: first record does not look like a TLS handshake`,
		},
	}
	for _, tc := range tests {
		for _, mode := range tc.modes {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				s := matrixServer(t, mode, tc.server)
				cfg := matrixConfig(s, mode)
				if tc.client != nil {
					tc.client(t, s, &cfg)
				}
				err := dialAndLogin(t, s, cfg)
				t.Logf("%s: %v", mode, err)
				switch {
				case err == nil:
					t.Fatal("got no error, want the connection refused")
				case tc.wantIs == certErr && !isCertError(err), tc.wantIs != certErr && !errors.Is(err, tc.wantIs):
					t.Errorf("got %q, want %v", err, tc.wantIs)
				case !regexp.MustCompile(tc.want).MatchString(err.Error()):
					t.Errorf("got %q, want it to match %q", err, tc.want)
				}
				if IsTemporary(err) {
					t.Errorf("IsTemporary(%q) = true, want false: retrying cannot help", err)
				}
				assertNoCredentials(t, s)
			})
		}
	}
}

// TestTLSMatrix_PinAcceptsExactlyThePinnedKey: a pin lets through the
// certificate it names, whatever else is wrong with it, and nothing else,
// not even a certificate the client would otherwise trust.
func TestTLSMatrix_PinAcceptsExactlyThePinnedKey(t *testing.T) {
	certPin := func(c *x509.Certificate) Config { return Config{CertFingerprints: [][32]byte{sha256.Sum256(c.Raw)}} }
	spkiPin := func(c *x509.Certificate) Config {
		return Config{SPKIPins: [][32]byte{sha256.Sum256(c.RawSubjectPublicKeyInfo)}}
	}
	otherLeaf := func(t *testing.T) *x509.Certificate { return pop3test.NewServer(t).LeafCert() }
	tests := []struct {
		name   string
		server func(*pop3test.Server)
		pins   func(t *testing.T, s *pop3test.Server, mode TLSMode) Config
		trust  bool  // the client trusts the server's CA, as well as pinning
		wantIs error // nil: login works
	}{
		{"SelfSignedCertPin", selfSigned, func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return certPin(s.LeafCert()) }, false, nil},
		{"SelfSignedSPKIPin", selfSigned, func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return spkiPin(s.LeafCert()) }, false, nil},
		{"ExpiredCertPin", func(s *pop3test.Server) { s.CertOptions.Expired = true },
			func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return certPin(s.LeafCert()) }, false, nil},
		{"WrongHostNameSPKIPin", func(s *pop3test.Server) { s.CertHosts = []string{"mail.example.org"} },
			func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return spkiPin(s.LeafCert()) }, false, nil},
		{"TrustedAndPinned", nil, func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return certPin(s.LeafCert()) }, true, nil},
		{"OneOfSeveralPins", selfSigned, func(t *testing.T, s *pop3test.Server, _ TLSMode) Config {
			cfg := certPin(otherLeaf(t))
			cfg.SPKIPins = spkiPin(s.LeafCert()).SPKIPins
			return cfg
		}, false, nil},

		{"SelfSignedWrongCertPin", selfSigned, func(t *testing.T, s *pop3test.Server, _ TLSMode) Config {
			return Config{CertFingerprints: [][32]byte{sha256.Sum256([]byte("not the server's"))}}
		}, false, ErrPinMismatch},
		{"SelfSignedWrongSPKIPin", selfSigned, func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return spkiPin(otherLeaf(t)) }, false, ErrPinMismatch},
		// A valid CA-signed certificate for the same name, but another
		// server's: trusted without the pin, refused with it.
		{"ValidCertOfAnotherServer", nil, func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return certPin(otherLeaf(t)) }, true, ErrPinMismatch},
		// The server's own CA, which it sends after its leaf.
		{"PinOfTheServersCA", nil, func(t *testing.T, s *pop3test.Server, mode TLSMode) Config { return certPin(serverCA(t, s, mode)) }, true, ErrPinMismatch},
		// The floor on the TLS version holds even for a pinned server.
		{"PinnedButTLS11", func(s *pop3test.Server) { s.CertOptions.SelfSigned = true; s.TLSMaxVersion = tls.VersionTLS11 },
			func(t *testing.T, s *pop3test.Server, _ TLSMode) Config { return certPin(s.LeafCert()) }, false, ErrTLSVersion},
	}
	for _, tc := range tests {
		for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				s := matrixServer(t, mode, tc.server)
				cfg := matrixConfig(s, mode)
				pins := tc.pins(t, s, mode)
				cfg.CertFingerprints, cfg.SPKIPins = pins.CertFingerprints, pins.SPKIPins
				if !tc.trust {
					cfg.TLSConfig.RootCAs = x509.NewCertPool()
				}
				err := dialAndLogin(t, s, cfg)
				t.Logf("%s: %v", mode, err)
				if tc.wantIs == nil {
					if err != nil {
						t.Fatalf("got %v, want login to work", err)
					}
					return
				}
				if !errors.Is(err, tc.wantIs) || IsTemporary(err) {
					t.Errorf("got %q (temporary %v), want permanent %v", err, IsTemporary(err), tc.wantIs)
				}
				if leaf := s.LeafCert(); tc.wantIs == ErrPinMismatch &&
					(!strings.Contains(err.Error(), CertFingerprint(leaf.Raw)) || !strings.Contains(err.Error(), SPKIPin(leaf))) {
					t.Errorf("got %q, want it to show the server's fingerprint %s and SPKI pin %s", err, CertFingerprint(leaf.Raw), SPKIPin(leaf))
				}
				assertNoCredentials(t, s)
			})
		}
	}
}

func selfSigned(s *pop3test.Server) { s.CertOptions.SelfSigned = true }

// serverCA returns the CA certificate s sends after its leaf, as a
// client that trusts it sees it.
func serverCA(t *testing.T, s *pop3test.Server, mode TLSMode) *x509.Certificate {
	t.Helper()
	c, err := Dial(context.Background(), matrixConfig(s, mode))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, ok := c.TLSState()
	if !ok || len(st.PeerCertificates) < 2 || !st.PeerCertificates[1].IsCA {
		t.Fatalf("server sent %d certificates (TLS %v), want its leaf and CA", len(st.PeerCertificates), ok)
	}
	return st.PeerCertificates[1]
}
