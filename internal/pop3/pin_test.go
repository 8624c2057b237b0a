package pop3

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"fetchd/internal/testcert"
)

// A fixed digest and its spellings: certificates, and so their pins, change
// on every run.
var (
	fpBytes = sha256.Sum256([]byte("fetchd"))
	fpUpper = strings.ToUpper(hex.EncodeToString(fpBytes[:]))
	fpColon = colonHex(fpUpper)
	spkiB64 = base64.StdEncoding.EncodeToString(fpBytes[:])
)

func colonHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(s[i : i+2])
	}
	return b.String()
}

func TestCertFingerprint(t *testing.T) {
	cert, _ := testCert()
	der := cert.Certificate[0]
	sum := sha256.Sum256(der)
	want := colonHex(strings.ToUpper(hex.EncodeToString(sum[:])))
	if got := CertFingerprint(der); got != want {
		t.Errorf("CertFingerprint: got %q, want %q", got, want)
	}
	if got, err := ParseFingerprint(CertFingerprint(der)); err != nil || got != sum {
		t.Errorf("ParseFingerprint(CertFingerprint(der)): got %x, %v; want %x", got, err, sum)
	}
	spki := sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)
	if got, err := ParseSPKIPin(SPKIPin(cert.Leaf)); err != nil || got != spki {
		t.Errorf("ParseSPKIPin(SPKIPin(leaf)): got %x, %v; want %x", got, err, spki)
	}
	if got := SPKIPin(cert.Leaf); len(got) != 44 || !strings.HasSuffix(got, "=") {
		t.Errorf("SPKIPin: got %q, want 44 characters of padded base64", got)
	}
}

func TestParseFingerprint(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // "" = fpBytes wanted
	}{
		{fpColon, ""},
		{strings.ToLower(fpColon), ""},
		{fpUpper, ""},
		{strings.ToLower(fpUpper), ""},
		{"  " + fpColon + "\n", ""},
		{fpColon[:len(fpColon)-3], "got 62 hex digits"},
		{fpColon + ":00", "got 66 hex digits"},
		{fpColon + ":", "colons must separate pairs"},
		{fpColon[:5] + fpColon[6:], "colons must separate pairs"}, // one colon dropped
		{"A" + fpUpper[1:63], "got 63 hex digits"},
		{fpUpper[:62] + "G0", "not hexadecimal"},
		{strings.ReplaceAll(fpColon, ":", " "), "not hexadecimal"},
		{"SHA256 Fingerprint=" + fpColon, "colons must separate pairs"},
		{fpUpper[:40], "SHA-1"},
		{colonHex(fpUpper[:32]), "MD5"},
		{"", "got 0 hex digits"},
	}
	for _, tc := range tests {
		got, err := ParseFingerprint(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || got != fpBytes):
			t.Errorf("ParseFingerprint(%q): got %x, %v; want %x", tc.in, got, err, fpBytes)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseFingerprint(%q): got error %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestParseSPKIPin(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{spkiB64, ""},
		{"sha256/" + spkiB64, ""},
		{"SHA256/" + spkiB64, ""},
		{"sha256//" + spkiB64, ""}, // curl --pinnedpubkey
		{" " + spkiB64 + "\n", ""},
		{strings.TrimSuffix(spkiB64, "="), "not standard base64"},
		{spkiB64[:20] + "\n" + spkiB64[20:], "line break"},
		{base64.URLEncoding.EncodeToString(fpBytes[:31]) + "_-", "not standard base64"},
		{base64.StdEncoding.EncodeToString(fpBytes[:20]), "decodes to 20 bytes"},
		{base64.StdEncoding.EncodeToString(append(fpBytes[:], 0)), "decodes to 33 bytes"},
		{fpUpper, "this is hex"},
		{"pin-sha256=" + spkiB64, "not standard base64"},
		{"sha1/" + spkiB64, "not standard base64"},
		{"", "decodes to 0 bytes"},
	}
	for _, tc := range tests {
		got, err := ParseSPKIPin(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || got != fpBytes):
			t.Errorf("ParseSPKIPin(%q): got %x, %v; want %x", tc.in, got, err, fpBytes)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseSPKIPin(%q): got error %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}

func FuzzParseFingerprint(f *testing.F) {
	for _, s := range []string{fpColon, strings.ToLower(fpUpper), fpColon + ":", fpUpper[:40], "", ":", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseFingerprint(s)
		if err != nil {
			return
		}
		// What parsed is the same 64 digits, with or without colons.
		digits := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
		if got := strings.ToUpper(hex.EncodeToString(fp[:])); got != digits {
			t.Fatalf("ParseFingerprint(%q) = %s", s, got)
		}
		// Printing it as openssl does and parsing that again round-trips.
		printed := colonHex(digits)
		if again, err := ParseFingerprint(printed); err != nil || again != fp {
			t.Fatalf("ParseFingerprint(%q) = %x, %v; want %x", printed, again, err, fp)
		}
	})
}

func FuzzParseSPKIPin(f *testing.F) {
	for _, s := range []string{spkiB64, "sha256/" + spkiB64, "sha256//" + spkiB64, strings.TrimSuffix(spkiB64, "="), fpUpper, "", "sha256/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pin, err := ParseSPKIPin(s)
		if err != nil {
			return
		}
		// Strict base64: the input (after an optional prefix) is the
		// canonical encoding of what it parsed to.
		enc := base64.StdEncoding.EncodeToString(pin[:])
		if !strings.HasSuffix(strings.TrimSpace(s), enc) {
			t.Fatalf("ParseSPKIPin(%q) = %s, not the input's encoding", s, enc)
		}
		for _, again := range []string{enc, "sha256/" + enc} {
			if got, err := ParseSPKIPin(again); err != nil || got != pin {
				t.Fatalf("ParseSPKIPin(%q) = %x, %v; want %x", again, got, err, pin)
			}
		}
	})
}

// TestTLSConfig_PinsReplaceChainCheck checks the one place where
// InsecureSkipVerify is set: only with pins, and then always with the pin
// check in VerifyConnection.
func TestTLSConfig_PinsReplaceChainCheck(t *testing.T) {
	cert, pool := testCert()
	leaf := cert.Leaf
	other, _, err := testcert.New("localhost")
	if err != nil {
		t.Fatal(err)
	}
	right := sha256.Sum256(leaf.Raw)
	state := func(c *x509.Certificate) tls.ConnectionState {
		return tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
	}

	plain := Config{Addr: "localhost:995", TLSConfig: &tls.Config{RootCAs: pool}}
	got, err := plain.tlsConfig()
	if err != nil || got.InsecureSkipVerify || got.VerifyConnection != nil {
		t.Fatalf("without pins: got InsecureSkipVerify %v, VerifyConnection set %v, %v; want the default chain check",
			got.InsecureSkipVerify, got.VerifyConnection != nil, err)
	}

	var nextCalled bool
	pinned := Config{Addr: "localhost:995", CertFingerprints: [][32]byte{right},
		TLSConfig: &tls.Config{VerifyConnection: func(tls.ConnectionState) error { nextCalled = true; return nil }}}
	got, err = pinned.tlsConfig()
	if err != nil || !got.InsecureSkipVerify || got.VerifyConnection == nil {
		t.Fatalf("with pins: got InsecureSkipVerify %v, VerifyConnection set %v, %v; want the pin check", got.InsecureSkipVerify, got.VerifyConnection != nil, err)
	}
	if err := got.VerifyConnection(state(leaf)); err != nil || !nextCalled {
		t.Errorf("pinned leaf: got %v (caller's VerifyConnection called %v), want accepted and chained", err, nextCalled)
	}
	nextCalled = false
	err = got.VerifyConnection(state(other.Leaf))
	var pe *PinMismatchError
	if !errors.Is(err, ErrPinMismatch) || !errors.As(err, &pe) || pe.Cert != other.Leaf || nextCalled {
		t.Errorf("other leaf: got %v, want a *PinMismatchError before the caller's check", err)
	}
	if err := got.VerifyConnection(tls.ConnectionState{}); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("no certificate: got %v, want ErrPinMismatch", err)
	}
	// The pin is the leaf's: the same certificate sent second, as a chain
	// member, does not count.
	chain := tls.ConnectionState{PeerCertificates: []*x509.Certificate{other.Leaf, leaf}}
	if err := got.VerifyConnection(chain); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("pinned certificate second in the chain: got %v, want ErrPinMismatch", err)
	}
	// Changing the caller's slice afterwards changes nothing.
	pinned.CertFingerprints[0] = [32]byte{}
	if err := got.VerifyConnection(state(leaf)); err != nil {
		t.Errorf("after the caller reused its slice: got %v, want accepted", err)
	}

	// The caller still cannot turn verification off, pins or not.
	for _, cfg := range []Config{
		{Addr: "localhost:995", TLSConfig: &tls.Config{InsecureSkipVerify: true}},
		{Addr: "localhost:995", TLSConfig: &tls.Config{InsecureSkipVerify: true}, SPKIPins: [][32]byte{right}},
	} {
		if _, err := cfg.tlsConfig(); !errors.Is(err, ErrInsecure) {
			t.Errorf("caller's InsecureSkipVerify (pins %d): got %v, want ErrInsecure", len(cfg.SPKIPins), err)
		}
	}
}

func TestPinMismatchError(t *testing.T) {
	cert, _ := testCert()
	err := error(&PinMismatchError{Cert: cert.Leaf})
	for _, want := range []string{CertFingerprint(cert.Leaf.Raw), SPKIPin(cert.Leaf), "fetchd test", "matches no configured pin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if IsTemporary(err) || !errors.Is(err, ErrPinMismatch) {
		t.Errorf("IsTemporary(%v) = %v, errors.Is ErrPinMismatch %v; want permanent ErrPinMismatch", err, IsTemporary(err), errors.Is(err, ErrPinMismatch))
	}
}

// A pin whose base64 starts with "/" after the "sha256/" prefix is not
// curl's "sha256//" form.
func TestParseSPKIPin_SlashFirst(t *testing.T) {
	var want [32]byte
	want[0] = 0xfc // base64 "/..."
	enc := base64.StdEncoding.EncodeToString(want[:])
	if enc[0] != '/' {
		t.Fatalf("test vector %q does not start with /", enc)
	}
	for _, in := range []string{enc, "sha256/" + enc, "SHA256/" + enc, "sha256//" + enc} {
		got, err := ParseSPKIPin(in)
		if err != nil || got != want {
			t.Errorf("ParseSPKIPin(%q) = %x, %v", in, got, err)
		}
	}
}
