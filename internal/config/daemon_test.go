package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The keys `fetchd run` reads: concurrency, the status listener and the
// notify command at the top level; schedule, jitter, back-off and pausing
// per account.

// lineOf is the 1-based line of data that starts with prefix, or 0.
func lineOf(data, prefix string) int {
	for i, l := range strings.Split(data, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	return 0
}

// wantOneProblem checks that data fails with exactly one problem, about key
// on the line that sets it, whose message contains want.
func wantOneProblem(t *testing.T, data, key, want string) {
	t.Helper()
	errs := mustFail(t, data, want)
	if len(errs.Problems) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(errs.Problems), errs)
	}
	p := errs.Problems[0]
	if line := lineOf(data, key+" = "); p.File != "config.toml" || p.Key != key || p.Line != line {
		t.Errorf("got %q (file %q, line %d, key %q), want file config.toml, line %d, key %q", p.Error(), p.File, p.Line, p.Key, line, key)
	}
}

func TestParse_DaemonTopLevelKeys(t *testing.T) {
	setHome(t)
	acct := accountTOML(nil, false)
	tests := []struct {
		name  string
		line  string // a top-level key = value
		want  string // substring of the error; "" = valid
		check func(*Config) bool
	}{
		{"defaults", "", "", func(c *Config) bool {
			return c.MaxParallel == 16 && c.MaxPerServer == 8 && c.Listen == "" && c.NotifyCommand == nil
		}},
		{"max_parallel", "max_parallel = 32", "", func(c *Config) bool { return c.MaxParallel == 32 && c.MaxPerServer == 8 }},
		{"max_parallel one", "max_parallel = 1", "", func(c *Config) bool { return c.MaxParallel == 1 }},
		{"max_parallel zero", "max_parallel = 0", "config.toml:1: max_parallel: must be 1..256, got 0", nil},
		{"max_parallel too many", "max_parallel = 257", "config.toml:1: max_parallel: must be 1..256, got 257", nil},
		{"max_parallel quoted", `max_parallel = "4"`, `max_parallel: must be an integer, got the string "4" (write it without quotes)`, nil},
		{"max_per_server", "max_per_server = 1", "", func(c *Config) bool { return c.MaxPerServer == 1 && c.MaxParallel == 16 }},
		{"max_per_server zero", "max_per_server = 0", "config.toml:1: max_per_server: must be 1..256, got 0", nil},
		{"max_per_server negative", "max_per_server = -2", "config.toml:1: max_per_server: must be 1..256, got -2", nil},

		{"listen ipv4", `listen = "127.0.0.1:9467"`, "", func(c *Config) bool { return c.Listen == "127.0.0.1:9467" }},
		{"listen ipv6", `listen = "[::1]:9467"`, "", func(c *Config) bool { return c.Listen == "[::1]:9467" }},
		{"listen localhost", `listen = "localhost:9467"`, "", func(c *Config) bool { return c.Listen == "localhost:9467" }},
		{"listen other loopback", `listen = "127.0.0.2:80"`, "", func(c *Config) bool { return c.Listen == "127.0.0.2:80" }},
		{"listen any", `listen = "0.0.0.0:9467"`, `config.toml:1: listen: must be a loopback address such as 127.0.0.1:9467: ` +
			`the status and metrics endpoints are not meant for the network, got "0.0.0.0:9467"`, nil},
		{"listen any ipv6", `listen = "[::]:9467"`, "listen: must be a loopback address", nil},
		{"listen lan", `listen = "192.168.1.2:80"`, `listen: must be a loopback address such as 127.0.0.1:9467`, nil},
		{"listen host name", `listen = "status.example.com:80"`, `listen: must be a loopback address`, nil},
		{"listen no port", `listen = "127.0.0.1"`, `listen: must include the port: write listen = "127.0.0.1:9467"`, nil},
		{"listen ipv6 no port", `listen = "[::1]"`, `listen: must include the port: write listen = "[::1]:9467"`, nil},
		{"listen ipv6 no brackets", `listen = "::1"`, `listen: write an IPv6 address in brackets, with the port: listen = "[::1]:9467"`, nil},
		{"listen no host", `listen = ":9467"`, `listen: the host must not be empty, which would listen on every interface: write listen = "127.0.0.1:9467"`, nil},
		{"listen port zero", `listen = "127.0.0.1:0"`, `listen: the port must be a number 1..65535, got "0"`, nil},
		{"listen port too big", `listen = "127.0.0.1:65536"`, `listen: the port must be a number 1..65535, got "65536"`, nil},
		{"listen port name", `listen = "localhost:http"`, `listen: the port must be a number 1..65535, got "http"`, nil},
		{"listen url", `listen = "http://127.0.0.1:9467"`, "listen: must be host:port, not a URL", nil},
		{"listen empty", `listen = ""`, "listen: must not be empty: leave listen out", nil},
		{"listen number", `listen = 9467`, "listen: must be a string, got the integer 9467", nil},

		{"notify_command", `notify_command = ["/usr/local/bin/fetchd-notify", "--json"]`, "", func(c *Config) bool {
			return slices.Equal(c.NotifyCommand, []string{"/usr/local/bin/fetchd-notify", "--json"})
		}},
		{"notify_command empty", `notify_command = []`, `config.toml:1: notify_command: must name a program, e.g. ["/usr/local/bin/fetchd-notify"]`, nil},
		{"notify_command empty program", `notify_command = [""]`, "notify_command: must name a program", nil},
		{"notify_command string", `notify_command = "notify-send fetchd"`, "notify_command: must be an array of strings", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.line + "\n" + acct
			if tt.want != "" {
				key, _, _ := strings.Cut(tt.line, " ")
				wantOneProblem(t, data, key, tt.want)
				return
			}
			if cfg := mustParse(t, data); !tt.check(cfg) {
				t.Errorf("check failed: %+v", cfg)
			}
		})
	}
}

func TestParse_PollingKeys(t *testing.T) {
	setHome(t)
	const hint = `; use five fields (minute hour day-of-month month day-of-week), or a descriptor such as "@every 5m" or "@hourly"`
	tests := []struct {
		name  string
		over  map[string]string
		want  string // substring of the error; "" = valid
		check func(*Account) bool
	}{
		{"defaults", nil, "", func(a *Account) bool {
			return a.Schedule == "@every 5m" && a.Jitter == 30*time.Second && a.BackoffMax == time.Hour && a.PauseAfterAuthFailures == 3
		}},

		{"schedule every", map[string]string{"schedule": `"@every 2m"`}, "", func(a *Account) bool { return a.Schedule == "@every 2m" }},
		{"schedule step", map[string]string{"schedule": `"*/5 * * * *"`}, "", func(a *Account) bool { return a.Schedule == "*/5 * * * *" }},
		{"schedule hourly", map[string]string{"schedule": `"@hourly"`}, "", func(a *Account) bool { return a.Schedule == "@hourly" }},
		{"schedule working hours", map[string]string{"schedule": `"0 7-22 * * 1-5"`}, "", func(a *Account) bool { return a.Schedule == "0 7-22 * * 1-5" }},
		{"schedule names", map[string]string{"schedule": `"30 8 * jan-jun mon,fri"`}, "", func(a *Account) bool { return a.Schedule == "30 8 * jan-jun mon,fri" }},
		{"schedule time zone", map[string]string{"schedule": `"CRON_TZ=UTC 0 7 * * *"`}, "", func(a *Account) bool { return a.Schedule == "CRON_TZ=UTC 0 7 * * *" }},
		{"schedule leap day", map[string]string{"schedule": `"0 0 29 2 *"`}, "", func(a *Account) bool { return a.Schedule == "0 0 29 2 *" }},
		{"schedule no at", map[string]string{"schedule": `"every 5m"`},
			`account "work": schedule: bad schedule "every 5m": expected exactly 5 fields, found 2: [every 5m]` + hint, nil},
		{"schedule three fields", map[string]string{"schedule": `"* * *"`},
			`schedule: bad schedule "* * *": expected exactly 5 fields, found 3: [* * *]` + hint, nil},
		{"schedule six fields", map[string]string{"schedule": `"0 * * * * *"`}, "expected exactly 5 fields, found 6", nil},
		{"schedule minute 61", map[string]string{"schedule": `"61 * * * *"`},
			`schedule: bad schedule "61 * * * *": end of range (61) above maximum (59): 61` + hint, nil},
		{"schedule every zero", map[string]string{"schedule": `"@every 0s"`},
			`schedule: bad schedule "@every 0s": the interval must be at least 1s, got 0s; write it like "@every 5m"`, nil},
		{"schedule every negative", map[string]string{"schedule": `"@every -5m"`}, "the interval must be at least 1s, got -5m0s", nil},
		{"schedule every sub-second", map[string]string{"schedule": `"@every 500ms"`}, "the interval must be at least 1s, got 500ms", nil},
		{"schedule every zero in zone", map[string]string{"schedule": `"TZ=UTC @every 0s"`}, "the interval must be at least 1s", nil},
		{"schedule every days", map[string]string{"schedule": `"@every 1d"`}, `unknown unit "d"`, nil},
		{"schedule unknown descriptor", map[string]string{"schedule": `"@often"`}, "unrecognized descriptor: @often" + hint, nil},
		{"schedule never", map[string]string{"schedule": `"0 0 30 2 *"`}, `bad schedule "0 0 30 2 *": no date matches it, so it would never run`, nil},
		{"schedule bad zone", map[string]string{"schedule": `"CRON_TZ=Nowhere/Land 0 7 * * *"`}, "unknown time zone Nowhere/Land", nil},
		{"schedule zone alone", map[string]string{"schedule": `"TZ=UTC"`}, `bad schedule "TZ=UTC": put a space and the schedule after the time zone`, nil},
		{"schedule empty", map[string]string{"schedule": `""`}, "schedule: must not be empty: leave schedule out", nil},
		{"schedule number", map[string]string{"schedule": `5`}, "schedule: must be a string", nil},

		{"jitter", map[string]string{"jitter": `"2m"`}, "", func(a *Account) bool { return a.Jitter == 2*time.Minute }},
		{"jitter zero", map[string]string{"jitter": `"0s"`}, "", func(a *Account) bool { return a.Jitter == 0 }},
		{"jitter negative", map[string]string{"jitter": `"-1s"`}, `account "work": jitter: must be 0 (none) or more, got -1s`, nil},
		{"jitter number", map[string]string{"jitter": `30`}, `jitter: must be a duration string with a unit, got the number 30 (write "30s" for seconds)`, nil},

		{"backoff_max", map[string]string{"backoff_max": `"6h"`}, "", func(a *Account) bool { return a.BackoffMax == 6*time.Hour }},
		{"backoff_max days", map[string]string{"backoff_max": `"1d"`}, "", func(a *Account) bool { return a.BackoffMax == 24*time.Hour }},
		{"backoff_max zero", map[string]string{"backoff_max": `"0s"`}, `account "work": backoff_max: must be more than zero, got 0s`, nil},
		{"backoff_max bad", map[string]string{"backoff_max": `"forever"`}, `backoff_max: bad duration "forever"`, nil},

		{"pause_after_auth_failures", map[string]string{"pause_after_auth_failures": "1"}, "", func(a *Account) bool { return a.PauseAfterAuthFailures == 1 }},
		{"pause_after_auth_failures max", map[string]string{"pause_after_auth_failures": "1000"}, "", func(a *Account) bool { return a.PauseAfterAuthFailures == 1000 }},
		{"pause_after_auth_failures zero", map[string]string{"pause_after_auth_failures": "0"},
			`account "work": pause_after_auth_failures: must be 1..1000, got 0`, nil},
		{"pause_after_auth_failures too many", map[string]string{"pause_after_auth_failures": "1001"}, "pause_after_auth_failures: must be 1..1000, got 1001", nil},
		{"pause_after_auth_failures bool", map[string]string{"pause_after_auth_failures": "true"}, "pause_after_auth_failures: must be an integer, got true", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := accountTOML(tt.over, false)
			if tt.want != "" {
				if len(tt.over) != 1 {
					t.Fatal("an error case sets exactly one key")
				}
				for key := range tt.over {
					wantOneProblem(t, data, key, tt.want)
				}
				return
			}
			if a := mustParse(t, data).Accounts[0]; !tt.check(a) {
				t.Errorf("check failed for %#v: %+v", tt.over, *a)
			}
		})
	}
}

func TestParse_PollingKeysInherited(t *testing.T) {
	setHome(t)
	defaults := "[defaults]\nschedule = \"0 7-22 * * 1-5\"\njitter = \"0s\"\nbackoff_max = \"4h\"\npause_after_auth_failures = 5\n"
	own := accountTOML(map[string]string{"schedule": `"@hourly"`, "jitter": `"1m"`, "pause_after_auth_failures": "2"}, false)
	data := defaults + accountTOML(nil, false) + asHome(own)
	cfg := mustParse(t, data)
	a, b := cfg.Account("work"), cfg.Account("home")
	if a.Schedule != "0 7-22 * * 1-5" || a.Jitter != 0 || a.BackoffMax != 4*time.Hour || a.PauseAfterAuthFailures != 5 {
		t.Errorf("work did not inherit: %q %v %v %d", a.Schedule, a.Jitter, a.BackoffMax, a.PauseAfterAuthFailures)
	}
	if b.Schedule != "@hourly" || b.Jitter != time.Minute || b.BackoffMax != 4*time.Hour || b.PauseAfterAuthFailures != 2 {
		t.Errorf("home did not override: %q %v %v %d", b.Schedule, b.Jitter, b.BackoffMax, b.PauseAfterAuthFailures)
	}

	// A bad value in [defaults] is reported once, there.
	data = "[defaults]\nschedule = \"@every 0s\"\njitter = \"-1s\"\nbackoff_max = \"0s\"\npause_after_auth_failures = 0\n" +
		accountTOML(nil, false) + asHome(accountTOML(nil, false))
	errs := mustFail(t, data,
		`config.toml:2: defaults: schedule: bad schedule "@every 0s"`,
		"config.toml:3: defaults: jitter: must be 0 (none) or more",
		"config.toml:4: defaults: backoff_max: must be more than zero",
		"config.toml:5: defaults: pause_after_auth_failures: must be 1..1000, got 0")
	if len(errs.Problems) != 4 {
		t.Errorf("got %d problems, want 4:\n%v", len(errs.Problems), errs)
	}
}

// Top-level and account keys in the wrong place say where they belong.
func TestParse_DaemonKeysMisplaced(t *testing.T) {
	setHome(t)
	mustFail(t, "[defaults]\nmax_parallel = 2\n"+accountTOML(nil, false),
		`config.toml:2: defaults: unknown key "max_parallel" (top-level keys must come before the first table)`)
	mustFail(t, accountTOML(map[string]string{"listen": `"127.0.0.1:9467"`}, false),
		`account "work": unknown key "listen" (top-level keys must come before the first table)`)
	mustFail(t, "schedule = \"@hourly\"\n"+accountTOML(nil, false),
		`config.toml:1: unknown key "schedule" (account keys go in an [[account]] table, or in [defaults] for every account)`)
}

func TestAccount_SameCredentials(t *testing.T) {
	base := Account{
		Name: "work", Server: "pop.example.com", Port: 995, User: "me", Auth: "auto",
		PasswordCommand: []string{"pass", "show", "work"}, Schedule: "@every 5m",
	}
	tests := []struct {
		name   string
		change func(*Account)
		same   bool
	}{
		{"identical", func(*Account) {}, true},
		{"other keys differ", func(a *Account) {
			a.Name, a.Server, a.Port, a.Schedule, a.Keep, a.Timeout = "home", "pop.example.org", 110, "@hourly", true, time.Minute
		}, true},
		{"user", func(a *Account) { a.User = "me2" }, false},
		{"auth", func(a *Account) { a.Auth = "apop" }, false},
		{"inline password", func(a *Account) { a.Password = "x" }, false},
		{"password file", func(a *Account) { a.PasswordFile = "/p" }, false},
		{"command argument", func(a *Account) { a.PasswordCommand = []string{"pass", "show", "home"} }, false},
		{"command longer", func(a *Account) { a.PasswordCommand = append(slices.Clone(a.PasswordCommand), "-x") }, false},
		{"command removed", func(a *Account) { a.PasswordCommand = nil }, false},
		{"credential", func(a *Account) { a.PasswordCredential = "work" }, false},
		{"TLS settings are not credentials", func(a *Account) { a.TLSMinVersion, a.CAFile = "1.3", "/ca.pem" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := base
			b.PasswordCommand = slices.Clone(base.PasswordCommand)
			tt.change(&b)
			if got := base.SameCredentials(&b); got != tt.same {
				t.Errorf("a.SameCredentials(b) = %t, want %t", got, tt.same)
			}
			if got := b.SameCredentials(&base); got != tt.same {
				t.Errorf("b.SameCredentials(a) = %t, want %t", got, tt.same)
			}
		})
	}
	// An empty command and no command are the same configuration.
	a, b := &Account{PasswordCommand: []string{}}, &Account{}
	if !a.SameCredentials(b) {
		t.Error("empty and nil PasswordCommand differ")
	}
}
