package config

import (
	"slices"
	"strings"
	"testing"
)

// No problem message shows any part of a password: not the value of a
// mistyped password, not a syntax error's quote of it, not its line.

// secretContexts place "KEY = VALUE" where each secret key may be set; KEY
// and VALUE are replaced. Each is otherwise valid.
var secretContexts = []struct {
	name, key, data, problemKey string
}{
	{"account", "password", accountTOML(map[string]string{"password_file": "-", "password": "VALUE"}, false), "password"},
	{"defaults", "password", "[defaults]\npassword = VALUE\n" + accountTOML(nil, false), "password"},
	{"deliver", "smtp_password", deliverTOML(`smtp = "mail.example.com:587"`, `smtp_user = "me"`, "smtp_password = VALUE"),
		"deliver #1: smtp_password"},
	{"oauth2", "client_secret", accountTOML(map[string]string{"password_file": "-"}, true) +
		"[account.oauth2]\nprovider = \"google\"\nclient_id = \"id\"\nclient_secret = VALUE\n[[account.deliver]]\nmaildir = \"/m\"\n",
		"oauth2: client_secret"},
	{"defaults oauth2", "client_secret", "[defaults.oauth2]\nprovider = \"microsoft\"\nclient_id = \"id\"\nclient_secret = VALUE\n" +
		accountTOML(map[string]string{"password_file": "-"}, false), "oauth2: client_secret"},
	{"defaults deliver", "smtp_password", "[defaults]\n[[defaults.deliver]]\nsmtp = \"mail.example.com:587\"\nsmtp_user = \"me\"\n" +
		"smtp_password = VALUE\n" + accountTOML(nil, true), "deliver #1: smtp_password"},
}

func TestParse_PasswordValueNeverShown(t *testing.T) {
	setHome(t)
	lineBreak := "must not contain line breaks or NUL characters (the value is not shown: it is a password)"
	tests := []struct {
		name, value, secret, want string
	}{
		{"integer", "12345678", "12345678", secretTypeMsg},
		{"negative integer", "-987654", "987654", secretTypeMsg},
		{"hex integer", "0xC0FFEE", "12648430", secretTypeMsg},
		{"float", "31415.9265", "31415", secretTypeMsg},
		{"bool", "true", "", secretTypeMsg},
		{"date-time", "1979-05-27T07:32:00Z", "1979", secretTypeMsg},
		{"array", `["hunter2secret"]`, "hunter2", secretTypeMsg},
		{"inline table", `{ x = "hunter2secret" }`, "hunter2", secretTypeMsg},
		{"line break", `"hunter2\nsecret"`, "hunter2", lineBreak},
		{"NUL", `"hunter2\u0000secret"`, "hunter2", lineBreak},
		{"empty", `""`, "", "must not be empty"},
	}
	for _, c := range secretContexts {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				data := strings.Replace(c.data, "VALUE", tt.value, 1)
				errs := mustFail(t, data)
				if tt.secret != "" && strings.Contains(errs.Error(), tt.secret) {
					t.Errorf("the error shows the password %q:\n%v", tt.secret, errs)
				}
				if len(errs.Problems) != 1 {
					t.Fatalf("got %d problems, want 1:\n%v", len(errs.Problems), errs)
				}
				p := errs.Problems[0]
				if line := lineOf(data, c.key+" = "); p.File != "config.toml" || p.Line != line || p.Key != c.problemKey || p.Msg != tt.want {
					t.Errorf("got %q (line %d, key %q, msg %q), want line %d, key %q, msg %q",
						p.Error(), p.Line, p.Key, p.Msg, line, c.problemKey, tt.want)
				}
			})
		}
	}
}

// TestSchema_SecretKeys checks that the inline key of every password group
// is marked secret, and that only string keys are, as decodeTable assumes.
func TestSchema_SecretKeys(t *testing.T) {
	check := func(key, group string, k kind, secret bool) {
		if (key == group) != secret {
			t.Errorf("key %q of group %q: secret is %t", key, group, secret)
		}
		if secret && k != kindString {
			t.Errorf("secret key %q is not a string", key)
		}
	}
	for _, f := range accountFields {
		check(f.key, f.group, f.kind, f.secret)
	}
	for _, f := range deliverFields {
		check(f.key, f.group, f.kind, f.secret)
	}
	for _, f := range oauth2Fields {
		check(f.key, f.group, f.kind, f.secret)
	}
	if got, want := secretKeys(), []string{"password", "smtp_password", "client_secret"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A syntax error in a password's value, whose message would quote the
// offending token, gives the line and no part of the value.
func TestParse_PasswordSyntaxErrorHidesValue(t *testing.T) {
	redacted := func(key string) string {
		return `syntax error in a password value (not shown): quote it, as in ` + key + ` = "…" (or '…' if it holds " or \)`
	}
	head := "[[account]]\nname = \"a\"\n"
	tests := []struct {
		name   string
		data   string
		secret string // must not appear
		line   int
		key    string
	}{
		{"bare word", head + "password = hunter2secret\n", "hunter", 3, "password"},
		{"bare word at the end", head + "password = hunter2secret", "hunter", 3, "password"},
		{"spaces and tab", head + "  password\t=hunter2secret\n", "hunter", 3, "password"},
		{"integer and letters", head + "password = 1234secret\n", "secret", 3, "password"},
		{"integer with underscore", head + "password = 1_234_\n", "1_234", 3, "password"},
		{"hex", head + "password = 0xZZsecret\n", "0xZ", 3, "password"},
		{"float", head + "password = 3.14e\n", "3.14", 3, "password"},
		{"date", head + "password = 1979-05-27Tsecret\n", "1979", 3, "password"},
		{"unterminated string", head + "password = \"abc\n", `"abc`, 3, "password"},
		{"unterminated string at the end", head + "password = \"abcSecret", "abcSecret", 3, "password"},
		{"unterminated literal string", head + "password = 'abcSecret\nname = \"x\"\n", "abcSecret", 3, "password"},
		{"bad escape", head + "password = \"hunt\\u00ZZer\"\n", "hunt", 3, "password"},
		{"multi-line string start", head + "password = \"\"\"hunter2\nsecret\n", "hunter2", 3, "password"},
		{"multi-line literal start", head + "password = '''hunter2\nsecret\n", "hunter2", 3, "password"},
		{"after a multi-line string", head + "password = \"\"\"hunter2\n\"\"\"secret\n", "secret", 3, "password"},
		{"array", head + "password = [\"ok\",\n  hunter2secret]\n", "hunter", 3, "password"},
		{"missing equals", head + "password hunter2secret\n", "hunter", 3, "password"},
		{"typo in the key", head + "passwd = hunter2secret\n", "hunter", 3, "password"},
		{"defaults", "[defaults]\npassword = hunter2secret\n", "hunter", 2, "password"},
		{"smtp_password", head + "[[account.deliver]]\nsmtp_password = hunter2secret\n", "hunter", 4, "smtp_password"},
		{"client_secret", head + "[account.oauth2]\nclient_secret = hunter2secret\n", "hunter", 4, "client_secret"},
		{"client_secret in an inline table", head + "oauth2 = {client_id = \"x\", client_secret = hunter2secret}\n", "hunter", 3, "client_secret"},
		{"smtp_password in an inline table", head + "deliver = [{smtp = \"h:25\", smtp_password = hunter2secret}]\n",
			"hunter", 3, "smtp_password"},
		{"smtp_password in a multi-line array", head + "deliver = [\n  {smtp = \"h:25\"},\n  {smtp = \"h:25\", smtp_password = hunter2secret},\n]\n",
			"hunter", 5, "smtp_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := mustFail(t, tt.data)
			if strings.Contains(errs.Error(), tt.secret) {
				t.Errorf("the error shows the password %q:\n%v", tt.secret, errs)
			}
			passwordLine := strings.Split(tt.data, "\n")[tt.line-1]
			if strings.Contains(errs.Error(), strings.TrimSpace(passwordLine)) {
				t.Errorf("the error shows the line %q:\n%v", passwordLine, errs)
			}
			if len(errs.Problems) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(errs.Problems), errs)
			}
			p := errs.Problems[0]
			if p.File != "config.toml" || p.Line != tt.line || p.Msg != redacted(tt.key) {
				t.Errorf("got %q (line %d), want line %d and message %q", p.Error(), p.Line, tt.line, redacted(tt.key))
			}
		})
	}
}

// Syntax errors elsewhere keep the lexer's message, even next to a password.
func TestParse_SyntaxErrorNearPasswordShown(t *testing.T) {
	tests := []struct {
		data, want string
	}{
		{"[[account]]\npassword_file = /etc/p\n", `config.toml:2: syntax error: expected value but found '/' instead`},
		{"[[account]]\npassword_command = [pass]\n", `config.toml:2: syntax error: expected value but found "pass" instead`},
		{"[[account]]\npassword = \"ok\"\nport = x\n", `config.toml:3: syntax error: expected value but found "x" instead`},
		{"[[account]]\npassword = \"\"\"ok\nstill ok\"\"\"\nport = x\n", `config.toml:4: syntax error: expected value but found "x" instead`},
		{"[[account]]\ndeliver = [{smtp_password = \"ok\"}]\nport = x\n", `config.toml:3: syntax error: expected value but found "x" instead`},
	}
	for _, tt := range tests {
		errs := mustFail(t, tt.data, tt.want)
		if len(errs.Problems) != 1 {
			t.Errorf("%q: want one problem, got:\n%v", tt.data, errs)
		}
	}
}
