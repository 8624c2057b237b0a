package importconfig

import (
	"fetchd/internal/config"
	"fmt"
	"maps"
	"strings"
)

// The mpop configuration grammar, after mpop's conf.c: one command per line
// with an optional argument (double quotes around the whole argument are
// removed), '#' comment lines, "defaults" to set values for the accounts
// that follow, and "account NAME [: PARENT[,PARENT…]]", which starts from
// the current defaults and takes every setting the parents made.

// mpSetting is one command's argument and where it was set.
type mpSetting struct {
	arg  string
	line int
}

type mpAccount struct {
	name string
	line int
	base map[string]mpSetting // the defaults when the account began
	own  map[string]mpSetting // set by the account or its parents
}

// setting is the account's value of cmd.
func (a *mpAccount) setting(cmd string) (mpSetting, bool) {
	if s, ok := a.own[cmd]; ok {
		return s, true
	}
	s, ok := a.base[cmd]
	return s, ok
}

type mpFile struct {
	accounts []*mpAccount
	evals    []int // lines of eval commands, which are not run
}

// mpCommands are the commands mpop 1.4 knows, besides defaults, account
// and eval.
const mpCommandWords = `host port source_ip proxy_host proxy_port socket timeout connect_timeout
	pipelining auth user password passwordeval ntlmdomain tls tls_starttls tls_trust_file
	tls_crl_file tls_fingerprint tls_key_file tls_cert_file tls_certcheck tls_priorities
	tls_host_override tls_min_dh_prime_bits tls_force_sslv3 delivery uidls_file only_new keep
	killsize skipsize filter received_header`

var (
	mpCommands    = wordSet(mpCommandWords)
	mpCommandList = strings.Fields(mpCommandWords) // for suggestions
)

func parseMpop(file string, data []byte) (*mpFile, error) {
	f := &mpFile{}
	defaults := map[string]mpSetting{}
	byName := map[string]*mpAccount{}
	var cur map[string]mpSetting // where settings go: defaults or an account's own
	errf := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
	}
	newAccount := func(name string, line int) *mpAccount {
		a := &mpAccount{name: name, line: line, base: maps.Clone(defaults), own: map[string]mpSetting{}}
		f.accounts = append(f.accounts, a)
		byName[name] = a
		return a
	}
	for i, text := range strings.Split(string(data), "\n") {
		line := i + 1
		cmd, arg, ok := mpLine(text)
		if !ok {
			continue
		}
		if cur == nil && cmd != "account" && cmd != "defaults" {
			return nil, errf(line, "first command must be account or defaults, as mpop says too")
		}
		switch {
		case cmd == "defaults":
			if arg != "" {
				return nil, errf(line, "defaults takes no argument")
			}
			cur = defaults
		case cmd == "account":
			name, parents, hasParents := strings.Cut(arg, ":")
			name = strings.TrimSpace(name)
			switch {
			case name == "":
				return nil, errf(line, "account needs a name")
			case strings.Contains(name, ","):
				return nil, errf(line, "an account name must not contain commas or colons")
			case byName[name] != nil:
				return nil, errf(line, "account %s was already defined in this file", name)
			}
			a := newAccount(name, line)
			if hasParents {
				for _, p := range strings.Split(parents, ",") {
					parent := byName[mpTrim(p)]
					if parent == nil {
						return nil, errf(line, "account %s not (yet) defined", mpTrim(p))
					}
					maps.Copy(a.own, parent.own)
				}
			}
			cur = a.own
		case cmd == "eval":
			f.evals = append(f.evals, line)
		case mpCommands[cmd]:
			if cmd == "connect_timeout" {
				cmd = "timeout"
			}
			cur[cmd] = mpSetting{arg: arg, line: line}
		default:
			// A word far from every command may be a password on a line
			// of its own (or glued to "password" by a no-break space):
			// only a likely typo is shown.
			if near := config.Suggest(cmd, mpCommandList); near != "" {
				return nil, errf(line, "unknown command %q: did you mean %s?", cmd, near)
			}
			return nil, errf(line, "not an mpop command (the line is not shown: it may hold a password)")
		}
	}
	return f, nil
}

// mpLine splits a line into command and argument; ok is false for blank
// and comment lines.
func mpLine(text string) (cmd, arg string, ok bool) {
	text = strings.TrimSuffix(text, "\r")
	text = strings.TrimLeft(text, " \t")
	if text == "" || text[0] == '#' {
		return "", "", false
	}
	n := strings.IndexAny(text, " \t")
	if n < 0 {
		return text, "", true
	}
	return text[:n], mpTrim(text[n:]), true
}

// mpTrim removes blanks around s, then a pair of double quotes around it.
func mpTrim(s string) string {
	s = strings.Trim(s, " \t")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
