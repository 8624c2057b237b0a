package pop3

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrTLSVersion: the server and fetchd have no TLS version in common: the
// server speaks only versions older than Config.TLSConfig's MinVersion
// (at least TLS 1.2). Nothing was sent. Permanent.
var ErrTLSVersion = errors.New("pop3: no TLS version in common with the server")

// explainHandshake makes a failed handshake's error say what to do: a
// version refusal becomes ErrTLSVersion, and a certificate that failed
// verification is described with its fingerprints, which a user who trusts
// it can pin (this is what mpop shows). The original error stays in the
// chain.
func explainHandshake(err error, tcfg *tls.Config) error {
	if isVersionRefusal(err) {
		return fmt.Errorf("%w (fetchd requires %s or later; RFC 8996 retired TLS 1.0 and 1.1): %w",
			ErrTLSVersion, tls.VersionName(tcfg.MinVersion), err)
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		return fmt.Errorf("%w; %s", err, describeCert(cve.UnverifiedCertificates[0]))
	}
	return err
}

// isVersionRefusal reports a handshake that failed for want of a common
// TLS version. crypto/tls has no type for it, only messages.
func isVersionRefusal(err error) bool {
	// A server that reads supported_versions (RFC 8446 §4.2.1) finds
	// nothing it speaks and says so with a protocol_version alert.
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" && oe.Err != nil &&
		oe.Err.Error() == "tls: protocol version not supported" {
		return true
	}
	// An older server ignores supported_versions and answers with its own
	// version, which the client refuses.
	return strings.Contains(err.Error(), "tls: server selected unsupported protocol version")
}
