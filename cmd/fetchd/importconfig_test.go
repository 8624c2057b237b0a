package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const importFixtures = "../../internal/importconfig/testdata"

// TestImportConfig_ManPageExamplesPassCheck is the acceptance test: the
// man-page examples of fetchmail, mpop and getmail import into a
// configuration that `fetchd check` accepts, with their inline passwords
// in 0600 files and nowhere in the output.
func TestImportConfig_ManPageExamplesPassCheck(t *testing.T) {
	tests := []struct {
		program, fixture string
		passwords        []string
		accounts         int
	}{
		{"fetchmail", "fetchmail/manpage-defaults.rc", []string{"secret1", "secret2"}, 2},
		{"fetchmail", "fetchmail/manpage-basic.rc", []string{"secret1", "4u but u cannot krak this"}, 2},
		{"mpop", "mpop/manpage.rc", nil, 3},
		{"getmail", "getmail/getmailrc-quiet", []string{"mailpassword"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			dir := t.TempDir()
			secrets := filepath.Join(dir, "secrets")
			code, out, errOut := runCLI("import-config", "--secrets-dir", secrets, tt.program, filepath.Join(importFixtures, tt.fixture))
			if code != exitOK {
				t.Fatalf("import-config: exit %d, stderr %s", code, errOut)
			}
			for _, pw := range tt.passwords {
				if strings.Contains(out, pw) || strings.Contains(errOut, pw) {
					t.Errorf("a password of the source is in the output")
				}
			}
			files, _ := filepath.Glob(filepath.Join(secrets, "*.password"))
			if len(files) < len(tt.passwords) {
				t.Errorf("%d password files, want at least %d", len(files), len(tt.passwords))
			}
			for _, f := range files {
				if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v, mode %v, want 0600", f, err, fi.Mode().Perm())
				}
			}
			cfg := filepath.Join(dir, "config.toml")
			if err := os.WriteFile(cfg, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			code, checkOut, checkErr := runCLI("check", "-c", cfg)
			if code != exitOK {
				t.Fatalf("check refuses the imported configuration: exit %d\n%s\n%s", code, checkErr, out)
			}
			if want := strconv.Itoa(tt.accounts) + " account(s)"; !strings.Contains(checkOut, want) {
				t.Errorf("check: %q, want %q", checkOut, want)
			}
		})
	}
}

// TestImportConfig_KeepsExistingPasswordFiles: a second import does not
// overwrite the password files of the first without --force, and prints
// nothing then.
func TestImportConfig_KeepsExistingPasswordFiles(t *testing.T) {
	secrets := filepath.Join(t.TempDir(), "secrets")
	rc := filepath.Join(importFixtures, "fetchmail/manpage-defaults.rc")
	if code, _, errOut := runCLI("import-config", "--secrets-dir", secrets, "fetchmail", rc); code != exitOK {
		t.Fatalf("first import: exit %d: %s", code, errOut)
	}
	pw := filepath.Join(secrets, "jsmith-pop.provider.net.password")
	if err := os.WriteFile(pw, []byte("changed by the user\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("import-config", "--secrets-dir", secrets, "fetchmail", rc)
	if code != exitFailed || out != "" || !strings.Contains(errOut, "--force") {
		t.Fatalf("second import: exit %d, stdout %q, stderr %q; want exit %d, no output, a hint at --force", code, out, errOut, exitFailed)
	}
	if data, _ := os.ReadFile(pw); string(data) != "changed by the user\n" {
		t.Errorf("the existing password file was overwritten")
	}
	// Flags may also follow the program name.
	code, out, errOut = runCLI("import-config", "fetchmail", "--force", "--secrets-dir", secrets, rc)
	if code != exitOK || !strings.Contains(out, "[[account]]") {
		t.Fatalf("import with --force: exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(pw); string(data) != "secret1\n" {
		t.Errorf("--force did not replace the password file")
	}
	if fi, err := os.Stat(pw); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
}

func TestImportConfig_Usage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.rc")
	os.WriteFile(bad, []byte("poll a proto pop3\n  user u\n  keepp\n"), 0o600)
	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    string
		wantStderr string
	}{
		{"help", []string{"import-config", "--help"}, exitOK, "", "secrets-dir"},
		{"no program", []string{"import-config"}, exitUsage, "", "name the program"},
		{"unknown program", []string{"import-config", "procmail", bad}, exitUsage, "", `unknown program "procmail"`},
		{"syntax error", []string{"import-config", "--secrets-dir", t.TempDir(), "fetchmail", bad}, exitUsage, "", bad + `:3: unexpected "keepp"`},
		{"missing file", []string{"import-config", "mpop", bad + ".missing"}, exitUsage, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, out, errOut, tt.code, tt.wantOut, tt.wantStderr)
			}
		})
	}
}

// An account imported without TLS is named on stderr, not only in a
// comment of the output.
func TestImportConfig_WarnsOfCleartext(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "mpoprc")
	src := "account plain\nhost pop.example.net\nuser u\npassword p\ntls off\nauth user\ndelivery maildir /m\n" +
		"account safe\nhost pop.example.org\nuser u\npassword p\ntls on\nkeep on\ndelivery maildir /m\n"
	if err := os.WriteFile(rc, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("import-config", "--secrets-dir", filepath.Join(dir, "s"), "mpop", rc)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "account plain logs in without TLS") || strings.Contains(errOut, "account safe logs in") {
		t.Errorf("stderr %q: want a warning for plain only", errOut)
	}
	if !strings.Contains(errOut, "safe keep mail on the server: run `fetchd import-state mpop`") {
		t.Errorf("stderr %q: want the reminder to import the state of the keep-mode account", errOut)
	}
}
