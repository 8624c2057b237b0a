package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// baseAccount is a valid account; tests override or delete ("-") its keys.
var baseAccount = map[string]string{
	"name":          `"work"`,
	"server":        `"pop.example.com"`,
	"user":          `"me@example.com"`,
	"password_file": `"/etc/fetchd/work.pass"`,
}

// accountTOML renders one [[account]] table from baseAccount with over
// applied, followed by a deliver entry unless noDeliver.
func accountTOML(over map[string]string, noDeliver bool) string {
	keys := maps.Clone(baseAccount)
	for k, v := range over {
		if v == "-" {
			delete(keys, k)
		} else {
			keys[k] = v
		}
	}
	var b strings.Builder
	b.WriteString("[[account]]\n")
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		fmt.Fprintf(&b, "%s = %s\n", k, keys[k])
	}
	if !noDeliver {
		b.WriteString("[[account.deliver]]\nmaildir = \"/var/mail/work\"\n")
	}
	return b.String()
}

// asHome turns an account from accountTOML into a second one that may sit
// beside it: named "home" and logging in as another user, so the two do not
// share a mailbox.
func asHome(account string) string {
	account = strings.Replace(account, `name = "work"`, `name = "home"`, 1)
	return strings.Replace(account, `user = "me@example.com"`, `user = "home@example.com"`, 1)
}

// setHome points $HOME and the XDG variables at a temporary directory so
// "~" expansion and default paths are predictable.
func setHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("STATE_DIRECTORY", "")
	return home
}

func mustParse(t *testing.T, data string) *Config {
	t.Helper()
	cfg, err := Parse("config.toml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v\ninput:\n%s", err, data)
	}
	return cfg
}

func mustFail(t *testing.T, data string, wants ...string) *Errors {
	t.Helper()
	_, err := Parse("config.toml", []byte(data))
	if err == nil {
		t.Fatalf("Parse: no error, want %q\ninput:\n%s", wants, data)
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse: error is %T, want *Errors: %v", err, err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v\ninput:\n%s", w, err, data)
		}
	}
	return errs
}

func TestParse_AccountKeys(t *testing.T) {
	home := setHome(t)
	tests := []struct {
		name  string
		over  map[string]string
		want  string              // substring of the error; "" = valid
		check func(*Account) bool // for valid configs
	}{
		{"name ok", nil, "", func(a *Account) bool { return a.Name == "work" }},
		{"name dots dashes", map[string]string{"name": `"a.b_c-1"`}, "", func(a *Account) bool { return a.Name == "a.b_c-1" }},
		{"name space", map[string]string{"name": `"my work"`}, `account "my work": name: must only use letters`, nil},
		{"name empty", map[string]string{"name": `""`}, "account #1: name: must not be empty", nil},
		{"name not string", map[string]string{"name": `5`}, "name: must be a string, got the integer 5", nil},
		{"name missing", map[string]string{"name": "-"}, "account #1: name: required", nil},

		{"server ipv4", map[string]string{"server": `"192.0.2.1"`}, "", func(a *Account) bool { return a.Addr() == "192.0.2.1:995" }},
		{"server ipv6", map[string]string{"server": `"2001:db8::1"`}, "", func(a *Account) bool { return a.Addr() == "[2001:db8::1]:995" }},
		{"server with port", map[string]string{"server": `"pop.example.com:995"`}, `server: must be a host name without a port: write server = "pop.example.com" and port = 995`, nil},
		{"server url", map[string]string{"server": `"pop3s://pop.example.com"`}, "server: must be a host name, not a URL", nil},
		{"server space", map[string]string{"server": `"pop example.com"`}, "server: must not contain spaces", nil},
		{"server brackets", map[string]string{"server": `"[::1]"`}, "without brackets", nil},
		{"server empty", map[string]string{"server": `""`}, "server: must not be empty", nil},
		{"server missing", map[string]string{"server": "-"}, "server: required", nil},

		{"port default implicit", nil, "", func(a *Account) bool { return a.Port == 995 }},
		{"port default starttls", map[string]string{"tls": `"starttls"`}, "", func(a *Account) bool { return a.Port == 110 }},
		{"port set", map[string]string{"port": "1995"}, "", func(a *Account) bool { return a.Port == 1995 }},
		{"port zero", map[string]string{"port": "0"}, "port: must be 1..65535, got 0", nil},
		{"port too big", map[string]string{"port": "70000"}, `config.toml:4: account "work": port: must be 1..65535, got 70000`, nil},
		{"port quoted", map[string]string{"port": `"995"`}, `port: must be an integer, got the string "995" (write it without quotes)`, nil},
		{"port float", map[string]string{"port": `99.5`}, "port: must be an integer, got the number 99.5", nil},

		{"tls default", nil, "", func(a *Account) bool { return a.TLS == "implicit" }},
		{"tls starttls", map[string]string{"tls": `"starttls"`}, "", func(a *Account) bool { return a.TLS == "starttls" }},
		{"tls bad", map[string]string{"tls": `"ssl"`}, `tls: must be one of "implicit", "starttls", "none", got "ssl"`, nil},
		{"tls none refused", map[string]string{"tls": `"none"`}, `tls: "none" sends your password`, nil},
		{"tls none allowed", map[string]string{"tls": `"none"`, "allow_insecure": "true"}, "", func(a *Account) bool {
			return a.TLS == "none" && a.AllowInsecure && a.Port == 110
		}},
		{"tls none apop still refused", map[string]string{"tls": `"none"`, "auth": `"apop"`}, "set allow_insecure = true", nil},
		{"allow_insecure quoted", map[string]string{"allow_insecure": `"true"`}, "allow_insecure: must be true or false, got the string \"true\" (write it without quotes)", nil},

		{"user empty", map[string]string{"user": `""`}, "user: must not be empty", nil},
		{"user newline", map[string]string{"user": `"me\nPASS x"`}, "user: must not contain line breaks", nil},
		{"user missing", map[string]string{"user": "-"}, "user: required", nil},

		{"password inline", map[string]string{"password_file": "-", "password": `"s3cret"`}, "", func(a *Account) bool { return a.Password == "s3cret" }},
		{"password empty", map[string]string{"password_file": "-", "password": `""`}, "password: must not be empty", nil},
		{"password newline", map[string]string{"password_file": "-", "password": `"a\r\nb"`}, "password: must not contain line breaks", nil},
		{"password two sources", map[string]string{"password": `"s3cret"`}, "password_file: conflicts with password: set exactly one of password, password_file, password_command", nil},
		{"password three sources", map[string]string{"password": `"x"`, "password_command": `["true"]`}, "password_command: conflicts with password and password_file", nil},
		{"password none", map[string]string{"password_file": "-"}, `account "work": no password: set password_file`, nil},
		{"password_file tilde", map[string]string{"password_file": `"~/.config/fetchd/work.pass"`}, "", func(a *Account) bool {
			return a.PasswordFile == home+"/.config/fetchd/work.pass"
		}},
		{"password_file relative", map[string]string{"password_file": `"work.pass"`}, `password_file: must be an absolute path or start with ~/, got "work.pass"`, nil},
		{"password_file other user", map[string]string{"password_file": `"~bob/work.pass"`}, "password_file: only ~/", nil},
		{"password_file empty", map[string]string{"password_file": `""`}, "password_file: must not be empty", nil},
		{"password_command ok", map[string]string{"password_file": "-", "password_command": `["pass", "show", "mail/work"]`}, "", func(a *Account) bool {
			return slices.Equal(a.PasswordCommand, []string{"pass", "show", "mail/work"})
		}},
		{"password_command empty", map[string]string{"password_file": "-", "password_command": `[]`}, "password_command: must name a program", nil},
		{"password_command empty program", map[string]string{"password_file": "-", "password_command": `[""]`}, "password_command: must name a program", nil},
		{"password_command string", map[string]string{"password_file": "-", "password_command": `"pass show x"`}, "password_command: must be an array of strings", nil},
		{"password_command non-string", map[string]string{"password_file": "-", "password_command": `["pass", 1]`}, "password_command: element 2 must be a string, got the integer 1", nil},
		{"password_credential", map[string]string{"password_file": "-", "password_credential": `"fetchd-work"`}, "", func(a *Account) bool {
			return a.PasswordCredential == "fetchd-work" && a.PasswordFile == ""
		}},
		{"password_credential dots", map[string]string{"password_file": "-", "password_credential": `"work.pass"`}, "", func(a *Account) bool { return a.PasswordCredential == "work.pass" }},
		{"password_credential path", map[string]string{"password_file": "-", "password_credential": `"/run/credentials/fetchd.service/work"`},
			`config.toml:3: account "work": password_credential: must be a plain name, the NAME of LoadCredential=NAME:/path in the unit (no "/"), got "/run/credentials/fetchd.service/work"`, nil},
		{"password_credential slash", map[string]string{"password_file": "-", "password_credential": `"a/b"`}, `password_credential: must be a plain name`, nil},
		{"password_credential dot", map[string]string{"password_file": "-", "password_credential": `"."`}, `password_credential: must be a plain name`, nil},
		{"password_credential dot dot", map[string]string{"password_file": "-", "password_credential": `".."`}, `password_credential: must be a plain name`, nil},
		{"password_credential NUL", map[string]string{"password_file": "-", "password_credential": `"a\u0000b"`}, `password_credential: must be a plain name`, nil},
		{"password_credential empty", map[string]string{"password_file": "-", "password_credential": `""`}, `password_credential: must not be empty: give the name of a systemd credential`, nil},
		{"password_credential too long", map[string]string{"password_file": "-", "password_credential": `"` + strings.Repeat("a", 256) + `"`}, `password_credential: must be at most 255 bytes`, nil},
		{"password_credential number", map[string]string{"password_file": "-", "password_credential": `1`}, `password_credential: must be a string, got the integer 1`, nil},
		{"password_credential and file", map[string]string{"password_credential": `"work"`},
			"config.toml:3: account \"work\": password_credential: conflicts with password_file: set exactly one of password, password_file, password_command, password_credential", nil},

		{"auth default", nil, "", func(a *Account) bool { return a.Auth == "auto" }},
		{"auth apop", map[string]string{"auth": `"apop"`}, "", func(a *Account) bool { return a.Auth == "apop" }},
		{"auth user", map[string]string{"auth": `"user"`}, "", func(a *Account) bool { return a.Auth == "user" }},
		{"auth scram-sha-256", map[string]string{"auth": `"scram-sha-256"`}, "", func(a *Account) bool { return a.Auth == "scram-sha-256" }},
		{"auth xoauth2 token from a helper", map[string]string{"auth": `"xoauth2"`, "password_file": "-", "password_command": `["oauth2-token", "work"]`}, "",
			func(a *Account) bool { return a.Auth == "xoauth2" && a.PasswordCommand[0] == "oauth2-token" }},
		{"auth bad", map[string]string{"auth": `"gssapi"`}, `config.toml:2: account "work": auth: must be one of "auto", "user", "apop", "plain", "login", ` +
			`"cram-md5", "scram-sha-1", "scram-sha-256", "xoauth2", "oauthbearer", got "gssapi"`, nil},
		{"auth upper case", map[string]string{"auth": `"PLAIN"`}, `auth: must be one of "auto"`, nil},

		{"keep default", nil, "", func(a *Account) bool { return !a.Keep }},
		{"keep true", map[string]string{"keep": "true"}, "", func(a *Account) bool { return a.Keep }},
		{"keep int", map[string]string{"keep": "1"}, "keep: must be true or false, got the integer 1", nil},

		{"timeout default", nil, "", func(a *Account) bool { return a.Timeout == 60*time.Second }},
		{"timeout 90s", map[string]string{"timeout": `"90s"`}, "", func(a *Account) bool { return a.Timeout == 90*time.Second }},
		{"timeout days", map[string]string{"timeout": `"1d12h"`}, "", func(a *Account) bool { return a.Timeout == 36*time.Hour }},
		{"timeout zero", map[string]string{"timeout": `"0s"`}, "timeout: must be more than zero, got 0s", nil},
		{"timeout negative", map[string]string{"timeout": `"-5s"`}, "timeout: must be more than zero, got -5s", nil},
		{"timeout bad", map[string]string{"timeout": `"soon"`}, `timeout: bad duration "soon"`, nil},
		{"timeout number", map[string]string{"timeout": `60`}, `timeout: must be a duration string with a unit, got the number 60 (write "60s" for seconds)`, nil},

		{"size default", nil, "", func(a *Account) bool { return a.MaxMessageSize == 0 }},
		{"size MB", map[string]string{"max_message_size": `"50MB"`}, "", func(a *Account) bool { return a.MaxMessageSize == 50_000_000 }},
		{"size MiB", map[string]string{"max_message_size": `"1MiB"`}, "", func(a *Account) bool { return a.MaxMessageSize == 1<<20 }},
		{"size int", map[string]string{"max_message_size": `1234`}, "", func(a *Account) bool { return a.MaxMessageSize == 1234 }},
		{"size fraction", map[string]string{"max_message_size": `"1.5GB"`}, "", func(a *Account) bool { return a.MaxMessageSize == 1_500_000_000 }},
		{"size zero", map[string]string{"max_message_size": `0`}, "", func(a *Account) bool { return a.MaxMessageSize == 0 }},
		{"size negative", map[string]string{"max_message_size": `-1`}, "max_message_size: must be 0 (no limit) or more, got -1", nil},
		{"size bad unit", map[string]string{"max_message_size": `"50XB"`}, `max_message_size: bad size "50XB": unknown unit "XB"`, nil},
		{"size bool", map[string]string{"max_message_size": `true`}, "max_message_size: must be a byte count", nil},

		{"unknown key", map[string]string{"pasword": `"x"`}, `config.toml:4: account "work": unknown key "pasword" (did you mean "password"?)`, nil},
		{"unknown key far", map[string]string{"colour": `"x"`}, `unknown key "colour"; known keys: deliver, oauth2, name, server`, nil},
		{"top-level key in account", map[string]string{"log_level": `"debug"`}, `unknown key "log_level" (top-level keys must come before the first table)`, nil},
		{"deliver key in account", map[string]string{"maildir": `"/x"`}, `unknown key "maildir" (delivery targets go in an [[account.deliver]] table`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := accountTOML(tt.over, false)
			if tt.want != "" {
				mustFail(t, data, tt.want)
				return
			}
			cfg := mustParse(t, data)
			if len(cfg.Accounts) != 1 {
				t.Fatalf("got %d accounts, want 1", len(cfg.Accounts))
			}
			if a := cfg.Accounts[0]; tt.check != nil && !tt.check(a) {
				t.Errorf("check failed for %#v: %+v", tt.over, *a)
			}
		})
	}
}

func TestParse_TopLevelAndDeliver(t *testing.T) {
	home := setHome(t)
	t.Setenv("STATE_DIRECTORY", "/run/fetchd:/var/lib/other")
	acct := accountTOML(nil, false)
	acctNoDeliver := accountTOML(nil, true)
	tests := []struct {
		name  string
		data  string
		want  string
		check func(*Config) bool
	}{
		{"defaults filled", acct, "", func(c *Config) bool {
			return c.LogLevel == "info" && c.LogFormat == "auto" && c.State == "/run/fetchd/fetchd.db" && c.Path == "config.toml"
		}},
		{"state tilde", `state = "~/s/f.db"` + "\n" + acct, "", func(c *Config) bool { return c.State == home+"/s/f.db" }},
		{"state relative", `state = "f.db"` + "\n" + acct, "state: must be an absolute path", nil},
		{"log_level debug", `log_level = "debug"` + "\n" + acct, "", func(c *Config) bool { return c.LogLevel == "debug" }},
		{"log_level bad", `log_level = "verbose"` + "\n" + acct, `config.toml:1: log_level: must be one of "trace", "debug", "info", "warn", "error", got "verbose"`, nil},
		{"log_format json", `log_format = "json"` + "\n" + acct, "", func(c *Config) bool { return c.LogFormat == "json" }},
		{"log_format bad", `log_format = "xml"` + "\n" + acct, `log_format: must be one of "auto", "console", "json"`, nil},
		{"unknown top key", `log_levle = "info"` + "\n" + acct, `config.toml:1: unknown key "log_levle" (did you mean "log_level"?)`, nil},
		{"account key at top", `server = "x"` + "\n" + acct, `unknown key "server" (account keys go in an [[account]] table`, nil},
		{"no accounts", `log_level = "info"`, "no accounts: add an [[account]] table", nil},
		{"account single table", "[account]\nname = \"x\"\n", "account: must be an array of tables: write [[account]], not [account]", nil},
		{"defaults array", "[[defaults]]\nkeep = true\n" + acct, "defaults: must be a single table: write [defaults], not [[defaults]]", nil},
		{"inline account array", `account = [{name = "a", server = "h", user = "u", password_file = "/p", deliver = [{maildir = "/m"}]}]`, "",
			func(c *Config) bool { return c.Accounts[0].Deliver[0].Maildir == "/m" }},

		{"deliver maildir", acct, "", func(c *Config) bool {
			d := c.Accounts[0].Deliver
			return len(d) == 1 && d[0].Kind() == "maildir" && d[0].Target() == "/var/mail/work"
		}},
		{"deliver tilde", acctNoDeliver + "[[account.deliver]]\nmaildir = \"~/Mail/work\"\n", "", func(c *Config) bool {
			return c.Accounts[0].Deliver[0].Maildir == home+"/Mail/work"
		}},
		{"deliver two", acctNoDeliver + "[[account.deliver]]\nmaildir = \"/a\"\n[[account.deliver]]\nmaildir = \"/b\"\n", "", func(c *Config) bool {
			return len(c.Accounts[0].Deliver) == 2 && c.Accounts[0].Deliver[1].Target() == "/b"
		}},
		{"deliver missing", acctNoDeliver, `account "work": deliver: no delivery target: add an [[account.deliver]] table`, nil},
		{"deliver empty maildir", acctNoDeliver + "[[account.deliver]]\nmaildir = \"\"\n", `account "work": deliver #1: maildir: must not be empty`, nil},
		{"deliver no target", acctNoDeliver + "[[account.deliver]]\n", `deliver #1: no target: set maildir = "~/Maildir"`, nil},
		{"deliver unknown key", acctNoDeliver + "[[account.deliver]]\nmaildir = \"/m\"\nmaildri = \"/n\"\n", `deliver #1: unknown key "maildri" (did you mean "maildir"?)`, nil},
		{"deliver account key", acctNoDeliver + "[[account.deliver]]\nmaildir = \"/m\"\nkeep = true\n", `deliver #1: unknown key "keep" (keys after a deliver table header belong to that deliver entry`, nil},
		{"deliver not tables", strings.Replace(acctNoDeliver, "[[account]]\n", "[[account]]\ndeliver = \"/m\"\n", 1), "deliver: must be an array of tables", nil},
		{"deliver empty array", strings.Replace(acctNoDeliver, "[[account]]\n", "[[account]]\ndeliver = []\n", 1), "deliver: no delivery target", nil},

		{"duplicate names", acct + acct, `config.toml:9: account "work": name: "work" is already the name of account #1 (line 2): names must be unique`, nil},
		{"unnamed account label", acct + accountTOML(map[string]string{"name": "-", "port": "0"}, false), "account #2: port: must be 1..65535", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != "" {
				mustFail(t, tt.data, tt.want)
				return
			}
			cfg := mustParse(t, tt.data)
			if !tt.check(cfg) {
				t.Errorf("check failed: %+v", cfg)
			}
		})
	}
}

func TestAccount_DescribeNeverShowsSecret(t *testing.T) {
	a := &Account{
		Name: "work", Server: "pop.example.com", Port: 995, TLS: "implicit", User: "me@example.com",
		Password: "hunter2", Auth: "auto",
		Deliver: []Deliver{{Maildir: "/home/u/Mail/work"}},
	}
	want := "work: me@example.com at pop.example.com:995 (implicit TLS, auth auto, delete after delivery) → maildir /home/u/Mail/work"
	if got := a.Describe(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	a.Keep, a.TLS = true, "starttls"
	if got := a.Describe(); !strings.Contains(got, "(STARTTLS, auth auto, keep on server)") {
		t.Errorf("got %q", got)
	}
	for _, s := range []string{fmt.Sprint(a), fmt.Sprint(*a), fmt.Sprintf("%+v %#v %v", a, a, []*Account{a})} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("printed the password: %s", s)
		}
	}
}
