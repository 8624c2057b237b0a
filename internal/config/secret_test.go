package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAccount_Secret(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		acct    Account
		want    string
		wantErr []string // substrings of the error
	}{
		{name: "inline", acct: Account{Password: "hunter2"}, want: "hunter2"},
		{name: "file LF", acct: Account{PasswordFile: writeFile(t, dir, "lf", "pw \n", 0o600)}, want: "pw "},
		{name: "file CRLF", acct: Account{PasswordFile: writeFile(t, dir, "crlf", "pw\r\n", 0o600)}, want: "pw"},
		{name: "file no newline", acct: Account{PasswordFile: writeFile(t, dir, "none", "pw", 0o400)}, want: "pw"},
		{name: "file only one newline trimmed", acct: Account{PasswordFile: writeFile(t, dir, "two", "pw\n\n", 0o600)},
			wantErr: []string{"line break"}},
		{name: "file readable by others", acct: Account{PasswordFile: writeFile(t, dir, "open", "pw\n", 0o644)},
			wantErr: []string{`account "work": ` + dir + "/open: holds a password but is readable by others (mode 0644): run chmod 600 " + dir + "/open"}},
		{name: "file readable by group", acct: Account{PasswordFile: writeFile(t, dir, "group", "pw\n", 0o640)},
			wantErr: []string{"(mode 0640): run chmod 600"}},
		{name: "file empty", acct: Account{PasswordFile: writeFile(t, dir, "empty", "\n", 0o600)},
			wantErr: []string{"password is empty"}},
		{name: "file missing", acct: Account{PasswordFile: dir + "/missing"},
			wantErr: []string{`account "work": password_file ` + dir + "/missing: does not exist"}},
		{name: "command", acct: Account{PasswordCommand: []string{"sh", "-c", "printf 's3cret \\n\\n'"}}, want: "s3cret"},
		{name: "command fails", acct: Account{PasswordCommand: []string{"sh", "-c", "echo leaked; echo 'gpg: decryption failed' >&2; exit 2"}},
			wantErr: []string{`account "work": password_command "sh": exit status 2: gpg: decryption failed: run it by hand`}},
		{name: "command not found", acct: Account{PasswordCommand: []string{"/nonexistent/fetchd-pass"}},
			wantErr: []string{"password_command"}},
		{name: "command prints nothing", acct: Account{PasswordCommand: []string{"true"}},
			wantErr: []string{"password is empty"}},
		{name: "command prints two lines", acct: Account{PasswordCommand: []string{"sh", "-c", "printf 'a\\nleaked\\n'"}},
			wantErr: []string{"line break", "head -n 1"}},
		{name: "command prints too much", acct: Account{PasswordCommand: []string{"sh", "-c", "head -c 100000 /dev/zero"}},
			wantErr: []string{"printed more than 64 KiB"}},
		{name: "no source", acct: Account{}, wantErr: []string{`account "work": no password`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.acct.Name = "work"
			got, err := tt.acct.Secret(context.Background())
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "leaked") {
				t.Errorf("error includes the command's stdout: %q", err)
			}
		})
	}
}

func TestAccount_SecretCommandTimeout(t *testing.T) {
	old := secretTimeout
	secretTimeout = 200 * time.Millisecond
	t.Cleanup(func() { secretTimeout = old })

	a := &Account{Name: "work", PasswordCommand: []string{"sh", "-c", "echo waiting >&2; sleep 30"}}
	start := time.Now()
	_, err := a.Secret(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms: waiting: make sure it does not wait for input") {
		t.Errorf("got %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// The caller's own deadline is reported as such.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	secretTimeout = time.Minute
	_, err = a.Secret(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestAccount_SecretCredential(t *testing.T) {
	creds := t.TempDir()
	// systemd may give a credential mode 0440 with an ACL for the service's
	// user: no mode check applies.
	writeFile(t, creds, "work-pass", "s3cret\n", 0o440)
	writeFile(t, creds, "smtp", "smtp-pw", 0o644)
	writeFile(t, creds, "two-lines", "a\nleaked\n", 0o400)
	tests := []struct {
		name    string
		env     string // $CREDENTIALS_DIRECTORY
		cred    string
		want    string
		wantErr string // the whole error
	}{
		{name: "found", env: creds, cred: "work-pass", want: "s3cret"},
		{name: "readable by others is fine", env: creds, cred: "smtp", want: "smtp-pw"},
		{name: "no CREDENTIALS_DIRECTORY", env: "", cred: "work-pass",
			wantErr: `account "work": password_credential "work-pass": $CREDENTIALS_DIRECTORY is not set: ` +
				`fetchd must run as a systemd service with LoadCredential=work-pass:/path/to/secret (or LoadCredentialEncrypted=) in its unit; ` +
				`outside systemd use password_file instead`},
		{name: "not loaded", env: creds, cred: "home-pass",
			wantErr: `account "work": password_credential "home-pass": ` + creds + `/home-pass does not exist: ` +
				`add LoadCredential=home-pass:/path/to/secret to the unit (the name must match password_credential)`},
		{name: "two lines", env: creds, cred: "two-lines",
			wantErr: `account "work": password_credential "two-lines": the password contains a line break: the file must hold only the password, on one line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", tt.env)
			a := &Account{Name: "work", PasswordCredential: tt.cred}
			got, err := a.Secret(context.Background())
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("got %q, %v\nwant error %q", got, err, tt.wantErr)
			}
		})
	}

	t.Run("smtp", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", creds)
		d := &Deliver{SMTP: "mail.example.com:587", SMTPUser: "me", SMTPPasswordCredential: "smtp", account: "work"}
		if got, err := d.SMTPSecret(context.Background()); err != nil || got != "smtp-pw" {
			t.Errorf("got %q, %v", got, err)
		}
		t.Setenv("CREDENTIALS_DIRECTORY", "")
		_, err := d.SMTPSecret(context.Background())
		if want := `account "work": smtp mail.example.com:587: smtp_password_credential "smtp": $CREDENTIALS_DIRECTORY is not set: ` +
			`fetchd must run as a systemd service with LoadCredential=smtp:/path/to/secret`; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v, want %q…", err, want)
		}
		if err != nil && !strings.HasSuffix(err.Error(), "use smtp_password_file instead") {
			t.Errorf("got %v, want it to suggest smtp_password_file", err)
		}
	})
}
