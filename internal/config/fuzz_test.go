package config

import (
	"errors"
	"testing"
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
			if a.FailedRetryAfter <= 0 || a.OnPermanentFailure == "quarantine" && a.QuarantineMaildir == "" {
				t.Fatalf("invalid failure policy accepted: %+v", *a)
			}
			for _, d := range a.Deliver {
				if d.Kind() == "" || d.Target() == "" {
					t.Fatalf("empty deliver entry accepted: %+v", *a)
				}
				mda := d.Kind() == "mda" || d.Kind() == "mda_shell"
				if mda != (d.MDATimeout > 0) || (d.Kind() == "smtp") != (d.SMTPTLS != "") ||
					(d.SMTPUser == "") != (d.SMTPPassword == "" && d.SMTPPasswordFile == "" && d.SMTPPasswordCommand == nil) {
					t.Fatalf("invalid deliver entry accepted: %+v", d)
				}
			}
			_ = a.Describe()
		}
	})
}
