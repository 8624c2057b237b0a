package pop3

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrPinMismatch: Config.CertFingerprints or Config.SPKIPins are set and the
// server's certificate matches none of them. Nothing was sent after the TLS
// handshake. The error is a *PinMismatchError, whose text shows the
// server's actual fingerprint and SPKI pin. Permanent.
var ErrPinMismatch = errors.New("pop3: server certificate matches no configured pin")

// PinMismatchError says which certificate the server presented when it
// matched no pin, so that a user (or a doctor command) can compare it with
// what the provider publishes.
type PinMismatchError struct {
	Cert *x509.Certificate // the server's leaf certificate; nil if it sent none
}

func (e *PinMismatchError) Error() string {
	if e.Cert == nil {
		return ErrPinMismatch.Error() + ": the server sent no certificate"
	}
	return ErrPinMismatch.Error() + ": " + describeCert(e.Cert) +
		"; if the server's key changed, check the new values with the provider before pinning them"
}

func (e *PinMismatchError) Unwrap() error { return ErrPinMismatch }

// describeCert names a certificate and gives both of its pins, in the forms
// ParseFingerprint and ParseSPKIPin accept.
func describeCert(cert *x509.Certificate) string {
	return fmt.Sprintf("the server's certificate (subject %q, issuer %q, expires %s) has SHA-256 fingerprint %s and SPKI pin %s",
		cert.Subject.String(), cert.Issuer.String(), cert.NotAfter.UTC().Format(time.DateOnly),
		CertFingerprint(cert.Raw), SPKIPin(cert))
}

// pinned reports whether cfg pins the server's certificate.
func (cfg *Config) pinned() bool {
	return len(cfg.CertFingerprints) > 0 || len(cfg.SPKIPins) > 0
}

// pinTo makes t accept exactly the certificates that match one of the
// pins, and no other.
//
// The pin replaces chain verification: a pinned self-signed, expired or
// otherwise-named certificate is accepted, because the pin names the exact
// key (Config.CertFingerprints). This is the only place InsecureSkipVerify
// is set, and always together with the VerifyConnection that checks the
// pins. The handshake still proves that the server holds the pinned
// certificate's private key: crypto/tls checks the server's signature over
// the handshake with the leaf's public key whatever InsecureSkipVerify says.
// VerifyConnection, unlike VerifyPeerCertificate, also runs on session
// resumption.
func pinTo(t *tls.Config, certs, spkis [][32]byte) {
	certs, spkis = slices.Clone(certs), slices.Clone(spkis)
	next := t.VerifyConnection
	t.InsecureSkipVerify = true
	t.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := checkPins(cs.PeerCertificates, certs, spkis); err != nil {
			return err
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
}

// checkPins checks the leaf, the first certificate the server sent. The
// others are only what the server claims to be its chain: a pin matching
// one of them (a CA's, say) proves nothing about the server.
func checkPins(peer []*x509.Certificate, certs, spkis [][32]byte) error {
	if len(peer) == 0 {
		return &PinMismatchError{}
	}
	leaf := peer[0]
	if slices.Contains(certs, sha256.Sum256(leaf.Raw)) ||
		slices.Contains(spkis, sha256.Sum256(leaf.RawSubjectPublicKeyInfo)) {
		return nil
	}
	return &PinMismatchError{Cert: leaf}
}
