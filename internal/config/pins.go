package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Certificate pins: tls_fingerprint and tls_pin_spki. The rules are those of
// pop3.ParseFingerprint and pop3.ParseSPKIPin; the values are parsed here so
// that the configuration reports a bad pin with its line, and hands the
// client bytes rather than strings.

// How to get each pin, for messages.
const (
	fingerprintHow = "openssl x509 -in cert.pem -noout -fingerprint -sha256"
	spkiHow        = "openssl x509 -in cert.pem -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"
)

// parseFingerprint parses the SHA-256 fingerprint of a certificate as
// openssl and mpop print it: 64 hex digits in either case, either run
// together or in pairs separated by colons ("AB:CD:…"), with spaces around
// it ignored.
func parseFingerprint(s string) ([32]byte, error) {
	var fp [32]byte
	s = strings.TrimSpace(s)
	if _, after, ok := strings.Cut(s, "Fingerprint="); ok {
		return fp, fmt.Errorf("write only the hex digits after \"Fingerprint=\": %s", quote(after))
	}
	digits := s
	if strings.Contains(s, ":") {
		// Colons only between pairs: "A:BC…" is more likely a
		// mangled paste than a fingerprint.
		ok := len(s)%3 == 2
		for i := 2; ok && i < len(s); i += 3 {
			ok = s[i] == ':'
		}
		if !ok {
			return fp, errors.New("write the hex digits in pairs separated by colons (AB:CD:…), or without colons")
		}
		digits = strings.ReplaceAll(s, ":", "")
	}
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return fp, errors.New("must be hexadecimal digits (0-9, a-f), optionally in pairs separated by colons")
		}
	}
	switch len(digits) {
	case 2 * len(fp):
	case 40:
		return fp, errors.New("this is a SHA-1 fingerprint (40 hex digits): give the SHA-256 one (64 hex digits), from " + fingerprintHow)
	case 32:
		return fp, errors.New("this is an MD5 fingerprint (32 hex digits): give the SHA-256 one (64 hex digits), from " + fingerprintHow)
	default:
		return fp, fmt.Errorf("must be a SHA-256 fingerprint of 64 hex digits, got %d", len(digits))
	}
	if _, err := hex.Decode(fp[:], []byte(digits)); err != nil {
		return fp, err // cannot happen: checked above
	}
	return fp, nil
}

// parseSPKIPin parses the base64 (standard alphabet, padded) SHA-256 of a
// certificate's SubjectPublicKeyInfo, optionally after "sha256/" (as HPKP
// tools and OkHttp write it) or curl's "sha256//", in any case.
func parseSPKIPin(s string) ([32]byte, error) {
	var pin [32]byte
	s = strings.TrimSpace(s)
	b64 := s
	if len(s) >= 7 && strings.EqualFold(s[:7], "sha256/") {
		b64 = s[7:]
		// "sha256//" is curl's prefix, or "sha256/" and a pin whose base64
		// starts with "/": only the length tells them apart.
		if len(b64) != 44 && strings.HasPrefix(b64, "/") {
			b64 = b64[1:]
		}
	}
	if len(b64) == 2*len(pin) && isHex(b64) {
		// Also valid base64, of 48 bytes.
		return pin, errors.New("must be base64, not hex: " + spkiHow)
	}
	// The decoder skips line ends.
	if strings.ContainsAny(b64, "\r\n") {
		return pin, errors.New("must be base64 of 32 bytes on one line: " + spkiHow)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		if strings.ContainsAny(b64, "-_") {
			return pin, errors.New(`must use the standard base64 alphabet (+ and /, not - and _)`)
		}
		return pin, errors.New("must be base64 of 32 bytes (44 characters ending in =): " + spkiHow)
	}
	if len(b) != len(pin) {
		return pin, fmt.Errorf("must be the base64 of a SHA-256 hash (32 bytes), got %d bytes: %s", len(b), spkiHow)
	}
	copy(pin[:], b)
	return pin, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func checkFingerprints(v any) string {
	return checkPins(v.([]string), parseFingerprint, fingerprintHow)
}

func checkSPKIPins(v any) string { return checkPins(v.([]string), parseSPKIPin, spkiHow) }

// checkPins checks each pin of a list with parse; how says where to get one.
func checkPins(pins []string, parse func(string) ([32]byte, error), how string) string {
	if len(pins) == 0 {
		return "must not be empty: give at least one pin, from " + how + ", or leave the key out"
	}
	for i, p := range pins {
		if _, err := parse(p); err != nil {
			if len(pins) == 1 {
				return fmt.Sprintf("bad pin %s: %v", quote(p), err)
			}
			return fmt.Sprintf("element %d: bad pin %s: %v", i+1, quote(p), err)
		}
	}
	return ""
}

// parsePins parses pins that checkPins accepted.
func parsePins(pins []string, parse func(string) ([32]byte, error)) [][32]byte {
	if len(pins) == 0 {
		return nil
	}
	out := make([][32]byte, 0, len(pins))
	for _, p := range pins {
		if b, err := parse(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}
