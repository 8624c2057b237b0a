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
