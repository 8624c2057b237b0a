package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fetchd/internal/discover/dnstest"
	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// Acceptance 5 of issue 8: `fetchd add` finds the test Dovecot through a
// fake SRV record (served on loopback, reached with --dns-server), checks
// the login, and writes an account that `fetchd check` accepts and `fetchd
// once` polls. The target, localhost, lies outside example.test: without
// --yes (and with no terminal) add refuses before connecting anywhere.
// Once through _pop3s._tcp (implicit TLS), once through _pop3._tcp (STLS).
func TestDovecot_AddFoundBySRV(t *testing.T) {
	d := needFetchd(t)
	_, pop3Port := testharness.SplitAddr(d.POP3)
	_, pop3sPort := testharness.SplitAddr(d.POP3S)
	tests := []struct {
		label, tls string
		port       int
	}{
		{"_pop3s._tcp.example.test", "implicit", pop3sPort},
		{"_pop3._tcp.example.test", "starttls", pop3Port},
	}
	for _, tt := range tests {
		t.Run(tt.tls, func(t *testing.T) {
			b := newBox(t, d)
			ms := testcorpus.Mixed(4, 31)
			b.Seed(t, ms)
			dns := dnstest.NewServer(t, map[string][]net.SRV{tt.label: {{Target: "localhost.", Port: uint16(tt.port)}}})
			pw := filepath.Join(b.Dir, "dovecot.password")
			if err := os.WriteFile(pw, []byte(d.Password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// The test's own state file, and messages compared byte for
			// byte: no trace header fields.
			cfg := filepath.Join(b.Dir, "fetchd.toml")
			before := fmt.Sprintf("state = %q\nlog_level = \"debug\"\n\n[defaults]\ntrace_headers = false\n", b.State)
			if err := os.WriteFile(cfg, []byte(before), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"add", "-c", cfg, "--dns-server", dns.Addr, "--password-file", pw,
				"--user", b.User, "--maildir", b.Out, "--name", "t", b.User + "@example.test"}

			r := runFetchd(t, b, args...)
			wantCode(t, r, 2)
			if data, _ := os.ReadFile(cfg); string(data) != before || !strings.Contains(r.Stderr, "outside that domain, to localhost:") {
				t.Fatalf("without --yes: config now %q; stderr %q", data, r.Stderr)
			}
			if strings.Contains(r.Stdout, "checking") {
				t.Errorf("without --yes it connected: %s", r.Stdout)
			}

			r = runFetchd(t, b, append([]string{"add", "--yes"}, args[1:]...)...)
			wantCode(t, r, 0)
			for _, want := range []string{"connection as fetchd makes it: ok", "login: ok", `added account "t"`} {
				if !strings.Contains(r.Stdout, want) {
					t.Errorf("add's output lacks %q:\n%s", want, r.Stdout)
				}
			}
			data, _ := os.ReadFile(cfg)
			for _, want := range []string{`server = "localhost"`, fmt.Sprintf("port = %d", tt.port), fmt.Sprintf("tls = %q", tt.tls),
				fmt.Sprintf("password_file = %q", pw)} {
				if !strings.Contains(string(data), want) {
					t.Errorf("the config lacks %s:\n%s", want, data)
				}
			}
			if strings.Contains(string(data)+r.Stdout+r.Stderr, d.Password) {
				t.Error("the password appears in the config or add's output")
			}

			r = runFetchd(t, b, "check", "-c", cfg)
			wantCode(t, r, 0)
			if !strings.Contains(r.Stdout, "1 account(s)") {
				t.Errorf("check: %s", r.Stdout)
			}
			r = once(t, b, cfg)
			wantCode(t, r, 0)
			checkDelivered(t, b.Out, ms)
			wantServerCount(t, b, 0)
		})
	}
}
