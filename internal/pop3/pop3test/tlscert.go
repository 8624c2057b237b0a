package pop3test

import (
	"crypto/tls"
	"crypto/x509"

	"fetchd/internal/testcert"
)

// serverCert is the generated self-signed certificate and a pool trusting it.
type serverCert struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// newServerCert makes a self-signed certificate valid for hosts.
func newServerCert(hosts []string) (*serverCert, error) {
	cert, pool, err := testcert.New(hosts...)
	if err != nil {
		return nil, err
	}
	return &serverCert{cert: cert, pool: pool}, nil
}

// serverConfig is the server side of a TLS handshake.
func (c *serverCert) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.cert},
		MinVersion:   tls.VersionTLS12,
	}
}
