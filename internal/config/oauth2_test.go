package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// clientSecret is in every oauth2 table the tests write; no problem message
// and no description may show it.
const clientSecret = "hunter2clientsecret"

// oauth2TOML is the base account without a password source, with over
// applied, an [account.oauth2] table made of lines (plus the inline client
// secret unless lines set client_secret or client_secret_file), and a
// deliver entry.
func oauth2TOML(over map[string]string, lines ...string) string {
	acct := map[string]string{"password_file": "-"}
	for k, v := range over {
		acct[k] = v
	}
	body := strings.Join(lines, "\n")
	if !strings.Contains(body, "client_secret") {
		body += "\nclient_secret = \"" + clientSecret + "\""
	}
	return accountTOML(acct, true) + "[account.oauth2]\n" + body + "\n[[account.deliver]]\nmaildir = \"/m\"\n"
}

func TestParse_OAuth2(t *testing.T) {
	home := setHome(t)
	google := []string{`provider = "google"`, `client_id = "id"`}
	microsoft := []string{`provider = "microsoft"`, `client_id = "id"`}
	custom := []string{`client_id = "id"`, `auth_url = "https://login.example.com/auth"`, `token_url = "https://login.example.com/token"`}
	with := func(base []string, lines ...string) []string { return append(slices.Clone(base), lines...) }
	tests := []struct {
		name  string
		over  map[string]string // account keys
		lines []string          // the oauth2 table
		want  string            // substring of the error; "" = valid
		check func(*Account) bool
	}{
		{"google preset", nil, google, "", func(a *Account) bool {
			o := a.OAuth2
			return a.Auth == "xoauth2" && o.Provider == "google" && o.ClientID == "id" && o.ClientSecret == clientSecret &&
				o.AuthURL == GoogleAuthURL && o.TokenURL == GoogleTokenURL && o.DeviceAuthURL == "" &&
				slices.Equal(o.Scopes, []string{"https://mail.google.com/"}) && o.Flow == "loopback"
		}},
		{"microsoft preset", nil, microsoft, "", func(a *Account) bool {
			o := a.OAuth2
			return a.Auth == "xoauth2" && o.AuthURL == MicrosoftAuthURL && o.TokenURL == MicrosoftTokenURL &&
				o.DeviceAuthURL == "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode" &&
				slices.Equal(o.Scopes, []string{"https://outlook.office.com/POP.AccessAsUser.All", "offline_access"}) && o.Flow == "device"
		}},
		{"microsoft loopback, tenant URLs", nil, with(microsoft, `flow = "loopback"`,
			`auth_url = "https://login.microsoftonline.com/TENANT/oauth2/v2.0/authorize"`), "", func(a *Account) bool {
			o := a.OAuth2
			return o.Flow == "loopback" && strings.Contains(o.AuthURL, "/TENANT/") && o.TokenURL == MicrosoftTokenURL
		}},
		{"scopes replace the preset's", nil, with(google, `scopes = ["a", "b:c/d"]`), "", func(a *Account) bool {
			return slices.Equal(a.OAuth2.Scopes, []string{"a", "b:c/d"})
		}},
		{"custom", nil, custom, "", func(a *Account) bool {
			o := a.OAuth2
			return o.Provider == "" && o.Flow == "loopback" && o.Scopes == nil && o.DeviceAuthURL == "" &&
				o.TokenURL == "https://login.example.com/token"
		}},
		{"custom device", nil, with(custom, `flow = "device"`, `device_auth_url = "https://login.example.com/device"`), "",
			func(a *Account) bool { return a.OAuth2.Flow == "device" }},
		{"client_secret_file", nil, with(google, `client_secret_file = "~/secret"`), "", func(a *Account) bool {
			return a.OAuth2.ClientSecretFile == home+"/secret" && a.OAuth2.ClientSecret == ""
		}},
		{"no client secret", nil, with(microsoft, `# client_secret none`), "", func(a *Account) bool { return a.OAuth2.ClientSecret == "" }},
		{"http to loopback", nil, with(custom[:1], `auth_url = "http://127.0.0.1:8080/auth"`, `token_url = "http://localhost/token"`,
			`device_auth_url = "http://[::1]:9/device"`), "", func(a *Account) bool { return a.OAuth2.TokenURL == "http://localhost/token" }},
		{"auth auto becomes xoauth2", map[string]string{"auth": `"auto"`}, google, "", func(a *Account) bool { return a.Auth == "xoauth2" }},
		{"auth oauthbearer kept", map[string]string{"auth": `"oauthbearer"`}, google, "", func(a *Account) bool { return a.Auth == "oauthbearer" }},
		{"inline table", nil, nil, "", nil}, // written below

		{"client_id missing", nil, []string{`provider = "google"`}, `account "work": oauth2: client_id: required`, nil},
		{"client_id empty", nil, []string{`provider = "google"`, `client_id = " "`}, `oauth2: client_id: must not be empty`, nil},
		{"custom needs auth_url", nil, []string{`client_id = "id"`, `token_url = "https://l.example.com/t"`},
			`account "work": oauth2: auth_url: required without a provider: set provider = "google" or "microsoft"`, nil},
		{"custom needs token_url", nil, []string{`client_id = "id"`, `auth_url = "https://l.example.com/a"`},
			`oauth2: token_url: required without a provider`, nil},
		{"custom device needs its URL", nil, with(custom, `flow = "device"`), `oauth2: device_auth_url: required with flow = "device"`, nil},
		{"google device refused", nil, with(google, `flow = "device"`),
			`oauth2: flow: "device" does not work with Google, whose device flow does not allow the mail scope`, nil},
		{"google device refused with a device URL", nil, with(google, `flow = "device"`, `device_auth_url = "https://oauth2.googleapis.com/device/code"`),
			`"device" does not work with Google`, nil},
		{"unknown provider", nil, with(google[1:], `provider = "custom"`),
			`oauth2: provider: must be "google" or "microsoft" (for another provider leave it out and set auth_url and token_url), got "custom"`, nil},
		{"unknown flow", nil, with(google, `flow = "browser"`), `oauth2: flow: must be one of "loopback", "device", got "browser"`, nil},
		{"both secrets", nil, with(google, `client_secret = "`+clientSecret+`"`, `client_secret_file = "/s"`),
			"oauth2: client_secret_file: conflicts with client_secret", nil},
		{"http to the network", nil, with(google, `token_url = "http://auth.example.com/token"`),
			`oauth2: token_url: must use https: tokens and the client secret must not cross the network in cleartext`, nil},
		{"http to a loopback name", nil, with(google, `auth_url = "http://localhost.example.com/auth"`), "auth_url: must use https", nil},
		{"relative URL", nil, with(google, `auth_url = "/oauth2/auth"`), "oauth2: auth_url: must be an absolute URL", nil},
		{"URL without scheme", nil, with(google, `auth_url = "accounts.google.com/o/oauth2/auth"`), "auth_url: must be an absolute URL", nil},
		{"ftp URL", nil, with(google, `token_url = "ftp://example.com/t"`), `token_url: must be an https URL, got "ftp://example.com/t"`, nil},
		{"URL with a password", nil, with(google, `token_url = "https://me:pw@example.com/t"`),
			`token_url: must not contain a user name or password, got "https://me:xxxxx@example.com/t"`, nil},
		{"empty URL", nil, with(google, `token_url = ""`), "token_url: must not be empty: leave it out to use the provider's", nil},
		{"scope with a space", nil, with(google, `scopes = ["a b"]`), `oauth2: scopes: element 1: "a b" is not one scope`, nil},
		{"empty scope", nil, with(google, `scopes = ["a", ""]`), "oauth2: scopes: element 2 is empty", nil},
		{"typo", nil, with(google, `clientid = "x"`), `account "work": oauth2: unknown key "clientid" (did you mean "client_id"?)`, nil},
		{"account key in the table", nil, with(google, `keep = true`),
			`oauth2: unknown key "keep" (keys after an oauth2 table's header belong to that table: move account keys above it)`, nil},
		{"auth plain", map[string]string{"auth": `"plain"`}, google,
			`account "work": auth: "plain" sends no OAuth2 token, but the account has its [account.oauth2] table: set auth = "xoauth2" or "oauthbearer"`, nil},
		{"password_file", map[string]string{"password_file": `"/p"`}, google,
			"account \"work\": password_file: conflicts with its [account.oauth2] table: an OAuth2 account's access token comes from fetchd's token store (run `fetchd auth work` once)", nil},
		{"inline password", map[string]string{"password": `"pw"`}, google, "password: conflicts with its [account.oauth2] table", nil},
		{"password_command", map[string]string{"password_command": `["pass"]`}, google, "password_command: conflicts with", nil},
		{"password_credential", map[string]string{"password_credential": `"work"`}, google, "password_credential: conflicts with", nil},
		{"client_id in the account", map[string]string{"client_id": `"x"`}, google,
			`unknown key "client_id" (OAuth2 settings go in an [account.oauth2] table, after the account's own keys)`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := oauth2TOML(tt.over, tt.lines...)
			if tt.name == "inline table" {
				data = accountTOML(map[string]string{"password_file": "-",
					"oauth2": `{provider = "microsoft", client_id = "id", client_secret = "` + clientSecret + `"}`}, false)
				tt.check = func(a *Account) bool { return a.OAuth2.Flow == "device" && a.Auth == "xoauth2" }
			}
			if tt.want != "" {
				errs := mustFail(t, data, tt.want)
				if strings.Contains(errs.Error(), clientSecret) {
					t.Errorf("the error shows the client secret:\n%v", errs)
				}
				return
			}
			a := mustParse(t, data).Accounts[0]
			if a.OAuth2 == nil || !tt.check(a) {
				t.Errorf("check failed: %+v", a.OAuth2)
			}
			if strings.Contains(a.Describe(), clientSecret) {
				t.Errorf("Describe shows the client secret: %s", a.Describe())
			}
		})
	}
}

// Problems in an oauth2 table carry the line of the key, or of the table's
// header for a missing key.
func TestParse_OAuth2LineNumbers(t *testing.T) {
	setHome(t)
	tests := []struct {
		data, key, line string // line: the start of the line the problem is on
	}{
		{oauth2TOML(nil, `provider = "google"`, `client_id = "id"`, `flow = "device"`), "oauth2: flow", "flow = "},
		{oauth2TOML(nil, `provider = "google"`), "oauth2: client_id", "[account.oauth2]"},
		{"[defaults.oauth2]\nclient_id = \"x\"\n" + accountTOML(map[string]string{"password_file": "-"}, false),
			"oauth2: auth_url", "[defaults.oauth2]"},
	}
	for _, tt := range tests {
		errs := mustFail(t, tt.data)
		p := errs.Problems[0]
		if want := lineOf(tt.data, tt.line); p.Line != want || p.Key != tt.key {
			t.Errorf("got %q (line %d, key %q), want line %d, key %q", p.Error(), p.Line, p.Key, want, tt.key)
		}
	}
}

func TestParse_OAuth2Misplaced(t *testing.T) {
	setHome(t)
	base := accountTOML(map[string]string{"password_file": "-"}, true)
	tests := []struct{ name, data, want string }{
		{"array of tables", base + "[[account.oauth2]]\nprovider = \"google\"\nclient_id = \"id\"\n",
			`account "work": oauth2: must be a single table: write [account.oauth2] with provider = "google"`},
		{"string", accountTOML(map[string]string{"password_file": "-", "oauth2": `"google"`}, false),
			`account "work": oauth2: must be a single table`},
		{"top level", "client_id = \"x\"\n" + accountTOML(nil, false),
			`unknown key "client_id" (OAuth2 settings go in an [account.oauth2] table, or in [defaults.oauth2] for every account)`},
		{"defaults array", "[[defaults.oauth2]]\nclient_id = \"x\"\n" + accountTOML(nil, false),
			"defaults: oauth2: must be a single table: write [defaults.oauth2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustFail(t, tt.data, tt.want) })
	}
}

// [defaults.oauth2] is inherited as a unit, like the password sources: not
// by an account with its own table, nor by one with its own password source.
func TestParse_OAuth2Inherited(t *testing.T) {
	setHome(t)
	data := "[defaults.oauth2]\nprovider = \"google\"\nclient_id = \"shared\"\nscopes = [\"s\"]\n" +
		accountTOML(map[string]string{"password_file": "-"}, false) +
		asHome(accountTOML(map[string]string{"password_file": "-", "name": `"ms"`}, true)) +
		"[account.oauth2]\nprovider = \"microsoft\"\nclient_id = \"own\"\n[[account.deliver]]\nmaildir = \"/m\"\n" +
		accountTOML(map[string]string{"name": `"plain"`, "user": `"p"`}, false)
	cfg := mustParse(t, data)
	work, ms, plain := cfg.Accounts[0], cfg.Accounts[1], cfg.Accounts[2]
	if o := work.OAuth2; o == nil || o.Provider != "google" || o.ClientID != "shared" || o.AuthURL != GoogleAuthURL ||
		!slices.Equal(o.Scopes, []string{"s"}) || work.Auth != "xoauth2" {
		t.Errorf("work: got %+v, auth %s", o, work.Auth)
	}
	if o := ms.OAuth2; o == nil || o.Provider != "microsoft" || o.ClientID != "own" || o.Flow != "device" {
		t.Errorf("ms: got %+v, want its own table", o)
	}
	if plain.OAuth2 != nil || plain.Auth != "auto" || plain.PasswordFile == "" {
		t.Errorf("plain: got %+v, auth %s, want no oauth2 table", plain.OAuth2, plain.Auth)
	}

	// Each account has its own copy.
	two := mustParse(t, "[defaults.oauth2]\nprovider = \"google\"\nclient_id = \"shared\"\n"+
		accountTOML(map[string]string{"password_file": "-"}, false)+asHome(accountTOML(map[string]string{"password_file": "-"}, false)))
	a, b := two.Accounts[0].OAuth2, two.Accounts[1].OAuth2
	if a == b || a.account != "work" || b.account != "home" {
		t.Fatalf("the accounts share %p / %p (%q, %q)", a, b, a.account, b.account)
	}
	a.Scopes[0] = "changed"
	if b.Scopes[0] != GoogleScope {
		t.Error("the accounts share the scopes")
	}
	if p, _ := OAuth2Preset("google"); p.Scopes[0] != GoogleScope {
		t.Error("the preset's scopes changed")
	}

	// An account's own table stops [defaults]' password source.
	own := mustParse(t, "[defaults]\npassword_file = \"/p\"\n"+oauth2TOML(nil, `provider = "google"`, `client_id = "id"`))
	if a := own.Accounts[0]; a.PasswordFile != "" || a.OAuth2 == nil {
		t.Errorf("got password_file %q, oauth2 %+v", a.PasswordFile, a.OAuth2)
	}
}

func TestParse_OAuth2InheritedProblems(t *testing.T) {
	setHome(t)
	tests := []struct {
		name, data string
		want       []string
		n          int // problems
	}{
		{"bad table reported once", "[defaults.oauth2]\nprovider = \"google\"\nclient_secret = \"" + clientSecret + "\"\n" +
			accountTOML(map[string]string{"password_file": "-"}, false) + asHome(accountTOML(map[string]string{"password_file": "-"}, false)),
			[]string{"config.toml:1: defaults: oauth2: client_id: required"}, 1},
		{"with [defaults]' password", "[defaults]\npassword_file = \"/p\"\n[defaults.oauth2]\nprovider = \"google\"\nclient_id = \"x\"\n" +
			accountTOML(map[string]string{"password_file": "-"}, false),
			[]string{`account "work": password_file: conflicts with the [defaults.oauth2] table it inherits`}, 1},
		{"with [defaults]' auth", "[defaults]\nauth = \"user\"\n[defaults.oauth2]\nprovider = \"google\"\nclient_id = \"x\"\n" +
			accountTOML(map[string]string{"password_file": "-"}, false),
			[]string{`account "work": auth: "user" sends no OAuth2 token, but the account has the [defaults.oauth2] table it inherits`}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := mustFail(t, tt.data, tt.want...)
			if len(errs.Problems) != tt.n {
				t.Errorf("got %d problems, want %d:\n%v", len(errs.Problems), tt.n, errs)
			}
			if strings.Contains(errs.Error(), clientSecret) {
				t.Errorf("the error shows the client secret:\n%v", errs)
			}
		})
	}
}

// Without an oauth2 table, xoauth2 still takes the token from a password
// source; without either, the account has no password.
func TestParse_XOAuth2WithoutTable(t *testing.T) {
	setHome(t)
	a := mustParse(t, accountTOML(map[string]string{"auth": `"xoauth2"`, "password_file": "-", "password_command": `["token"]`}, false)).Accounts[0]
	if a.OAuth2 != nil || a.Auth != "xoauth2" || a.PasswordCommand[0] != "token" {
		t.Errorf("got %+v", a)
	}
	mustFail(t, accountTOML(map[string]string{"auth": `"xoauth2"`, "password_file": "-"}, false),
		`no password: set password_file`, `(or, for an OAuth2 provider, add an [account.oauth2] table)`)
}

func TestAccount_DescribeOAuth2(t *testing.T) {
	o := &OAuth2{Provider: "microsoft", ClientID: "id", ClientSecret: clientSecret, Flow: "device"}
	a := &Account{Name: "work", Server: "outlook.office365.com", Port: 995, TLS: "implicit", User: "me", Auth: "xoauth2",
		OAuth2: o, Deliver: []Deliver{{Maildir: "/m"}}}
	want := "work: me at outlook.office365.com:995 (implicit TLS, auth xoauth2, oauth2 microsoft, delete after delivery) → maildir /m"
	if got := a.Describe(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	o.Provider = ""
	if got := a.Describe(); !strings.Contains(got, "auth xoauth2, oauth2 custom,") {
		t.Errorf("got %q", got)
	}
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%+v %#v %v %+v %#v", *a, a, o, *o, *o)} {
		if strings.Contains(s, clientSecret) {
			t.Errorf("printed the client secret: %s", s)
		}
	}
}

func TestOAuth2_Secret(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		o       OAuth2
		want    string
		wantErr string
	}{
		{"none", OAuth2{}, "", ""},
		{"inline", OAuth2{ClientSecret: clientSecret}, clientSecret, ""},
		{"file", OAuth2{ClientSecretFile: writeFile(t, dir, "a", clientSecret+"\n", 0o600)}, clientSecret, ""},
		{"file CRLF", OAuth2{ClientSecretFile: writeFile(t, dir, "b", clientSecret+"\r\n", 0o400)}, clientSecret, ""},
		{"file without newline", OAuth2{ClientSecretFile: writeFile(t, dir, "c", clientSecret, 0o600)}, clientSecret, ""},
		{"file with trailing space", OAuth2{ClientSecretFile: writeFile(t, dir, "d", clientSecret+" \n", 0o600)}, clientSecret + " ", ""},
		{"two lines", OAuth2{ClientSecretFile: writeFile(t, dir, "e", clientSecret+"\n\n", 0o600)}, "", "holds more than one line"},
		{"empty", OAuth2{ClientSecretFile: writeFile(t, dir, "f", "\n", 0o600)}, "", "is empty: write the client secret into it"},
		{"readable by others", OAuth2{ClientSecretFile: writeFile(t, dir, "g", clientSecret, 0o644)}, "",
			"holds a client secret but is readable by others (mode 0644): run chmod 600 " + filepath.Join(dir, "g")},
		{"group-readable", OAuth2{ClientSecretFile: writeFile(t, dir, "h", clientSecret, 0o640)}, "", "(mode 0640)"},
		{"missing", OAuth2{ClientSecretFile: filepath.Join(dir, "missing")}, "", "does not exist: write the client secret into it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.account = "work"
			got, err := tt.o.Secret()
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v, want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) ||
				!strings.HasPrefix(err.Error(), `account "work": oauth2: client_secret_file `+tt.o.ClientSecretFile+": ") {
				t.Errorf("got %q, %v, want an error naming the account and file, containing %q", got, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), clientSecret) {
				t.Errorf("the error shows the client secret: %v", err)
			}
		})
	}
	if os.Getuid() == 0 {
		return // root reads any file
	}
	p := writeFile(t, dir, "unreadable", clientSecret, 0o000)
	if _, err := (&OAuth2{ClientSecretFile: p}).Secret(); err == nil || strings.Contains(err.Error(), clientSecret) {
		t.Errorf("got %v", err)
	}
}

func TestAccount_SameCredentialsOAuth2(t *testing.T) {
	base := func() *Account {
		return &Account{User: "me", Auth: "xoauth2", OAuth2: &OAuth2{Provider: "google", ClientID: "id", Scopes: []string{"s"}}}
	}
	tests := []struct {
		name   string
		change func(*Account)
		same   bool
	}{
		{"identical", func(*Account) {}, true},
		{"other account name", func(a *Account) { a.OAuth2.account = "home" }, true},
		{"removed", func(a *Account) { a.OAuth2 = nil }, false},
		{"client_id", func(a *Account) { a.OAuth2.ClientID = "other" }, false},
		{"client secret", func(a *Account) { a.OAuth2.ClientSecret = "x" }, false},
		{"token_url", func(a *Account) { a.OAuth2.TokenURL = "https://x/t" }, false},
		{"scopes", func(a *Account) { a.OAuth2.Scopes = []string{"s", "t"} }, false},
		{"flow", func(a *Account) { a.OAuth2.Flow = "device" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := base(), base()
			tt.change(b)
			if a.SameCredentials(b) != tt.same || b.SameCredentials(a) != tt.same {
				t.Errorf("got %t, want %t", !tt.same, tt.same)
			}
		})
	}
}
