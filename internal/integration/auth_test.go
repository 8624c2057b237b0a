package integration

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// dovecotMethod waits for Dovecot's log line of user's login and returns
// the SASL method it names ("PLAIN", "SCRAM-SHA-256", ...).
func dovecotMethod(t *testing.T, d *testharness.Dovecot, user string) string {
	t.Helper()
	re := regexp.MustCompile(`Login: user=<` + regexp.QuoteMeta(user) + `>, method=([A-Z0-9-]+)`)
	deadline := time.Now().Add(3 * time.Second)
	for {
		data, err := os.ReadFile(d.Log)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.FindSubmatch(data); m != nil {
			return string(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dovecot's log %s has no login of %s", d.Log, user)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Acceptance 2 of issue 6: each SASL mechanism Dovecot offers logs in, and
// auth = "auto" picks SCRAM-SHA-256.
func TestDovecot_SASLMechanisms(t *testing.T) {
	d := needFetchd(t)
	tests := []struct{ auth, method string }{
		{"plain", "PLAIN"},
		{"login", "LOGIN"},
		{"cram-md5", "CRAM-MD5"},
		{"scram-sha-1", "SCRAM-SHA-1"},
		{"scram-sha-256", "SCRAM-SHA-256"},
		{"auto", "SCRAM-SHA-256"},
		{"user", "PLAIN"}, // Dovecot logs USER/PASS as PLAIN
	}
	for _, tt := range tests {
		t.Run(tt.auth, func(t *testing.T) {
			b := newBox(t, d)
			ms := testcorpus.Mixed(3, 11)
			b.Seed(t, ms)
			a := b.ImplicitTLS()
			a.Extra = fmt.Sprintf("auth = %q\n", tt.auth)
			r := once(t, b, b.Config(t, a))
			wantCode(t, r, 0)
			checkDelivered(t, b.Out, ms)
			if got := dovecotMethod(t, d, b.User); got != tt.method {
				t.Errorf("auth = %q logged in with %s, want %s", tt.auth, got, tt.method)
			}
		})
	}
}

// The wrong password through SCRAM is refused like through PASS, without a
// second mechanism tried.
func TestDovecot_SCRAMWrongPassword(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	b.Seed(t, testcorpus.Mixed(2, 12))
	a := b.ImplicitTLS()
	a.Password = "not-" + d.Password
	a.Extra = "auth = \"auto\"\n"
	r := once(t, b, b.Config(t, a))
	wantCode(t, r, 1)
	if !strings.Contains(r.Stdout+r.Stderr, "AUTH") {
		t.Errorf("output does not name the rejected login:\n%s", testharness.Tail(r.Stdout+r.Stderr, 10))
	}
	time.Sleep(300 * time.Millisecond)
	data, _ := os.ReadFile(d.Log)
	if n := strings.Count(string(data), "user=<"+b.User+">"); n > 1 {
		t.Errorf("Dovecot logged %d attempts for %s: fetchd tried again after a rejection", n, b.User)
	}
}

// dovecotFingerprint is the SHA-256 of Dovecot's certificate, as openssl
// prints it, and the base64 SPKI pin.
func dovecotFingerprint(t *testing.T, d *testharness.Dovecot) (fp string, cert *x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(d.Cert)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM certificate", d.Cert)
	}
	cert, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(block.Bytes)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":"), cert
}

// Pinning: with Dovecot's certificate not trusted, the right pin lets the
// login through, a wrong one refuses it before any credential is sent.
func TestDovecot_Pinning(t *testing.T) {
	d := needFetchd(t)
	fp, _ := dovecotFingerprint(t, d)
	wrong := strings.Repeat("AB:", 31) + "AB"
	tests := []struct {
		name  string
		extra string
		ok    bool
	}{
		{"untrusted, no pin", "", false},
		{"right fingerprint", fmt.Sprintf("tls_fingerprint = %q\n", fp), true},
		{"right fingerprint, lower case, no colons", fmt.Sprintf("tls_fingerprint = %q\n", strings.ToLower(strings.ReplaceAll(fp, ":", ""))), true},
		{"wrong fingerprint", fmt.Sprintf("tls_fingerprint = %q\n", wrong), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBox(t, d)
			ms := testcorpus.Mixed(2, 13)
			b.Seed(t, ms)
			a := b.ImplicitTLS()
			a.Extra = tt.extra
			r := b.Run(t, testharness.RunOptions{Untrusted: true}, "once", "-c", b.Config(t, a))
			if !tt.ok {
				if r.Code != 1 {
					t.Fatalf("exit %d, want 1\n%s", r.Code, testharness.Tail(r.Stdout+r.Stderr, 10))
				}
				if !regexp.MustCompile(`(?i)certificate|fingerprint|pin`).MatchString(r.Stdout + r.Stderr) {
					t.Errorf("the error does not name the certificate:\n%s", testharness.Tail(r.Stdout+r.Stderr, 10))
				}
				time.Sleep(300 * time.Millisecond)
				if waitLog(t, d, "user=<"+b.User+">", 0) {
					t.Errorf("Dovecot saw a login attempt for %s: a credential went to an unverified server", b.User)
				}
				wantServerCount(t, b, len(ms))
				return
			}
			if r.Code != 0 {
				t.Fatalf("exit %d, want 0\n%s", r.Code, testharness.Tail(r.Stdout+r.Stderr, 10))
			}
			checkDelivered(t, b.Out, ms)
		})
	}
}

// Acceptance 4 of issue 6, the hard way: with log_level = "trace" (every
// command and status line), each login method, `fetchd check` and `fetchd
// doctor` print neither the password nor the SASL blobs that carry it.
func TestDovecot_TraceShowsNoSecret(t *testing.T) {
	d := needFetchd(t)
	for _, auth := range []string{"user", "plain", "login", "cram-md5", "scram-sha-256"} {
		t.Run(auth, func(t *testing.T) {
			b := newBox(t, d)
			b.Seed(t, testcorpus.Mixed(2, 14))
			a := b.ImplicitTLS()
			a.Extra = fmt.Sprintf("auth = %q\n", auth)
			cfg := b.Config(t, a)
			data, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(cfg, []byte(strings.Replace(string(data), `log_level = "debug"`, `log_level = "trace"`, 1)), 0o600)
			forbidden := []string{
				d.Password,
				base64.StdEncoding.EncodeToString([]byte("\x00" + b.User + "\x00" + d.Password)), // PLAIN
				base64.StdEncoding.EncodeToString([]byte(d.Password)),                            // LOGIN
			}
			var out strings.Builder
			for _, args := range [][]string{{"once", "-c", cfg}, {"check", "-c", cfg}, {"doctor", "-c", cfg, "t"}} {
				r := b.Run(t, testharness.RunOptions{}, args...)
				if r.Code != 0 {
					t.Errorf("fetchd %s: exit %d\n%s", args[0], r.Code, testharness.Tail(r.Stdout+r.Stderr, 10))
				}
				out.WriteString(r.Stdout + r.Stderr)
			}
			if !strings.Contains(out.String(), "C: ") && !strings.Contains(out.String(), "dir=C") {
				t.Fatalf("no traced command in the output: the test proves nothing\n%s", testharness.Tail(out.String(), 20))
			}
			for _, f := range forbidden {
				if strings.Contains(out.String(), f) {
					t.Errorf("the output holds a secret (%d characters of it)", len(f))
				}
			}
		})
	}
}
