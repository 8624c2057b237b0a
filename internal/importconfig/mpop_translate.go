package importconfig

import (
	"fmt"
	"strings"
)

// mpTranslator turns one parsed mpop file into accounts.
type mpTranslator struct {
	r    *Result
	file string
}

// mpNotes are the mpop commands fetchd has no key for, and why. Values
// that ask for what fetchd does anyway ("pipelining auto", "only_new on")
// are left out by mpTranslator.account.
var mpNotes = map[string]string{
	"source_ip":             "fetchd lets the system choose the source address",
	"proxy_host":            "fetchd does not connect through a SOCKS proxy",
	"proxy_port":            "fetchd does not connect through a SOCKS proxy",
	"ntlmdomain":            "fetchd does not support NTLM",
	"pipelining":            "not needed: fetchd pipelines when the server announces PIPELINING",
	"uidls_file":            "fetchd keeps its own record of fetched messages: import this file with `fetchd import-state mpop FILE`",
	"only_new":              "fetchd fetches each message once: it has no mode that fetches old messages again",
	"filter":                "fetchd has no header filter: filter in the MDA (delivery mda) instead",
	"tls_crl_file":          "fetchd does not read CRL files",
	"tls_certcheck":         "fetchd always verifies the server's certificate: trust a private CA with ca_file, or pin the certificate with tls_fingerprint",
	"tls_priorities":        "fetchd uses TLS 1.2 or newer with Go's cipher suites; tls_min_version = \"1.3\" raises the floor",
	"tls_min_dh_prime_bits": "fetchd does not use finite-field Diffie-Hellman",
	"timeout":               "fetchd always has a timeout: it takes a number of seconds",
}

func translateMpop(r *Result, srcs []source) error {
	for _, s := range srcs {
		f, err := parseMpop(s.path, s.data)
		if err != nil {
			return err
		}
		t := &mpTranslator{r: r, file: s.path}
		for _, line := range f.evals {
			r.note(s.path, line, "eval", "runs a command while mpop reads the file: fetchd does not; write its output into the TOML by hand")
		}
		for _, acc := range f.accounts {
			t.account(acc)
		}
	}
	return nil
}

func (t *mpTranslator) noteSetting(s mpSetting, cmd string) {
	t.r.note(t.file, s.line, cmd+" "+s.arg, mpNotes[cmd])
}

func (t *mpTranslator) account(acc *mpAccount) {
	a := &Account{wantName: acc.name, Origin: fmt.Sprintf("%s:%d (account %s)", t.r.display(t.file), acc.line, acc.name)}
	t.r.add(a, t.file, acc.line)
	get := acc.setting
	for _, cmd := range sortedKeys(mpNotes) {
		if s, ok := get(cmd); ok && !mpHarmless(cmd, s.arg) {
			t.noteSetting(s, cmd)
		}
	}
	host, ok := get("host")
	switch {
	case !ok || host.arg == "":
		a.disable("no host: mpop refuses the account too")
	case !hostName(host.arg):
		a.disable("the host is not a host name or IP address")
	default:
		a.Server = host.arg
	}
	if s, ok := get("socket"); ok && s.arg != "" {
		a.disable("socket: fetchd connects over TCP only")
	}
	if s, ok := get("port"); ok {
		if n := atoiClamp(s.arg); n >= 1 && n <= 65535 && itoa(n) == s.arg {
			a.Port = n
		} else {
			t.r.note(t.file, s.line, "port "+s.arg, "not a port number")
		}
	}
	if s, ok := get("timeout"); ok && s.arg != "off" {
		if n := atoiClamp(s.arg); n > 0 && itoa(n) == s.arg {
			a.Timeout = n
		} else {
			t.r.note(t.file, s.line, "timeout "+s.arg, "not a number of seconds")
		}
	}
	if s, ok := get("received_header"); ok && s.arg == "off" {
		off := false
		a.TraceHeaders = &off
	}
	t.tls(a, get)
	t.login(a, get)
	t.retention(a, get)
	t.delivery(a, get)
}

// mpHarmless reports whether a setting asks for what fetchd does anyway
// (or, for timeout, is translated).
func mpHarmless(cmd, arg string) bool {
	switch {
	case arg == "":
		return true
	case cmd == "pipelining":
		return arg == "auto"
	case cmd == "only_new", cmd == "tls_certcheck":
		return arg == "on"
	case cmd == "timeout":
		return arg != "off"
	}
	return false
}

// on reads an mpop boolean: "", "on" or "off"; anything else is noted.
func (t *mpTranslator) on(get func(string) (mpSetting, bool), cmd string, def bool) bool {
	s, ok := get(cmd)
	switch {
	case !ok:
		return def
	case s.arg == "" || s.arg == "on":
		return true
	case s.arg == "off":
		return false
	}
	t.r.note(t.file, s.line, cmd+" "+s.arg, "not on or off: mpop refuses it too")
	return def
}

// path expands a file name as mpop does: a leading "~" is the home
// directory; anything else must be absolute, since mpop takes it relative
// to wherever it was started.
func (t *mpTranslator) path(s mpSetting, cmd string) (string, bool) {
	p, ok := t.r.opts.absPath(s.arg, "")
	if !ok || !validText(p) {
		t.r.note(t.file, s.line, cmd+" "+s.arg, "not an absolute path or one under ~/: set it by hand")
		return "", false
	}
	return p, true
}

func (t *mpTranslator) login(a *Account, get func(string) (mpSetting, bool)) {
	if s, ok := get("user"); ok && s.arg != "" && validText(s.arg) {
		a.User = s.arg
	} else {
		a.disable("no user name")
	}
	if s, ok := get("auth"); ok {
		switch m := strings.ToLower(s.arg); m {
		case "", "on":
		case "user", "apop", "plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256", "xoauth2", "oauthbearer":
			a.Auth = m
		default:
			t.r.note(t.file, s.line, "auth "+s.arg, "fetchd does not support it: it logs in with a password, by the strongest method the server offers")
		}
	}
	pw, hasPW := get("password")
	eval, hasEval := get("passwordeval")
	switch {
	case hasPW && pw.arg != "" && validPassword(pw.arg):
		a.Password = pw.arg
		if hasEval && eval.arg != "" {
			t.r.note(t.file, eval.line, "passwordeval", "password is set too, and takes precedence")
		}
	case hasPW && pw.arg != "":
		t.r.note(t.file, pw.line, "password", badPasswordNote)
	case hasEval && eval.arg != "" && validText(eval.arg):
		a.PasswordCommand = []string{"/bin/sh", "-c", eval.arg}
	case a.User != "" && a.Server != "":
		// mpop's first password source is the keyring, where its manual
		// says to store it with secret-tool under these attributes.
		a.PasswordCommand = []string{"secret-tool", "lookup", "host", a.Server, "service", "pop3", "user", a.User}
		a.comment("No password in the source: mpop read it from the keyring (or ~/.netrc, or asked).")
		a.comment("This asks the keyring the way mpop's manual stores it (secret-tool is in libsecret-tools);")
		a.comment("a keyring that is locked while fetchd runs fails the poll: use password_file then.")
	}
	a.noPassword = "mpop read it from the keyring or ~/.netrc, or asked"
}
