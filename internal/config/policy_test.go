package config

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"testing"
	"time"
)

// stubUsers makes run_as accept only the given user names.
func stubUsers(t *testing.T, names ...string) {
	t.Helper()
	old := lookupUser
	lookupUser = func(name string) (*user.User, error) {
		if name == "broken" {
			return nil, errors.New("nsswitch: connection refused")
		}
		for _, n := range names {
			if n == name {
				return &user.User{Username: name}, nil
			}
		}
		return nil, user.UnknownUserError(name)
	}
	t.Cleanup(func() { lookupUser = old })
}

func TestParse_FailurePolicyKeys(t *testing.T) {
	home := setHome(t)
	stubUsers(t, "mail")
	tests := []struct {
		name  string
		over  map[string]string
		want  string
		check func(*Account) bool
	}{
		{"defaults", nil, "", func(a *Account) bool {
			return a.OnPermanentFailure == "keep" && a.QuarantineMaildir == "" && a.FailedRetryAfter == 24*time.Hour &&
				a.TraceHeaders && a.RunAs == ""
		}},
		{"quarantine", map[string]string{"on_permanent_failure": `"quarantine"`, "quarantine_maildir": `"~/Mail/q"`}, "", func(a *Account) bool {
			return a.OnPermanentFailure == "quarantine" && a.QuarantineMaildir == home+"/Mail/q"
		}},
		{"quarantine without maildir", map[string]string{"on_permanent_failure": `"quarantine"`},
			`account "work": quarantine_maildir: required with on_permanent_failure = "quarantine"`, nil},
		{"quarantine with bad maildir reported once", map[string]string{"on_permanent_failure": `"quarantine"`, "quarantine_maildir": `"q"`},
			"quarantine_maildir: must be an absolute path", nil},
		{"quarantine_maildir with keep", map[string]string{"quarantine_maildir": `"/q"`}, "", func(a *Account) bool {
			return a.OnPermanentFailure == "keep" && a.QuarantineMaildir == "/q"
		}},
		{"on_permanent_failure bad", map[string]string{"on_permanent_failure": `"bounce"`},
			`on_permanent_failure: must be one of "keep", "quarantine", got "bounce"`, nil},
		{"failed_retry_after", map[string]string{"failed_retry_after": `"2d"`}, "", func(a *Account) bool { return a.FailedRetryAfter == 48*time.Hour }},
		{"failed_retry_after zero", map[string]string{"failed_retry_after": `"0s"`}, "failed_retry_after: must be more than zero, got 0s", nil},
		{"failed_retry_after number", map[string]string{"failed_retry_after": `3600`}, "failed_retry_after: must be a duration string", nil},
		{"trace_headers off", map[string]string{"trace_headers": "false"}, "", func(a *Account) bool { return !a.TraceHeaders }},
		{"trace_headers on", map[string]string{"trace_headers": "true"}, "", func(a *Account) bool { return a.TraceHeaders }},
		{"trace_headers quoted", map[string]string{"trace_headers": `"no"`}, `trace_headers: must be true or false, got the string "no"`, nil},
		{"run_as", map[string]string{"run_as": `"mail"`}, "", func(a *Account) bool { return a.RunAs == "mail" }},
		{"run_as unknown", map[string]string{"run_as": `"nosuchuser"`}, `account "work": run_as: no such local user "nosuchuser"`, nil},
		{"run_as lookup fails", map[string]string{"run_as": `"broken"`}, `run_as: cannot look up user "broken": nsswitch: connection refused`, nil},
		{"run_as empty", map[string]string{"run_as": `""`}, "run_as: must not be empty", nil},
		{"run_as number", map[string]string{"run_as": `1000`}, "run_as: must be a string", nil},
		{"guard defaults", nil, "", func(a *Account) bool { return a.InitialSyncLimit == 1000 && a.SessionTimeout == time.Hour }},
		{"initial_sync_limit off", map[string]string{"initial_sync_limit": "0"}, "", func(a *Account) bool { return a.InitialSyncLimit == 0 }},
		{"initial_sync_limit negative", map[string]string{"initial_sync_limit": "-1"}, "initial_sync_limit: must be", nil},
		{"session_timeout", map[string]string{"session_timeout": `"2h"`}, "", func(a *Account) bool { return a.SessionTimeout == 2*time.Hour }},
		{"session_timeout zero", map[string]string{"session_timeout": `"0s"`}, "session_timeout: must be more than zero", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := accountTOML(tt.over, false)
			if tt.want != "" {
				errs := mustFail(t, data, tt.want)
				if len(errs.Problems) != 1 {
					t.Errorf("got %d problems, want 1:\n%v", len(errs.Problems), errs)
				}
				return
			}
			if a := mustParse(t, data).Accounts[0]; !tt.check(a) {
				t.Errorf("check failed: %#v", tt.over)
			}
		})
	}
}

// run_as is looked up in the real user database when not stubbed.
func TestParse_RunAsRealUser(t *testing.T) {
	setHome(t)
	me, err := user.Current()
	if err != nil || me.Username == "" || !isBareName(me.Username) {
		t.Skip("no usable current user")
	}
	mustParse(t, accountTOML(map[string]string{"run_as": fmt.Sprintf("%q", me.Username)}, false))
	mustFail(t, accountTOML(map[string]string{"run_as": `"fetchd-no-such-user-x9"`}, false), `no such local user "fetchd-no-such-user-x9"`)
}

func isBareName(s string) bool {
	return !strings.ContainsAny(s, "\"\\\n")
}

func TestParse_FailurePolicyInherited(t *testing.T) {
	setHome(t)
	stubUsers(t, "mail")
	defaults := "[defaults]\non_permanent_failure = \"quarantine\"\nquarantine_maildir = \"/q\"\n" +
		"failed_retry_after = \"1h\"\ntrace_headers = false\nrun_as = \"mail\"\n"
	own := accountTOML(map[string]string{"trace_headers": "true", "on_permanent_failure": `"keep"`, "failed_retry_after": `"5m"`}, false)
	data := defaults + accountTOML(nil, false) + asHome(own)
	cfg := mustParse(t, data)
	a, b := cfg.Account("work"), cfg.Account("home")
	if a.OnPermanentFailure != "quarantine" || a.QuarantineMaildir != "/q" || a.FailedRetryAfter != time.Hour || a.TraceHeaders || a.RunAs != "mail" {
		t.Errorf("work did not inherit: %q %q %v %t %q", a.OnPermanentFailure, a.QuarantineMaildir, a.FailedRetryAfter, a.TraceHeaders, a.RunAs)
	}
	if b.OnPermanentFailure != "keep" || b.QuarantineMaildir != "/q" || b.FailedRetryAfter != 5*time.Minute || !b.TraceHeaders || b.RunAs != "mail" {
		t.Errorf("home did not override: %q %q %v %t %q", b.OnPermanentFailure, b.QuarantineMaildir, b.FailedRetryAfter, b.TraceHeaders, b.RunAs)
	}

	// A bad value in [defaults] is reported once, there.
	data = "[defaults]\nrun_as = \"nobody-here\"\nfailed_retry_after = \"-1h\"\n" + accountTOML(nil, false) +
		asHome(accountTOML(nil, false))
	errs := mustFail(t, data, `config.toml:2: defaults: run_as: no such local user "nobody-here"`,
		"config.toml:3: defaults: failed_retry_after: must be more than zero")
	if len(errs.Problems) != 2 {
		t.Errorf("got %d problems, want 2:\n%v", len(errs.Problems), errs)
	}
}

func TestLoad_SMTPPasswordPermissions(t *testing.T) {
	setHome(t)
	entry := "smtp = \"mail.example.com:587\"\nsmtp_user = \"me\"\n"
	tests := []struct {
		name, data string
		refused    bool
	}{
		{"account inline", deliverTOML(entry + `smtp_password = "hunter2"`), true},
		{"defaults inline", "[defaults]\n[[defaults.deliver]]\n" + entry + "smtp_password = \"hunter2\"\n" + accountTOML(nil, true), true},
		{"file source", deliverTOML(entry + `smtp_password_file = "/p"`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "config.toml", tt.data, 0o644)
			_, err := Load(p)
			if tt.refused != (err != nil) {
				t.Fatalf("Load: got %v, want refused %t", err, tt.refused)
			}
			if tt.refused && !strings.Contains(err.Error(), "holds a password but is readable by others (mode 0644): run chmod 600 "+p) {
				t.Errorf("got %q", err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %q", err)
			}
		})
	}
}

func TestAccount_DescribeTargets(t *testing.T) {
	a := &Account{
		Name: "work", Server: "pop.example.com", Port: 995, TLS: "implicit", User: "me@example.com", Auth: "auto",
		Deliver: []Deliver{
			{Maildir: "/x"},
			{MDA: []string{"/usr/bin/procmail"}},
			{SMTP: "localhost:25", SMTPTLS: "starttls", SMTPUser: "me", SMTPPassword: "hunter2"},
			{LMTP: "/run/dovecot/lmtp", From: "a@b"},
			{MDAShell: "procmail -d me"},
			{Mbox: "/var/mail/me"},
		},
	}
	want := "→ maildir /x, mda /usr/bin/procmail, smtp localhost:25 (starttls), lmtp /run/dovecot/lmtp, mda_shell procmail -d me, mbox /var/mail/me"
	if got := a.Describe(); !strings.HasSuffix(got, want) {
		t.Errorf("got %q, want it to end with %q", got, want)
	}
	d := a.Deliver[2]
	for _, s := range []string{a.Describe(), fmt.Sprint(a), fmt.Sprintf("%+v %#v", *a, a), fmt.Sprint(d),
		fmt.Sprintf("%v %+v %#v %s", d, d, d, &d), fmt.Sprintf("%+v %#v", a.Deliver, a.Deliver)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("printed the SMTP password: %s", s)
		}
	}
}

func TestDeliver_SMTPSecret(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		d       Deliver
		want    string
		wantErr string
	}{
		{name: "none", d: Deliver{SMTP: "h:25"}},
		{name: "inline", d: Deliver{SMTP: "h:25", SMTPPassword: "pw"}, want: "pw"},
		{name: "file", d: Deliver{SMTP: "h:25", SMTPPasswordFile: writeFile(t, dir, "ok", "pw\n", 0o600)}, want: "pw"},
		{name: "file open", d: Deliver{SMTP: "h:25", SMTPPasswordFile: writeFile(t, dir, "open", "pw\n", 0o644)},
			wantErr: `account "work": smtp h:25: ` + dir + "/open: holds a password but is readable by others (mode 0644): run chmod 600"},
		{name: "file missing", d: Deliver{SMTP: "h:25", SMTPPasswordFile: dir + "/missing"},
			wantErr: `account "work": smtp h:25: smtp_password_file ` + dir + "/missing: does not exist"},
		{name: "command", d: Deliver{SMTP: "h:25", SMTPPasswordCommand: []string{"sh", "-c", "echo s3cret"}}, want: "s3cret"},
		{name: "command fails", d: Deliver{SMTP: "h:25", SMTPPasswordCommand: []string{"sh", "-c", "echo leaked; exit 3"}},
			wantErr: `account "work": smtp h:25: smtp_password_command "sh": exit status 3`},
		{name: "command two lines", d: Deliver{SMTP: "h:25", SMTPPasswordCommand: []string{"sh", "-c", "printf 'a\\nleaked\\n'"}},
			wantErr: "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.d.account = "work"
			got, err := tt.d.SMTPSecret(context.Background())
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %q, %v; want error %q", got, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "leaked") {
				t.Errorf("error includes the command's stdout: %q", err)
			}
		})
	}
}

// Entries inherited from [defaults] name the account that uses them.
func TestDeliver_SMTPSecretNamesAccount(t *testing.T) {
	setHome(t)
	data := "[defaults]\n[[defaults.deliver]]\nsmtp = \"h:25\"\nsmtp_user = \"me\"\nsmtp_password_file = \"/nonexistent/p\"\n" +
		accountTOML(nil, true) + asHome(accountTOML(nil, true))
	for _, a := range mustParse(t, data).Accounts {
		_, err := a.Deliver[0].SMTPSecret(context.Background())
		if want := accountLabel(a.Name) + ": smtp h:25: smtp_password_file /nonexistent/p: does not exist"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
