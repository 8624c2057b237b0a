package pop3test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// serverCert is what the server presents and what a client should trust:
// a leaf certificate (issued by ca, or by itself with
// CertOptions.SelfSigned) and a pool holding only ca.
type serverCert struct {
	cert       tls.Certificate // the leaf, and ca after it unless self-signed
	ca         *x509.Certificate
	pool       *x509.CertPool
	maxVersion uint16 // Server.TLSMaxVersion, set by Start; 0 = no cap
}

// newServerCert makes a CA and a leaf for hosts shaped by opts. Keys are
// ECDSA P-256; unless opts say otherwise the leaf is valid from an hour ago
// for a day.
func newServerCert(hosts []string, opts CertOptions) (*serverCert, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "fetchd pop3test CA", Organization: []string{"fetchd pop3test"}},
		NotBefore:             now.Add(-30 * 24 * time.Hour), // spans the expired leaf's validity
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ca, err := createCert(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "fetchd pop3test server", Organization: []string{"fetchd pop3test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if opts.Expired {
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := ca, any(caKey)
	if opts.SelfSigned {
		parent, signer = tmpl, key
	}
	leaf, err := createCert(tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("leaf: %w", err)
	}
	chain := [][]byte{leaf.Raw}
	if !opts.SelfSigned {
		// Real servers send their intermediates: a pin check must look at
		// the leaf only, not at any certificate that came with it.
		chain = append(chain, ca.Raw)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &serverCert{
		cert: tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf},
		ca:   ca,
		pool: pool,
	}, nil
}

// createCert signs tmpl with parent's key and parses the result.
func createCert(tmpl, parent *x509.Certificate, pub, signer any) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// serverConfig is the server side of a TLS handshake.
func (c *serverCert) serverConfig() *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{c.cert},
		MinVersion:   tls.VersionTLS12,
	}
	if c.maxVersion != 0 {
		cfg.MaxVersion = c.maxVersion
		if c.maxVersion < cfg.MinVersion {
			// Go's server speaks nothing older than TLS 1.2 unless
			// MinVersion says so explicitly.
			cfg.MinVersion = tls.VersionTLS10
		}
	}
	return cfg
}
