package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
)

// fetchd doctor shows a self-signed server's fingerprint, refuses it as a
// poll would, and with that fingerprint pinned logs in with the strongest
// mechanism.
func TestDoctor_SelfSignedThenPinned(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Mode = pop3test.ImplicitTLS
	srv.CertOptions.SelfSigned = true
	srv.SASL = []string{"PLAIN", "SCRAM-SHA-256"}
	srv.Start()
	fp := pop3.CertFingerprint(srv.LeafCert().Raw)
	host, port, _ := net.SplitHostPort(srv.Addr())
	dir := t.TempDir()
	write := func(extra string) string {
		path := filepath.Join(dir, "config.toml")
		os.WriteFile(path, []byte(fmt.Sprintf(`state = %q
[[account]]
name = "d"
server = %q
port = %s
user = "user"
password = "pass"
timeout = "5s"
%s
[[account.deliver]]
maildir = %q
`, filepath.Join(dir, "state.db"), host, port, extra, filepath.Join(dir, "Maildir"))), 0o600)
		return path
	}

	code, out, _ := runCLI("doctor", "-c", write(""), "d")
	if code != exitFailed || !strings.Contains(out, fp) || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "tls_fingerprint = ") {
		t.Errorf("doctor on an untrusted server: exit %d, want %d, the fingerprint %s and REFUSED:\n%s", code, exitFailed, fp, out)
	}
	for _, c := range srv.Commands() {
		if strings.HasPrefix(c, "USER") || strings.HasPrefix(c, "PASS") || strings.HasPrefix(c, "AUTH") {
			t.Errorf("a credential went to the untrusted server: %q", c)
		}
	}

	code, out, _ = runCLI("doctor", "-c", write(fmt.Sprintf("tls_fingerprint = %q", fp)), "d")
	for _, want := range []string{"connection as fetchd makes it: ok", "login method: scram-sha-256", "login: ok"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("doctor with the pin: exit %d, want 0 and %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "pass\"") {
		t.Errorf("doctor printed the password:\n%s", out)
	}
}
