package importconfig

import (
	"net"
	"strconv"
	"strings"
)

// The fetchmail options that become fetchd keys, after fmTranslator.account
// has found the last value of each.

func (t *fmTranslator) server(a *Account, last fmLast) {
	if o, ok := last["via"]; ok {
		a.Server = o.str()
	}
	if !hostName(a.Server) {
		a.disable("the server name is not a host name or IP address")
	}
	switch p := last["protocol"].str(); p {
	case "", "auto":
		if last.has("protocol") {
			t.r.note(t.file, last["protocol"].line, "protocol auto", "fetchmail tried IMAP before POP3: fetchd speaks POP3 only")
		} else {
			a.comment("fetchmail's default protocol, auto, tries IMAP before POP3: this account uses POP3.")
		}
	case "pop3":
	case "apop":
		a.Auth = "apop"
	case "imap":
		a.disable("IMAP is not supported yet: fetchd speaks POP3 only")
	default:
		a.disable("protocol " + p + " is not supported: fetchd speaks POP3 only")
	}
	for _, k := range []string{"port", "service"} {
		o, ok := last[k]
		if !ok {
			continue
		}
		port, known := o.num(), true
		if k == "service" {
			port, known = servicePort(o.str())
		}
		if !known || port < 1 || port > 65535 {
			t.r.note(t.file, o.line, k+" "+o.str(), "not a port number fetchd knows: set port by hand")
			continue
		}
		a.Port = port
	}
	if o, ok := last["auth"]; ok {
		switch m := o.str(); m {
		case "any", "password":
		case "cram-md5":
			if a.Auth == "" {
				a.Auth = m
			}
		default:
			t.r.note(t.file, o.line, "auth "+m, "fetchd does not support it: it logs in with a password, by the strongest method the server offers")
		}
	}
	if n := last["timeout"].num(); n > 0 {
		a.Timeout = n
	}
	if o, ok := last["interval"]; ok && o.num() > 0 {
		if t.daemon > 0 {
			a.Schedule = "@every " + strconv.Itoa(o.num()*t.daemon) + "s"
		} else {
			t.r.note(t.file, o.line, "interval", "counts daemon cycles, but the file sets no daemon interval: set schedule by hand")
		}
	}
}

// servicePort resolves a fetchmail service: a number or a POP3 service name.
func servicePort(s string) (int, bool) {
	switch s {
	case "pop3", "pop-3":
		return 110, true
	case "pop3s":
		return 995, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func (t *fmTranslator) tls(a *Account, last fmLast) {
	proto := strings.ToLower(last["sslproto"].str())
	switch {
	case last.on("ssl"):
		a.TLS = "implicit"
	case last.has("sslproto") && proto == "":
		switch auth := last["auth"].str(); auth {
		case "", "any", "password":
			plaintext(a) // fetchmail may have sent it in cleartext too
		case "cram-md5":
			a.TLS, a.AllowInsecure = "none", true // auth stays cram-md5
			a.comment(`The source connected without TLS, with CRAM-MD5, which does not send the password.`)
		default:
			// A method fetchd does not speak: its auto could fall back to
			// one that sends the password in cleartext.
			a.TLS = "starttls"
			t.r.note(t.file, last["sslproto"].line, "sslproto ''", "with auth "+auth+" fetchmail sent no cleartext password; fetchd requires STLS instead (tls = \"starttls\")")
		}
	default:
		// fetchmail 6.4 requires TLS unless sslproto is empty: without
		// ssl, that is STARTTLS (STLS).
		a.TLS = "starttls"
	}
	switch proto {
	case "tls1.3", "tls1.3+":
		a.TLSMinVersion = "1.3"
	case "ssl3", "ssl3+", "tls1", "tls1.1":
		t.r.note(t.file, last["sslproto"].line, "sslproto "+proto, "fetchd uses TLS 1.2 or newer only")
	}
	if o, ok := last["sslcertfile"]; ok {
		a.CAFile = t.path(o)
	}
	cert, key := last["sslcert"], last["sslkey"]
	switch {
	case last.has("sslcert") && last.has("sslkey"):
		a.TLSClientCert, a.TLSClientKey = t.path(cert), t.path(key)
	case last.has("sslcert"):
		a.TLSClientCert = t.path(cert)
		a.TLSClientKey = a.TLSClientCert
		a.comment("sslcert names one file: it must hold the private key too.")
	case last.has("sslkey"):
		t.r.note(t.file, key.line, "sslkey", "a client key without a certificate (sslcert): fetchd needs both")
	}
	if o, ok := last["sslcommonname"]; ok {
		if hostName(o.str()) {
			a.TLSServerName = o.str()
		} else {
			t.r.note(t.file, o.line, "sslcommonname", "not a host name: fetchd checks the certificate against a host name")
		}
	}
}

// path resolves a file option as fetchmail does: relative to the rc file's
// directory.
func (t *fmTranslator) path(o fmOpt) string {
	p, ok := t.r.opts.absPath(o.str(), t.dir)
	if !ok || !validText(p) {
		t.r.note(t.file, o.line, o.key, "cannot make it an absolute path: set it by hand")
		return ""
	}
	return p
}

func (t *fmTranslator) user(a *Account, last fmLast) {
	if o, ok := last["password"]; ok && o.str() != "" {
		if validPassword(o.str()) {
			a.Password = o.str()
		} else {
			t.r.note(t.file, o.line, "password", badPasswordNote)
		}
	}
	a.noPassword = "fetchmail asked for it, or read it from ~/.netrc"
	a.Keep = last.on("keep")
	if n := last["limit"].num(); n > 0 {
		a.MaxMessageSize = strconv.Itoa(n)
		if last.on("limitflush") {
			a.Oversize = "delete"
		}
	} else if last.on("limitflush") {
		t.r.note(t.file, last["limitflush"].line, "limitflush", "does nothing without limit")
	}
	if n := last["fetchlimit"].num(); n > 0 {
		a.MaxMessagesPerPoll = n
	}
}

// hostName reports whether s can be a server's host name or IP address.
func hostName(s string) bool {
	if s == "" || len(s) > 253 || net.ParseIP(s) != nil {
		return s != ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// plaintext marks an account whose source logged in without TLS.
func plaintext(a *Account) {
	a.TLS = "none"
	a.AllowInsecure = true
	a.comment("The source connected without TLS, so the password crossed the network in cleartext.")
	a.comment(`fetchd does that only with allow_insecure = true: use tls = "implicit" (port 995)`)
	a.comment(`or "starttls" instead if the server offers either.`)
}
