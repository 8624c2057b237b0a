package pop3

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// CertFingerprint returns the SHA-256 fingerprint of a DER certificate as
// openssl x509 -fingerprint -sha256 and mpop print it: upper-case hex
// pairs joined by colons.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, 3*len(sum)-1)
	for i, v := range sum {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[v>>4], digits[v&0xf])
	}
	return string(b)
}

// SPKIPin returns the base64 (standard, padded) SHA-256 of the
// certificate's SubjectPublicKeyInfo: the RFC 7469 pin-sha256 value, which
// stays the same when the server renews its certificate with the same key.
func SPKIPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// ParseFingerprint parses a SHA-256 certificate fingerprint: 64 hex
// digits in either case, either all in colon-separated pairs (as openssl
// prints them) or without any colon. Spaces around it are ignored.
func ParseFingerprint(s string) ([32]byte, error) {
	var fp [32]byte
	s = strings.TrimSpace(s)
	digits := s
	if strings.Contains(s, ":") {
		pairs := strings.Split(s, ":")
		for _, p := range pairs {
			if len(p) != 2 {
				return fp, errors.New("fingerprint: colons must separate pairs of hex digits (AB:CD:…)")
			}
		}
		digits = strings.Join(pairs, "")
	}
	if strings.IndexFunc(digits, func(r rune) bool { return !isHexDigit(r) }) >= 0 {
		return fp, errors.New("fingerprint: not hexadecimal (want 64 hex digits, colons optional)")
	}
	switch len(digits) {
	case 2 * len(fp):
	case 40:
		return fp, errors.New("fingerprint: 40 hex digits is a SHA-1 fingerprint; give the SHA-256 one (openssl x509 -noout -fingerprint -sha256)")
	case 32:
		return fp, errors.New("fingerprint: 32 hex digits is an MD5 fingerprint; give the SHA-256 one (openssl x509 -noout -fingerprint -sha256)")
	default:
		return fp, fmt.Errorf("fingerprint: got %d hex digits, want 64 (SHA-256)", len(digits))
	}
	b, err := hex.DecodeString(digits)
	if err != nil { // not reached: checked above
		return fp, fmt.Errorf("fingerprint: %w", err)
	}
	copy(fp[:], b)
	return fp, nil
}

func isHexDigit(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'
}

// ParseSPKIPin parses a SHA-256 SPKI pin: the 44 characters of standard,
// padded base64 of 32 bytes, optionally after "sha256/" (the prefix HPKP
// tooling and OkHttp write; curl's "sha256//" is accepted too). Spaces
// around it are ignored.
func ParseSPKIPin(s string) ([32]byte, error) {
	var pin [32]byte
	s = strings.TrimSpace(s)
	// A pin is 44 characters, and its base64 may start with "/": strip the
	// prefix that leaves 44 ("sha256/" + "/abc…" is not curl's "sha256//").
	for _, prefix := range []string{"sha256/", "sha256//"} {
		if len(s) == len(prefix)+44 && strings.EqualFold(s[:len(prefix)], prefix) {
			s = s[len(prefix):]
			break
		}
	}
	if _, err := hex.DecodeString(s); err == nil && len(s) == 2*len(pin) {
		return pin, errors.New("spki pin: this is hex; give the base64 of the SHA-256 (openssl x509 -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)")
	}
	// encoding/base64 skips CR and LF; a pin has none.
	if strings.ContainsAny(s, "\r\n") {
		return pin, errors.New("spki pin: contains a line break")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return pin, errors.New("spki pin: not standard base64 (want 44 characters ending in '=')")
	}
	if len(b) != len(pin) {
		return pin, fmt.Errorf("spki pin: decodes to %d bytes, want 32 (SHA-256)", len(b))
	}
	copy(pin[:], b)
	return pin, nil
}
