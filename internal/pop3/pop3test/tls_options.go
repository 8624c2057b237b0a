package pop3test

import "crypto/x509"

// LeafCert returns the certificate the server presents, generating it (as
// CertPool does) if Start has not yet done so. Tests compute pins from it.
// Set CertHosts, Host and CertOptions before the first call.
func (s *Server) LeafCert() *x509.Certificate {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureCertLocked(); err != nil {
		s.tb.Fatalf("pop3test: %v", err)
	}
	return s.cert.cert.Leaf
}
