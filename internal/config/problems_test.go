package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Inheritance from [defaults], how problems are reported, and the schema
// table itself.

func TestParse_DefaultsInheritance(t *testing.T) {
	setHome(t)
	one := accountTOML(nil, true)
	two := asHome(one)
	tests := []struct {
		name     string
		defaults string
		accounts string
		want     string
		check    func(c *Config) bool
	}{
		{"scalar inherited", "keep = true\ntimeout = \"5m\"\n[[defaults.deliver]]\nmaildir = \"/d\"\n", one + two, "", func(c *Config) bool {
			return c.Accounts[0].Keep && c.Accounts[1].Keep && c.Accounts[1].Timeout == 5*time.Minute
		}},
		{"explicit zero overrides", "keep = true\n[[defaults.deliver]]\nmaildir = \"/d\"\n",
			strings.Replace(one, "[[account]]\n", "[[account]]\nkeep = false\n", 1) + two, "", func(c *Config) bool {
				return !c.Accounts[0].Keep && c.Accounts[1].Keep
			}},
		{"deliver inherited", "[[defaults.deliver]]\nmaildir = \"/d\"\n", one + two, "", func(c *Config) bool {
			return c.Accounts[0].Deliver[0].Maildir == "/d" && c.Accounts[1].Deliver[0].Maildir == "/d"
		}},
		{"own deliver replaces defaults", "[[defaults.deliver]]\nmaildir = \"/d\"\n",
			one + "[[account.deliver]]\nmaildir = \"/own\"\n" + two, "", func(c *Config) bool {
				a := c.Accounts[0].Deliver
				return len(a) == 1 && a[0].Maildir == "/own" && c.Accounts[1].Deliver[0].Maildir == "/d"
			}},
		{"server and port inherited", "server = \"mail.example.org\"\nport = 1995\n[[defaults.deliver]]\nmaildir = \"/d\"\n",
			strings.Replace(one, "server = \"pop.example.com\"\n", "", 1), "", func(c *Config) bool {
				return c.Accounts[0].Addr() == "mail.example.org:1995"
			}},
		{"password source group", "password_command = [\"pass\", \"show\", \"x\"]\n[[defaults.deliver]]\nmaildir = \"/d\"\n", one, "", func(c *Config) bool {
			a := c.Accounts[0]
			return a.PasswordFile == "/etc/fetchd/work.pass" && a.PasswordCommand == nil
		}},
		{"credential in defaults replaced by own source", "password_credential = \"fetchd\"\n[[defaults.deliver]]\nmaildir = \"/d\"\n", one, "", func(c *Config) bool {
			a := c.Accounts[0]
			return a.PasswordFile == "/etc/fetchd/work.pass" && a.PasswordCredential == ""
		}},
		{"credential from defaults", "password_credential = \"fetchd\"\n[[defaults.deliver]]\nmaildir = \"/d\"\n",
			strings.Replace(one, "password_file = \"/etc/fetchd/work.pass\"\n", "", 1), "", func(c *Config) bool {
				return c.Accounts[0].PasswordCredential == "fetchd"
			}},
		{"password source from defaults", "password = \"pw\"\n[[defaults.deliver]]\nmaildir = \"/d\"\n",
			strings.Replace(one, "password_file = \"/etc/fetchd/work.pass\"\n", "", 1), "", func(c *Config) bool {
				return c.Accounts[0].Password == "pw"
			}},
		{"tls none in defaults checked per account", "tls = \"none\"\n[[defaults.deliver]]\nmaildir = \"/d\"\n", one,
			`account "work": tls: "none" sends your password`, nil},
		{"name in defaults", "name = \"x\"\n[[defaults.deliver]]\nmaildir = \"/d\"\n", one,
			"config.toml:2: defaults: name: cannot be set in [defaults]", nil},
		{"unknown key in defaults", "kep = true\n[[defaults.deliver]]\nmaildir = \"/d\"\n", one,
			`config.toml:2: defaults: unknown key "kep" (did you mean "keep"?)`, nil},
		{"bad defaults deliver", "[[defaults.deliver]]\nmaildir = \"rel\"\n", one,
			"config.toml:3: defaults: deliver #1: maildir: must be an absolute path", nil},
		{"top-level key after table", "state = \"/s.db\"\n[[defaults.deliver]]\nmaildir = \"/d\"\n", one,
			`defaults: unknown key "state" (top-level keys must come before the first table)`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "[defaults]\n" + tt.defaults + tt.accounts
			if tt.want != "" {
				mustFail(t, data, tt.want)
				return
			}
			cfg := mustParse(t, data)
			if !tt.check(cfg) {
				for _, a := range cfg.Accounts {
					t.Logf("%+v", *a)
				}
				t.Errorf("check failed")
			}
		})
	}
}

// A bad value in [defaults] is reported once, under defaults, not once per
// account, and the accounts do not add their own complaint about it.
func TestParse_BadDefaultReportedOnce(t *testing.T) {
	setHome(t)
	one := accountTOML(nil, false)
	two := asHome(one)
	data := "[defaults]\nport = 70000\ntimeout = \"never\"\nserver = 5\n" + one + two
	errs := mustFail(t, data,
		"config.toml:2: defaults: port: must be 1..65535, got 70000",
		`config.toml:3: defaults: timeout: bad duration "never"`,
		"config.toml:4: defaults: server: must be a string")
	if len(errs.Problems) != 3 {
		t.Errorf("got %d problems, want 3:\n%v", len(errs.Problems), errs)
	}
}

// The acceptance case: a typo in a key, a missing server and a bad port are
// all named by one load.
func TestParse_ReportsEveryProblemAtOnce(t *testing.T) {
	setHome(t)
	data := accountTOML(map[string]string{"server": "-", "port": "70000", "usr": `"me"`}, false)
	errs := mustFail(t, data,
		`unknown key "usr" (did you mean "user"?)`,
		`account "work": server: required`,
		`account "work": port: must be 1..65535, got 70000`)
	for _, p := range errs.Problems {
		if p.File != "config.toml" || p.Account != "work" || p.Line == 0 {
			t.Errorf("problem %q: File %q, Account %q, Line %d", p.Error(), p.File, p.Account, p.Line)
		}
	}
}

func TestParse_SyntaxError(t *testing.T) {
	tests := []struct {
		data, want string
	}{
		{"log_level = \"info\"\n\nstate = = 2\n", "config.toml:3: syntax error: "},
		{"[[account]\n", "config.toml:1: syntax error: "},
		{"state = \"/x\"\n\n[[account]\nname = \"b\"\n", "config.toml:3: syntax error: "},
		{"[[account]]\nport = \nname = \"b\"\n", "config.toml:2: syntax error: "},
		{"[[account]]\nname = \"a\"\nname = \"b\"\n", "config.toml:3: syntax error: "},
		{"a = \"unterminated\n", "config.toml:1: syntax error: "},
	}
	for _, tt := range tests {
		errs := mustFail(t, tt.data, tt.want)
		if len(errs.Problems) != 1 || strings.Count(errs.Error(), "\n") > 1 {
			t.Errorf("%q: want one short problem, got:\n%v", tt.data, errs)
		}
	}
}

func TestProblem_Error(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "config.toml", Line: 12, Account: "work", Key: "port", Msg: "must be 1..65535, got 70000"},
			`config.toml:12: account "work": port: must be 1..65535, got 70000`},
		{Problem{File: "config.toml", Account: "#2", Key: "server", Msg: "required"}, "config.toml: account #2: server: required"},
		{Problem{File: "c.toml", Line: 3, Section: "defaults", Key: "keep", Msg: "bad"}, "c.toml:3: defaults: keep: bad"},
		{Problem{Msg: "bare"}, "bare"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	errs := &Errors{Problems: []*Problem{&tests[0].p, &tests[1].p}}
	if got, want := errs.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var p *Problem
	if !errors.As(error(errs), &p) || p != &tests[0].p {
		t.Errorf("errors.As did not find the first problem")
	}
}

// TestSchema checks that every schema entry's pointer fits its kind, so a
// wrong entry fails here rather than panicking on someone's config.
func TestSchema(t *testing.T) {
	sample := map[kind]any{
		kindString: "x", kindPath: "/x", kindEnum: "x", kindBool: true, kindInt: 1,
		kindDuration: time.Second, kindSize: int64(1), kindStringList: []string{"x"}, kindIntList: []int{1},
		kindStrings: []string{"x"},
	}
	check := func(key string, k kind, ptr any) {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("key %q: %v", key, r)
			}
		}()
		assign(key, ptr, sample[k])
	}
	seen := map[string]bool{}
	for _, f := range configFields {
		check(f.key, f.kind, f.ptr(&Config{}))
		seen[f.key] = true
	}
	for _, f := range accountFields {
		check(f.key, f.kind, f.ptr(&Account{}))
		if seen[f.key] {
			t.Errorf("key %q is both top-level and an account key", f.key)
		}
		if f.kind == kindEnum && len(f.enum) == 0 {
			t.Errorf("enum key %q has no values", f.key)
		}
	}
	var targets []string
	for _, f := range deliverFields {
		if f.target {
			targets = append(targets, f.key)
		}
	}
	for _, f := range deliverFields {
		check(f.key, f.kind, f.ptr(&Deliver{}))
		if f.target == (f.only != nil) {
			t.Errorf("deliver key %q: a target key has no only list, every other key has one", f.key)
		}
		for _, k := range f.only {
			if !slices.Contains(targets, k) {
				t.Errorf("deliver key %q: only names %q, which is not a target", f.key, k)
			}
		}
		if hasKey(accountFields, f.key) || hasKey(configFields, f.key) {
			t.Errorf("deliver key %q is also an account or top-level key", f.key)
		}
	}
	for _, f := range oauth2Fields {
		check(f.key, f.kind, f.ptr(&OAuth2{}))
		if hasKey(accountFields, f.key) || hasKey(configFields, f.key) || hasKey(deliverFields, f.key) {
			t.Errorf("oauth2 key %q is also an account, top-level or deliver key", f.key)
		}
		if f.kind == kindEnum && len(f.enum) == 0 {
			t.Errorf("enum key %q has no values", f.key)
		}
	}
}

func TestParse_LineNumbers(t *testing.T) {
	setHome(t)
	data := `# comment with [brackets] and key = "value"
log_level = "info"
[defaults]
keep = false
note = """
multi-line
port = 1
"""
[[account]]
name = "a"
password_command = [
  "sh", "-c",   # a comment ]
  "echo ]",
]
prot = 1
[[account.deliver]]
maildir = "/m"
[[account]]
name = 'b'
port = 0
`
	errs := mustFail(t, data)
	want := []string{
		`config.toml:5: defaults: unknown key "note"`,
		`config.toml:15: account "a": unknown key "prot" (did you mean "port"?)`,
		`config.toml:9: account "a": server: required`,
		`config.toml:20: account "b": port: must be 1..65535, got 0`,
		`config.toml:18: account "b": server: required`,
	}
	got := errs.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}
