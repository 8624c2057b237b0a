package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// deliverTOML is the base account with one deliver entry made of lines.
func deliverTOML(lines ...string) string {
	return accountTOML(nil, true) + "[[account.deliver]]\n" + strings.Join(lines, "\n") + "\n"
}

func TestParse_DeliverTargets(t *testing.T) {
	home := setHome(t)
	tests := []struct {
		name  string
		entry []string
		want  string // substring of the error; "" = valid
		check func(Deliver) bool
	}{
		{"maildir", []string{`maildir = "/m"`}, "", func(d Deliver) bool { return d.Kind() == "maildir" && d.Target() == "/m" }},
		{"mbox", []string{`mbox = "~/mbox"`}, "", func(d Deliver) bool { return d.Kind() == "mbox" && d.Mbox == home+"/mbox" }},
		{"mbox relative", []string{`mbox = "mbox"`}, "deliver #1: mbox: must be an absolute path", nil},
		{"mda", []string{`mda = ["/usr/bin/procmail", "-d", "me"]`}, "", func(d Deliver) bool {
			return d.Kind() == "mda" && d.Target() == "/usr/bin/procmail -d me" && d.MDATimeout == 10*time.Minute
		}},
		{"mda bare name", []string{`mda = ["procmail"]`}, "", func(d Deliver) bool { return d.Target() == "procmail" }},
		{"mda relative", []string{`mda = ["bin/procmail"]`}, `deliver #1: mda: the program must be an absolute path or a bare name looked up in $PATH, got "bin/procmail"`, nil},
		{"mda tilde", []string{`mda = ["~/bin/deliver"]`}, "~ is not expanded here", nil},
		{"mda empty", []string{`mda = []`}, "deliver #1: mda: must name a program", nil},
		{"mda empty program", []string{`mda = ["", "-d"]`}, "mda: must name a program", nil},
		{"mda NUL", []string{`mda = ["procmail", "a\u0000b"]`}, "mda: element 2 must not contain NUL", nil},
		{"mda string", []string{`mda = "procmail -d me"`}, "mda: must be an array of strings", nil},
		{"mda_shell", []string{`mda_shell = "procmail -d \"$USER\" | tee /dev/null"`}, "", func(d Deliver) bool {
			return d.Kind() == "mda_shell" && d.Target() == `procmail -d "$USER" | tee /dev/null` && d.MDATimeout == 10*time.Minute
		}},
		{"mda_shell blank", []string{`mda_shell = "  "`}, "deliver #1: mda_shell: must not be empty", nil},
		{"smtp", []string{`smtp = "mail.example.com:587"`}, "", func(d Deliver) bool {
			return d.Kind() == "smtp" && d.Target() == "mail.example.com:587" && d.SMTPTLS == "starttls" && d.MDATimeout == 0
		}},
		{"smtp no port", []string{`smtp = "mail.example.com"`}, `smtp: must include the port: write smtp = "mail.example.com:25"`, nil},
		{"smtp bracketed no port", []string{`smtp = "[::1]"`}, `must include the port: write smtp = "[::1]:25"`, nil},
		{"smtp ipv6 unbracketed", []string{`smtp = "2001:db8::1"`}, `write an IPv6 address in brackets, with the port: smtp = "[2001:db8::1]:25"`, nil},
		{"smtp empty host", []string{`smtp = ":25"`}, "smtp: the host must not be empty", nil},
		{"smtp port zero", []string{`smtp = "h:0"`}, `smtp: the port must be a number 1..65535, got "0"`, nil},
		{"smtp port name", []string{`smtp = "h:smtp"`}, `the port must be a number 1..65535, got "smtp"`, nil},
		{"smtp url", []string{`smtp = "smtp://h:25"`}, "smtp: must be host:port, not a URL", nil},
		{"smtp bad host", []string{`smtp = "mail example.com:25"`}, `smtp: the host must be a host name or IP address, got "mail example.com"`, nil},
		{"smtp empty", []string{`smtp = ""`}, "smtp: must not be empty", nil},
		{"lmtp socket", []string{`lmtp = "/run/dovecot/lmtp"`}, "", func(d Deliver) bool { return d.Kind() == "lmtp" && d.Target() == "/run/dovecot/lmtp" }},
		{"lmtp tcp", []string{`lmtp = "127.0.0.1:24"`}, "", func(d Deliver) bool { return d.LMTP == "127.0.0.1:24" && d.SMTPTLS == "" }},
		{"lmtp relative", []string{`lmtp = "run/lmtp"`}, `lmtp: must be an absolute unix socket path or host:port, got "run/lmtp"`, nil},
		{"lmtp tilde", []string{`lmtp = "~/lmtp"`}, "lmtp: write the socket's full path", nil},
		{"lmtp no port", []string{`lmtp = "localhost"`}, `lmtp: must include the port: write lmtp = "localhost:24"`, nil},
		{"two targets", []string{`maildir = "/m"`, `smtp = "localhost:25"`}, "deliver #1: smtp: this entry already has maildir: one target per entry", nil},
		{"no target", []string{`recipients = ["me"]`}, `deliver #1: no target: set maildir = "~/Maildir" (or mbox, mda, mda_shell, smtp or lmtp)`, nil},
		{"unknown key", []string{`smtp = "h:25"`, `smtp_pasword = "x"`}, `unknown key "smtp_pasword" (did you mean "smtp_password"?)`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runDeliverCase(t, deliverTOML(tt.entry...), tt.want, tt.check)
		})
	}
}

func runDeliverCase(t *testing.T, data, want string, check func(Deliver) bool) {
	t.Helper()
	if want != "" {
		mustFail(t, data, want)
		return
	}
	cfg := mustParse(t, data)
	if d := cfg.Accounts[0].Deliver; len(d) != 1 || !check(d[0]) {
		t.Errorf("check failed: %#v", d)
	}
}

func TestParse_DeliverKeys(t *testing.T) {
	setHome(t)
	tests := []struct {
		name  string
		entry []string
		want  string
		check func(Deliver) bool
	}{
		{"recipients smtp", []string{`smtp = "h:25"`, `recipients = ["me@example.com", "bob"]`}, "", func(d Deliver) bool {
			return slices.Equal(d.Recipients, []string{"me@example.com", "bob"})
		}},
		{"recipients default", []string{`mda = ["procmail"]`}, "", func(d Deliver) bool { return d.Recipients == nil }},
		{"recipients empty list", []string{`lmtp = "/run/lmtp"`, `recipients = []`}, "", func(d Deliver) bool { return len(d.Recipients) == 0 }},
		{"recipients maildir", []string{`maildir = "/m"`, `recipients = ["me"]`}, "deliver #1: recipients: only applies to mda, mda_shell, smtp or lmtp targets, this entry is maildir", nil},
		{"recipients empty element", []string{`smtp = "h:25"`, `recipients = ["a@b", ""]`}, "recipients: element 2 must not be empty", nil},
		{"recipients brackets", []string{`smtp = "h:25"`, `recipients = ["<a@b>"]`}, `recipients: element 1 must be a bare address or user name, without spaces, line breaks or <>, got "<a@b>"`, nil},
		{"recipients space", []string{`smtp = "h:25"`, `recipients = ["Me me@b"]`}, "element 1 must be a bare address", nil},
		{"recipients CRLF", []string{`smtp = "h:25"`, `recipients = ["a@b\r\nRCPT TO:<x@y>"]`}, "element 1 must be a bare address", nil},
		{"recipients NUL", []string{`smtp = "h:25"`, `recipients = ["a\u0000b"]`}, "element 1 must be a bare address", nil},

		{"from lmtp", []string{`lmtp = "/run/lmtp"`, `from = "fetchd@example.com"`}, "", func(d Deliver) bool { return d.From == "fetchd@example.com" }},
		{"from mda", []string{`mda = ["procmail"]`, `from = "a@b"`}, "", func(d Deliver) bool { return d.From == "a@b" }},
		{"from empty", []string{`smtp = "h:25"`, `from = ""`}, "from: must not be empty", nil},
		{"from brackets", []string{`smtp = "h:25"`, `from = "<a@b>"`}, `from: must be a bare address like "fetchd@example.com"`, nil},
		{"from newline", []string{`smtp = "h:25"`, `from = "a@b\n"`}, "from: must be a bare address", nil},
		{"from no domain", []string{`smtp = "h:25"`, `from = "nobody"`}, `from: must be an address like "fetchd@example.com", got "nobody"`, nil},
		{"from two ats", []string{`smtp = "h:25"`, `from = "a@b@c"`}, "from: must be an address like", nil},
		{"from mbox", []string{`mbox = "/m"`, `from = "a@b"`}, "deliver #1: from: only applies to mda, mda_shell, smtp or lmtp targets, this entry is mbox", nil},

		{"temp codes", []string{`mda_shell = "x"`, `mda_temp_codes = [69, 73, 255]`}, "", func(d Deliver) bool {
			return slices.Equal(d.MDATempCodes, []int{69, 73, 255})
		}},
		{"temp codes zero", []string{`mda = ["x"]`, `mda_temp_codes = [1, 0]`}, "mda_temp_codes: element 2 must be an exit status 1..255, got 0", nil},
		{"temp codes 256", []string{`mda = ["x"]`, `mda_temp_codes = [256]`}, "element 1 must be an exit status 1..255, got 256", nil},
		{"temp codes quoted", []string{`mda = ["x"]`, `mda_temp_codes = ["75"]`}, `mda_temp_codes: element 1 must be an integer, got the string "75" (write it without quotes)`, nil},
		{"temp codes not array", []string{`mda = ["x"]`, `mda_temp_codes = 75`}, "mda_temp_codes: must be an array of integers", nil},
		{"temp codes smtp", []string{`smtp = "h:25"`, `mda_temp_codes = [69]`}, "deliver #1: mda_temp_codes: only applies to mda or mda_shell targets, this entry is smtp", nil},

		{"mda_timeout", []string{`mda = ["x"]`, `mda_timeout = "30s"`}, "", func(d Deliver) bool { return d.MDATimeout == 30*time.Second }},
		{"mda_timeout zero", []string{`mda = ["x"]`, `mda_timeout = "0s"`}, "mda_timeout: must be more than zero", nil},
		{"mda_timeout lmtp", []string{`lmtp = "/s"`, `mda_timeout = "1m"`}, "mda_timeout: only applies to mda or mda_shell targets, this entry is lmtp", nil},

		{"smtp_tls implicit", []string{`smtp = "h:465"`, `smtp_tls = "implicit"`}, "", func(d Deliver) bool { return d.SMTPTLS == "implicit" }},
		{"smtp_tls bad", []string{`smtp = "h:25"`, `smtp_tls = "ssl"`}, `smtp_tls: must be one of "implicit", "starttls", "none", got "ssl"`, nil},
		{"smtp_tls lmtp", []string{`lmtp = "h:24"`, `smtp_tls = "starttls"`}, "deliver #1: smtp_tls: only applies to smtp targets, this entry is lmtp", nil},
		{"smtp_tls and bad value for another kind", []string{`maildir = "/m"`, `smtp_tls = "ssl"`}, "smtp_tls: only applies to smtp targets, this entry is maildir", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runDeliverCase(t, deliverTOML(tt.entry...), tt.want, tt.check)
		})
	}
}

func TestParse_DeliverSMTPAuth(t *testing.T) {
	home := setHome(t)
	remote := `smtp = "mail.example.com:587"`
	tests := []struct {
		name  string
		entry []string
		want  string
		check func(Deliver) bool
	}{
		{"no auth", []string{remote}, "", func(d Deliver) bool { return d.SMTPUser == "" }},
		{"file", []string{remote, `smtp_user = "me"`, `smtp_password_file = "~/.smtp"`}, "", func(d Deliver) bool {
			return d.SMTPUser == "me" && d.SMTPPasswordFile == home+"/.smtp"
		}},
		{"inline", []string{remote, `smtp_user = "me"`, `smtp_password = "pw"`}, "", func(d Deliver) bool { return d.SMTPPassword == "pw" }},
		{"credential", []string{remote, `smtp_user = "me"`, `smtp_password_credential = "smtp"`}, "", func(d Deliver) bool {
			return d.SMTPPasswordCredential == "smtp" && d.SMTPPassword == ""
		}},
		{"credential path", []string{remote, `smtp_user = "me"`, `smtp_password_credential = "../smtp"`},
			`deliver #1: smtp_password_credential: must be a plain name, the NAME of LoadCredential=NAME:/path in the unit (no "/"), got "../smtp"`, nil},
		{"credential and file", []string{remote, `smtp_user = "me"`, `smtp_password_file = "/p"`, `smtp_password_credential = "smtp"`},
			"smtp_password_credential: conflicts with smtp_password_file: set at most one of smtp_password, smtp_password_file, smtp_password_command, smtp_password_credential", nil},
		{"credential without user", []string{remote, `smtp_password_credential = "smtp"`}, "deliver #1: smtp_password_credential: needs smtp_user", nil},
		{"credential on maildir", []string{`maildir = "/m"`, `smtp_password_credential = "smtp"`}, "smtp_password_credential: only applies to smtp targets, this entry is maildir", nil},
		{"command", []string{remote, `smtp_user = "me"`, `smtp_password_command = ["pass", "smtp"]`}, "", func(d Deliver) bool {
			return slices.Equal(d.SMTPPasswordCommand, []string{"pass", "smtp"})
		}},
		{"user without password", []string{remote, `smtp_user = "me"`}, "deliver #1: smtp_user: needs a password: set smtp_password_file, smtp_password_command, smtp_password_credential or smtp_password", nil},
		{"password without user", []string{remote, `smtp_password_file = "/p"`}, "deliver #1: smtp_password_file: needs smtp_user", nil},
		{"two sources", []string{remote, `smtp_user = "me"`, `smtp_password = "pw"`, `smtp_password_file = "/p"`},
			"smtp_password_file: conflicts with smtp_password: set at most one of smtp_password, smtp_password_file, smtp_password_command", nil},
		{"user newline", []string{remote, `smtp_user = "me\r\nQUIT"`, `smtp_password = "pw"`}, "smtp_user: must not contain line breaks", nil},
		{"password empty", []string{remote, `smtp_user = "me"`, `smtp_password = ""`}, "smtp_password: must not be empty", nil},
		{"command empty", []string{remote, `smtp_user = "me"`, `smtp_password_command = []`}, "smtp_password_command: must name a program", nil},
		{"file relative", []string{remote, `smtp_user = "me"`, `smtp_password_file = "p"`}, "smtp_password_file: must be an absolute path", nil},
		{"user on lmtp", []string{`lmtp = "/s"`, `smtp_user = "me"`}, "deliver #1: smtp_user: only applies to smtp targets, this entry is lmtp", nil},
		{"password on mda", []string{`mda = ["x"]`, `smtp_password = "pw"`}, "smtp_password: only applies to smtp targets, this entry is mda", nil},

		// Credentials in clear text.
		{"none remote refused", []string{remote, `smtp_tls = "none"`, `smtp_user = "me"`, `smtp_password = "pw"`},
			`account "work": deliver #1: smtp_tls: "none" sends the SMTP login and password to mail.example.com unencrypted`, nil},
		{"none remote without login", []string{remote, `smtp_tls = "none"`}, "", func(d Deliver) bool { return d.SMTPTLS == "none" }},
		{"none loopback with login", []string{`smtp = "127.0.0.1:25"`, `smtp_user = "me"`, `smtp_password = "pw"`}, "", func(d Deliver) bool {
			return d.SMTPTLS == "none"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runDeliverCase(t, deliverTOML(tt.entry...), tt.want, tt.check)
		})
	}

	// allow_insecure on the account accepts the risk.
	data := accountTOML(map[string]string{"allow_insecure": "true"}, true) +
		"[[account.deliver]]\n" + remote + "\nsmtp_tls = \"none\"\nsmtp_user = \"me\"\nsmtp_password = \"pw\"\n"
	if d := mustParse(t, data).Accounts[0].Deliver[0]; d.SMTPTLS != "none" {
		t.Errorf("got smtp_tls %q, want none", d.SMTPTLS)
	}
}

func TestParse_SMTPTLSDefault(t *testing.T) {
	setHome(t)
	tests := []struct{ addr, want string }{
		{"localhost:25", "none"},
		{"LocalHost:25", "none"},
		{"localhost.:25", "none"},
		{"127.0.0.1:25", "none"},
		{"127.8.9.10:2525", "none"},
		{"[::1]:25", "none"},
		{"[::ffff:127.0.0.1]:25", "none"},
		{"mail.example.com:25", "starttls"},
		{"localhost.example.com:25", "starttls"},
		{"128.0.0.1:25", "starttls"},
		{"192.0.2.1:587", "starttls"},
		{"[2001:db8::1]:25", "starttls"},
		{"[::]:25", "starttls"},
	}
	for _, tt := range tests {
		data := deliverTOML(`smtp = "` + tt.addr + `"`)
		if got := mustParse(t, data).Accounts[0].Deliver[0].SMTPTLS; got != tt.want {
			t.Errorf("smtp = %q: got smtp_tls %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// The error names the entry by its position.
func TestParse_DeliverWrongKindNamesEntry(t *testing.T) {
	setHome(t)
	data := accountTOML(nil, false) + "[[account.deliver]]\nsmtp = \"localhost:25\"\nmda_temp_codes = [69]\n"
	errs := mustFail(t, data, `config.toml:10: account "work": deliver #2: mda_temp_codes: only applies to mda or mda_shell targets, this entry is smtp`)
	if len(errs.Problems) != 1 {
		t.Errorf("got %d problems, want 1:\n%v", len(errs.Problems), errs)
	}
}

// An insecure [[defaults.deliver]] entry is checked against each account's
// allow_insecure, and reported per account at the line in [defaults].
func TestParse_DefaultsDeliverInsecure(t *testing.T) {
	setHome(t)
	data := "[defaults]\n[[defaults.deliver]]\nsmtp = \"mail.example.com:25\"\nsmtp_tls = \"none\"\n" +
		"smtp_user = \"me\"\nsmtp_password_file = \"/p\"\n" +
		accountTOML(nil, true) +
		accountTOML(map[string]string{"name": `"lab"`, "user": `"lab"`, "allow_insecure": "true"}, true)
	errs := mustFail(t, data, `config.toml:4: account "work": deliver #1 (from [defaults]): smtp_tls: "none" sends the SMTP login`)
	if len(errs.Problems) != 1 {
		t.Errorf("got %d problems, want 1:\n%v", len(errs.Problems), errs)
	}
}
