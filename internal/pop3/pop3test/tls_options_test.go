package pop3test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// handshake dials addr with cfg and returns the connection state or the
// handshake error.
func handshake(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: clientTimeout}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

func TestTLSOptions_Default(t *testing.T) {
	s := NewServer(t)
	s.Mode = ImplicitTLS
	leaf := s.LeafCert()
	st, err := handshake(t, s.Start(), s.ClientTLSConfig())
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if len(st.PeerCertificates) != 2 || !st.PeerCertificates[0].Equal(leaf) {
		t.Fatalf("got %d certificates, want LeafCert then its CA", len(st.PeerCertificates))
	}
	if ca := st.PeerCertificates[1]; !ca.IsCA || leaf.CheckSignatureFrom(ca) != nil {
		t.Errorf("second certificate %q is not the leaf's issuer", ca.Subject)
	}
	if leaf.IsCA {
		t.Errorf("leaf is a CA certificate")
	}
	if st.Version != tls.VersionTLS13 {
		t.Errorf("got version %x, want TLS 1.3 without a cap", st.Version)
	}
}

func TestTLSOptions_Cert(t *testing.T) {
	tests := []struct {
		name string
		opts CertOptions
		want func(error) bool
	}{
		{"Expired", CertOptions{Expired: true}, func(err error) bool {
			var ci x509.CertificateInvalidError
			return errors.As(err, &ci) && ci.Reason == x509.Expired
		}},
		{"SelfSigned", CertOptions{SelfSigned: true}, func(err error) bool {
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ua)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer(t)
			s.Mode = ImplicitTLS
			s.CertOptions = tc.opts
			leaf := s.LeafCert()
			addr := s.Start()
			if _, err := handshake(t, addr, s.ClientTLSConfig()); !tc.want(err) {
				t.Fatalf("handshake trusting CertPool: got %v, want a %s error", err, tc.name)
			}
			if tc.opts.Expired && !time.Now().After(leaf.NotAfter) {
				t.Errorf("NotAfter %v is not in the past", leaf.NotAfter)
			}
			if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); (err == nil) != tc.opts.SelfSigned {
				t.Errorf("leaf signed by itself: got %v, want %v", err == nil, tc.opts.SelfSigned)
			}
			// Apart from the fault the certificate is sound: trusting the
			// leaf itself (self-signed) or turning back the clock (expired)
			// verifies it for CertHosts.
			opts := x509.VerifyOptions{DNSName: "localhost", Roots: s.CertPool(), CurrentTime: leaf.NotBefore.Add(time.Minute)}
			if tc.opts.SelfSigned {
				opts.Roots = x509.NewCertPool()
				opts.Roots.AddCert(leaf)
			}
			if _, err := leaf.Verify(opts); err != nil {
				t.Errorf("verify apart from the fault: %v", err)
			}
		})
	}
}

func TestTLSOptions_MaxVersion(t *testing.T) {
	s := NewServer(t)
	s.Mode = ImplicitTLS
	s.TLSMaxVersion = tls.VersionTLS11
	addr := s.Start()

	// A client requiring TLS 1.2 (as fetchd does) is refused…
	// The client lists 1.2 and 1.3 in supported_versions (RFC 8446 §4.2.1);
	// the server finds neither and says so with a protocol_version alert.
	_, err := handshake(t, addr, s.ClientTLSConfig())
	if err == nil || !strings.Contains(err.Error(), "protocol version not supported") {
		t.Errorf("TLS 1.2+ client: got %v, want the server's TLS 1.1 refused", err)
	}
	// …and one that accepts TLS 1.1 gets exactly that.
	cfg := s.ClientTLSConfig()
	cfg.MinVersion = tls.VersionTLS10
	st, err := handshake(t, addr, cfg)
	if err != nil {
		t.Fatalf("TLS 1.0+ client: %v", err)
	}
	if st.Version != tls.VersionTLS11 {
		t.Errorf("got version %x, want TLS 1.1", st.Version)
	}

	s12 := NewServer(t)
	s12.Mode = ImplicitTLS
	s12.TLSMaxVersion = tls.VersionTLS12
	if st, err := handshake(t, s12.Start(), s12.ClientTLSConfig()); err != nil || st.Version != tls.VersionTLS12 {
		t.Errorf("cap at TLS 1.2: got version %x, %v; want TLS 1.2", st.Version, err)
	}
}
