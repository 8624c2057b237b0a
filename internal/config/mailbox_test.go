package config

import (
	"strings"
	"testing"

	"fetchd/internal/state"
)

// Two accounts with one state-store key would share one mailbox's delivery
// records and poll it at once.

// mailboxTOML is a valid account named name with the given extra lines.
func mailboxTOML(name string, lines ...string) string {
	return "[[account]]\nname = \"" + name + "\"\npassword_file = \"/p\"\n" + strings.Join(lines, "\n") +
		"\n[[account.deliver]]\nmaildir = \"/m\"\n"
}

func TestParse_AccountsSharingMailbox(t *testing.T) {
	setHome(t)
	const srv, usr = `server = "pop.example.com"`, `user = "me@example.com"`
	const shared = `server, port and user are those of account "a" (pop.example.com:995, me@example.com): ` +
		`two accounts would share one mailbox's records and poll it at once; remove one`
	tests := []struct {
		name string
		data string
		want []string // the problems, in full; none = valid
	}{
		{"same key", mailboxTOML("a", srv, usr) + mailboxTOML("b", srv, usr),
			[]string{`config.toml:8: account "b": ` + shared}},
		{"server case differs", mailboxTOML("a", srv, usr) + mailboxTOML("b", `server = "POP.Example.COM"`, usr),
			[]string{`config.toml:8: account "b": ` + shared}},
		{"default port equals explicit", mailboxTOML("a", srv, usr) + mailboxTOML("b", srv, usr, "port = 995"),
			[]string{`config.toml:8: account "b": ` + shared}},
		{"starttls default port equals none's", mailboxTOML("a", srv, usr, `tls = "starttls"`) +
			mailboxTOML("b", srv, usr, `tls = "none"`, "allow_insecure = true", "port = 110"),
			[]string{`config.toml:9: account "b": server, port and user are those of account "a" (pop.example.com:110, me@example.com): ` +
				`two accounts would share one mailbox's records and poll it at once; remove one`}},
		{"server and user from defaults", "[defaults]\n" + srv + "\n" + usr + "\n" + mailboxTOML("a") + mailboxTOML("b"),
			[]string{`config.toml:10: account "b": ` + shared}},
		{"third names the first", mailboxTOML("a", srv, usr) + mailboxTOML("b", srv, usr) + mailboxTOML("c", srv, usr),
			[]string{`config.toml:8: account "b": ` + shared, `config.toml:15: account "c": ` + shared}},
		{"first unnamed", strings.Replace(mailboxTOML("a", srv, usr), "name = \"a\"\n", "", 1) + mailboxTOML("b", srv, usr),
			[]string{`config.toml:1: account #1: name: required`,
				`config.toml:7: account "b": server, port and user are those of account #1 (pop.example.com:995, me@example.com)`}},
		{"ipv6", mailboxTOML("a", `server = "2001:db8::1"`, usr) + mailboxTOML("b", `server = "2001:db8::1"`, usr),
			[]string{`config.toml:8: account "b": server, port and user are those of account "a" ([2001:db8::1]:995, me@example.com)`}},
		{"server missing in both", mailboxTOML("a", usr) + mailboxTOML("b", usr),
			[]string{`config.toml:1: account "a": server: required`, `config.toml:7: account "b": server: required`}},

		{"other port", mailboxTOML("a", srv, usr) + mailboxTOML("b", srv, usr, "port = 1995"), nil},
		{"other server", mailboxTOML("a", srv, usr) + mailboxTOML("b", `server = "pop.example.org"`, usr), nil},
		{"user case differs", mailboxTOML("a", srv, usr) + mailboxTOML("b", srv, `user = "Me@example.com"`), nil},
		{"tls changes the default port", mailboxTOML("a", srv, usr) + mailboxTOML("b", srv, usr, `tls = "starttls"`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				mustParse(t, tt.data)
				return
			}
			errs := mustFail(t, tt.data, tt.want...)
			if len(errs.Problems) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(errs.Problems), len(tt.want), errs)
			}
		})
	}
}

// mailboxOf must tell accounts apart exactly as the state store does, or
// the check either misses a shared bucket or refuses two separate ones.
func TestMailboxOf_MatchesStateKey(t *testing.T) {
	accounts := []Account{
		{Server: "pop.example.com", Port: 995, User: "me"},
		{Server: "POP.example.com", Port: 995, User: "me"},
		{Server: "pop.example.com.", Port: 995, User: "me"},
		{Server: "pop.example.com", Port: 110, User: "me"},
		{Server: "pop.example.com", Port: 995, User: "Me"},
		{Server: "pop.example.com", Port: 995, User: "me@x"},
		{Server: "2001:db8::1", Port: 995, User: "me"},
		{Server: "2001:DB8::1", Port: 995, User: "me"},
		{Server: "2001:db8:0::1", Port: 995, User: "me"},
		{Server: "192.0.2.1", Port: 995, User: "me"},
	}
	for i := range accounts {
		for j := range accounts {
			a, b := &accounts[i], &accounts[j]
			ka, _ := mailboxOf(a)
			kb, _ := mailboxOf(b)
			sa := state.AccountKey{Server: a.Server, Port: a.Port, User: a.User}.String()
			sb := state.AccountKey{Server: b.Server, Port: b.Port, User: b.User}.String()
			if got, want := ka == kb, sa == sb; got != want {
				t.Errorf("%s:%d %q and %s:%d %q: same mailbox %t, the store says %t (%q, %q)",
					a.Server, a.Port, a.User, b.Server, b.Port, b.User, got, want, sa, sb)
			}
		}
	}
}
