package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// FuzzParse checks that no input makes Parse panic, that failures are always
// an *Errors with at least one problem, and that a config that parses
// satisfies the invariants validation promises. It also runs the line
// locator on raw input, which Parse only runs on valid TOML.
func FuzzParse(f *testing.F) {
	f.Add([]byte(accountTOML(nil, false)))
	f.Add([]byte("[defaults]\nkeep = true\n[[defaults.deliver]]\nmaildir = \"~/Maildir\"\n" + accountTOML(nil, true)))
	f.Add([]byte(deliverTOML(`smtp = "mail.example.com:587"`, `smtp_user = "me"`, `smtp_password = "pw"`, `recipients = ["me"]`)))
	f.Add([]byte(deliverTOML(`mda = ["/usr/bin/procmail", "-d", "me"]`, `mda_temp_codes = [69]`, `from = "a@b"`)))
	f.Add([]byte(accountTOML(map[string]string{"on_permanent_failure": `"quarantine"`, "quarantine_maildir": `"/q"`}, false)))
	f.Add([]byte("max_parallel = 8\nmax_per_server = 1\nlisten = \"[::1]:9467\"\nnotify_command = [\"notify\"]\n" +
		accountTOML(map[string]string{"schedule": `"CRON_TZ=UTC 0 7-22 * * 1-5"`, "jitter": `"0s"`, "backoff_max": `"2h"`, "pause_after_auth_failures": "5"}, false)))
	f.Add([]byte(accountTOML(map[string]string{"auth": `"scram-sha-256"`, "tls": `"starttls"`, "tls_min_version": `"1.3"`,
		"tls_server_name": `"192.0.2.1"`, "tls_pin_spki": `["sha256/9WmobTwsjX3aJrXb6iC9XBnus138Y/23JLrE8hwieFA="]`,
		"tls_fingerprint": `"AB:CD:EF:01:23:45:67:89:00:FF:10:20:30:40:50:60:70:80:90:A0:B0:C0:D0:E0:F0:0F:1E:2D:3C:4B:5A:69"`,
		"password_file":   "-", "password_credential": `"work"`}, false)))
	f.Add([]byte(deliverTOML(`smtp = "mail.example.com:587"`, `smtp_user = "me"`, `smtp_password_credential = "smtp"`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		locate(data)
		cfg, err := Parse("fuzz.toml", data)
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.Problems) == 0 {
				t.Fatalf("error %T %v is not a non-empty *Errors", err, err)
			}
			for _, p := range errs.Problems {
				if p.Error() == "" || p.Msg == "" {
					t.Fatalf("empty problem %+v", p)
				}
			}
			return
		}
		if len(cfg.Accounts) == 0 {
			t.Fatal("valid config without accounts")
		}
		if cfg.MaxParallel < 1 || cfg.MaxPerServer < 1 || cfg.Listen != "" && checkListen(cfg.Listen) != "" ||
			cfg.NotifyCommand != nil && (len(cfg.NotifyCommand) == 0 || cfg.NotifyCommand[0] == "") {
			t.Fatalf("invalid daemon settings accepted: %+v", cfg)
		}
		names := map[string]bool{}
		for _, a := range cfg.Accounts {
			if a.Name == "" || names[a.Name] || a.Server == "" || a.User == "" {
				t.Fatalf("invalid account accepted: %+v", *a)
			}
			names[a.Name] = true
			if a.Port < 1 || a.Port > 65535 || a.Timeout <= 0 || a.MaxMessageSize < 0 || len(a.Deliver) == 0 {
				t.Fatalf("invalid account accepted: %+v", *a)
			}
			if a.TLS == "none" && !a.AllowInsecure {
				t.Fatalf("insecure account accepted: %+v", *a)
			}
			if !slices.Contains(authMethods, a.Auth) || a.TLSMinVersion != "1.2" && a.TLSMinVersion != "1.3" ||
				(a.TLSClientCert == "") != (a.TLSClientKey == "") {
				t.Fatalf("invalid auth or TLS settings accepted: %+v", *a)
			}
			if len(a.TLSFingerprints) != len(a.TLSFingerprint) || len(a.TLSPinsSPKI) != len(a.TLSPinSPKI) ||
				a.TLS == "none" && (a.TLSFingerprint != nil || a.TLSPinSPKI != nil) {
				t.Fatalf("invalid pins accepted: %+v", *a)
			}
			if a.PasswordCredential != "" && checkCredential(a.PasswordCredential) != "" {
				t.Fatalf("invalid password_credential accepted: %+v", *a)
			}
			if a.FailedRetryAfter <= 0 || a.OnPermanentFailure == "quarantine" && a.QuarantineMaildir == "" {
				t.Fatalf("invalid failure policy accepted: %+v", *a)
			}
			for _, d := range a.Deliver {
				if d.Kind() == "" || d.Target() == "" {
					t.Fatalf("empty deliver entry accepted: %+v", *a)
				}
				mda := d.Kind() == "mda" || d.Kind() == "mda_shell"
				if mda != (d.MDATimeout > 0) || (d.Kind() == "smtp") != (d.SMTPTLS != "") ||
					(d.SMTPUser == "") != (d.SMTPPassword == "" && d.SMTPPasswordFile == "" && d.SMTPPasswordCommand == nil && d.SMTPPasswordCredential == "") {
					t.Fatalf("invalid deliver entry accepted: %+v", d)
				}
			}
			if _, err := cron.ParseStandard(a.Schedule); err != nil || a.Jitter < 0 || a.BackoffMax <= 0 || a.PauseAfterAuthFailures < 1 {
				t.Fatalf("invalid polling settings accepted: %+v", *a)
			}
			if o := a.OAuth2; o != nil {
				if a.Auth != "xoauth2" && a.Auth != "oauthbearer" ||
					a.Password != "" || a.PasswordFile != "" || a.PasswordCommand != nil || a.PasswordCredential != "" {
					t.Fatalf("invalid oauth2 account accepted: %+v", *a)
				}
				if o.ClientID == "" || o.ClientSecret != "" && o.ClientSecretFile != "" ||
					checkOAuthURL(o.AuthURL) != "" || checkOAuthURL(o.TokenURL) != "" ||
					o.Flow != FlowLoopback && o.Flow != FlowDevice ||
					o.Flow == FlowDevice && (o.Provider == ProviderGoogle || checkOAuthURL(o.DeviceAuthURL) != "") {
					t.Fatalf("invalid oauth2 table accepted: %#v %q", o, []string{o.Provider, o.ClientID, o.AuthURL, o.TokenURL, o.DeviceAuthURL, o.Flow})
				}
			}
			_ = a.Describe()
		}
	})
}

// FuzzCheckSchedule checks that no schedule string makes the check (or the
// cron parser under it) panic, and that every schedule it accepts is one the
// daemon's cron.ParseStandard takes and that runs again, at least a second
// later.
func FuzzCheckSchedule(f *testing.F) {
	for _, s := range []string{"@every 5m", "*/5 * * * *", "@hourly", "0 7-22 * * 1-5", "30 8 * jan-jun mon,fri",
		"CRON_TZ=UTC 0 7 * * *", "TZ=UTC", "TZ=UTC\t@daily", "@every 0s", "0 0 30 2 *", "1-5/0 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkSchedule(s) != "" {
			return
		}
		sched, err := cron.ParseStandard(s)
		if err != nil {
			t.Fatalf("%q accepted, but ParseStandard says %v", s, err)
		}
		now := time.Now()
		next := sched.Next(now)
		if next.IsZero() || sched.Next(next).Sub(next) < time.Second {
			t.Fatalf("%q accepted, but runs at %v then %v", s, next, sched.Next(next))
		}
	})
}

// FuzzPasswordNeverShown puts any one-line value after "password = " in an
// otherwise valid file, and checks that no problem can show it: every syntax
// error, wherever the lexer stops, is the one that shows nothing, and every
// other problem about password is one of the fixed messages.
func FuzzPasswordNeverShown(f *testing.F) {
	for _, v := range []string{`"ok"`, "hunter2", "12345678", "1234x", `"abc`, `'abc`, `"""abc`, `'''abc`, `"""a"""b`,
		`["a",`, `{x = 1`, `"a\qb"`, `"a\u00ZZ"`, "1979-05-27T", "0xZZ", "true", `"a" # c`, "[[x]]", `"a\`} {
		f.Add(v)
	}
	const head = "[[account]]\nname = \"a\"\nserver = \"s\"\nuser = \"u\"\n"
	const tail = "[[account.deliver]]\nmaildir = \"/m\"\n"
	redacted := `syntax error in a password value (not shown): quote it, as in password = "…" (or '…' if it holds " or \)`
	fixed := []string{secretTypeMsg, "must not be empty", "must not contain line breaks or NUL characters (the value is not shown: it is a password)"}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsRune(v, '\n') {
			return // a second line could hold another key, with errors of its own
		}
		_, err := Parse("fuzz.toml", []byte(head+"password = "+v+"\n"+tail))
		var errs *Errors
		if !errors.As(err, &errs) {
			return
		}
		for _, p := range errs.Problems {
			switch {
			case strings.HasPrefix(p.Msg, "syntax error") && (p.Msg != redacted || p.Line != 5):
				t.Fatalf("value %q: got %q, want line 5: %s", v, p.Error(), redacted)
			case p.Key == "password" && !slices.Contains(fixed, p.Msg):
				t.Fatalf("value %q: got %q", v, p.Error())
			}
		}
	})
}

// FuzzParseFingerprint checks that a fingerprint parses only as 32 bytes
// written as 64 hex digits, with or without colons between the pairs, and
// that each of its spellings gives the same bytes.
func FuzzParseFingerprint(f *testing.F) {
	for _, s := range []string{
		"AB:CD:EF:01:23:45:67:89:00:FF:10:20:30:40:50:60:70:80:90:A0:B0:C0:D0:E0:F0:0F:1E:2D:3C:4B:5A:69",
		"abcdef012345678900ff102030405060708090a0b0c0d0e0f00f1e2d3c4b5a69",
		"ab:cd", "a:bc", "", ":", "sha256 Fingerprint=AB:CD", "AbCdEf012345678900ff102030405060708090a0b0c0d0e0f00f1e2d3c4b5a6",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := parseFingerprint(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: empty error", s)
			}
			return
		}
		s = strings.TrimSpace(s)
		plain := strings.ReplaceAll(s, ":", "")
		if len(plain) != 64 || len(s) != 64 && len(s) != 95 {
			t.Fatalf("%q accepted", s)
		}
		lower := hex.EncodeToString(fp[:])
		if !strings.EqualFold(plain, lower) {
			t.Fatalf("%q parsed as %s", s, lower)
		}
		pairs := make([]string, 32)
		for i := range pairs {
			pairs[i] = strings.ToUpper(lower[2*i : 2*i+2])
		}
		for _, spelling := range []string{lower, strings.ToUpper(lower), strings.Join(pairs, ":"), strings.ToLower(strings.Join(pairs, ":"))} {
			if got, err := parseFingerprint(spelling); err != nil || got != fp {
				t.Fatalf("%q parsed as %x, but %q as %x, %v", s, fp, spelling, got, err)
			}
		}
	})
}

// FuzzParseSPKIPin checks that a pin parses only as the canonical base64 of
// 32 bytes, bare or after "sha256/" or "sha256//", and round-trips.
func FuzzParseSPKIPin(f *testing.F) {
	for _, s := range []string{
		"9WmobTwsjX3aJrXb6iC9XBnus138Y/23JLrE8hwieFA=", "sha256/9WmobTwsjX3aJrXb6iC9XBnus138Y/23JLrE8hwieFA=",
		"sha256//9WmobTwsjX3aJrXb6iC9XBnus138Y/23JLrE8hwieFA=", "9WmobTwsjX3aJrXb6iC9XBnus138Y_23JLrE8hwieFA=",
		"9WmobTwsjX3aJrXb6iC9XBnus138Y/23JLrE8hwieFA", "9WmobTwsjX3aJrXb6iC9XBnus138Y/23JLrE8hwieFB=", "", "sha256/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pin, err := parseSPKIPin(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: empty error", s)
			}
			return
		}
		b64 := base64.StdEncoding.EncodeToString(pin[:])
		rest := strings.TrimSpace(s)
		if len(rest) >= 7 && strings.EqualFold(rest[:7], "sha256/") {
			rest = rest[7:]
			if rest != b64 {
				rest = strings.TrimPrefix(rest, "/")
			}
		}
		if rest != b64 {
			t.Fatalf("%q accepted as %s", s, b64)
		}
		if got, err := parseSPKIPin(b64); err != nil || got != pin {
			t.Fatalf("%q parsed as %x, but %q as %x, %v", s, pin, b64, got, err)
		}
	})
}
