package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// writeConfig writes a 0600 config for one account on a plaintext fake server.
func writeConfig(t *testing.T, addr, extra string) (cfgPath, dir string) {
	t.Helper()
	dir = t.TempDir()
	host, port, _ := net.SplitHostPort(addr)
	cfg := fmt.Sprintf(`state = %q
log_level = "warn"
[[account]]
name = "fake"
server = %q
port = %s
tls = "none"
allow_insecure = true
user = "user"
password = "pass"
timeout = "5s"
%s
[[account.deliver]]
maildir = %q
`, filepath.Join(dir, "state", "fetchd.db"), host, port, extra, filepath.Join(dir, "Maildir"))
	cfgPath = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dir
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRun_ExitCodes(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Messages = []pop3test.Message{{UID: "a", Body: []byte("Subject: a\r\n\r\nA\r\n")}}
	srv.Start()
	good, dir := writeConfig(t, srv.Addr(), "")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[[account]]\nname = \"x\"\nprot = 1\n"), 0o600)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"no command", nil, exitUsage, ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, ""},
		{"version", []string{"--version"}, exitOK, "fetchd "},
		{"check good", []string{"check", "-c", good}, exitOK, "fake: user at"},
		{"check bad", []string{"check", "-c", bad}, exitUsage, ""},
		{"once bad config", []string{"once", "-c", bad}, exitUsage, ""},
		{"once unknown account", []string{"once", "-c", good, "nope"}, exitUsage, ""},
		{"once ok", []string{"once", "-c", good}, exitOK, "fake: 1 fetched, 1 deleted, 0 failed"},
		{"once again, nothing new", []string{"once", "-c", good, "fake"}, exitOK, "fake: 0 fetched, 0 deleted, 0 failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, errOut)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout %q, want it to contain %q", out, tc.wantOut)
			}
		})
	}
}

func TestRun_CheckNamesEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	os.WriteFile(path, []byte(`[[account]]
name = "work"
usr = "me"
port = 70000
password = "x"
[[account.deliver]]
maildir = "/tmp/x"
`), 0o600)
	code, _, errOut := runCLI("check", "-c", path)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{`unknown key "usr"`, "server: required", "port: must be 1..65535, got 70000", path} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
}

func TestRun_FailedAccountExitsOne(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Password = "other"
	srv.Start()
	cfg, _ := writeConfig(t, srv.Addr(), "")
	code, out, _ := runCLI("once", "-c", cfg)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(out, "invalid credentials") || strings.Contains(out, "pass\"") {
		t.Errorf("summary %q, want the server's reason and no password", out)
	}
}

func TestRun_LockedStateExitsThree(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Start()
	cfg, dir := writeConfig(t, srv.Addr(), "")
	store, err := state.Open(filepath.Join(dir, "state", "fetchd.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	code, _, errOut := runCLI("once", "-c", cfg)
	if code != exitStateLocked {
		t.Errorf("exit %d, want %d; stderr %s", code, exitStateLocked, errOut)
	}
	if !strings.Contains(errOut, "in use") {
		t.Errorf("stderr %q does not say the store is in use", errOut)
	}
}
