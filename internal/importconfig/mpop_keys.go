package importconfig

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

type mpGet = func(string) (mpSetting, bool)

func (t *mpTranslator) tls(a *Account, get mpGet) {
	switch {
	case !t.on(get, "tls", false):
		t.noTLS(a, get)
	case t.on(get, "tls_starttls", true):
		a.TLS = "starttls"
	default:
		a.TLS = "implicit"
	}
	if s, ok := get("tls_trust_file"); ok && s.arg != "system" && s.arg != "" {
		if p, ok := t.path(s, "tls_trust_file"); ok {
			a.CAFile = p
		}
	} else if ok && s.arg == "" {
		t.r.note(t.file, s.line, "tls_trust_file", "empty: mpop trusts no CA then; fetchd verifies against the system's CAs unless tls_fingerprint pins the certificate")
	}
	if s, ok := get("tls_fingerprint"); ok && s.arg != "" {
		if fp, ok := mpFingerprint(s.arg); ok {
			a.TLSFingerprint = []string{fp}
		} else {
			t.r.note(t.file, s.line, "tls_fingerprint "+s.arg, "not a SHA-256 fingerprint (an SHA-1 or MD5 one?): set tls_fingerprint to the output of openssl x509 -in cert.pem -noout -fingerprint -sha256")
		}
	}
	cert, hasCert := get("tls_cert_file")
	key, hasKey := get("tls_key_file")
	hasCert, hasKey = hasCert && cert.arg != "", hasKey && key.arg != ""
	switch {
	case hasCert && hasKey && strings.Contains(cert.arg+key.arg, "pkcs11:"):
		t.r.note(t.file, cert.line, "tls_cert_file "+cert.arg, "a PKCS #11 device: fetchd reads the client certificate and key from PEM files")
	case hasCert && hasKey:
		c, ok1 := t.path(cert, "tls_cert_file")
		k, ok2 := t.path(key, "tls_key_file")
		if ok1 && ok2 {
			a.TLSClientCert, a.TLSClientKey = c, k
		}
	case hasCert:
		t.r.note(t.file, cert.line, "tls_cert_file", "needs tls_key_file too: mpop refuses one alone as well")
	case hasKey:
		t.r.note(t.file, key.line, "tls_key_file", "needs tls_cert_file too: mpop refuses one alone as well")
	}
	if s, ok := get("tls_host_override"); ok && s.arg != "" {
		if hostName(s.arg) {
			a.TLSServerName = s.arg
		} else {
			t.r.note(t.file, s.line, "tls_host_override "+s.arg, "not a host name")
		}
	}
}

// noTLS translates mpop's tls off (its default). mpop then sends no password
// in cleartext: with auth on (the default) it considers only methods that
// avoid it. fetchd's auto would fall back to USER/PASS, so the account gets
// STLS instead, which fails loudly on a server without it; an explicit
// method keeps the plaintext connection only where it hides the password.
func (t *mpTranslator) noTLS(a *Account, get mpGet) {
	line := a.line
	if s, ok := get("tls"); ok {
		line = s.line
	}
	auth := "on"
	if s, ok := get("auth"); ok && s.arg != "" {
		auth = strings.ToLower(s.arg)
	}
	switch auth {
	case "apop", "cram-md5", "scram-sha-1", "scram-sha-256":
		// fetchd speaks these: the plaintext connection keeps hiding the
		// password (login sets auth to the method).
		a.TLS = "none"
		a.AllowInsecure = true
		a.comment("The source connected without TLS, with a login method that does not send the")
		a.comment(`password in cleartext. Use tls = "implicit" or "starttls" if the server offers either.`)
	case "user", "plain", "login", "xoauth2", "oauthbearer":
		plaintext(a) // the source sent it in cleartext too
	default:
		// "on", or a method fetchd does not speak (gssapi, ntlm, ...):
		// fetchd's auto could fall back to one that sends the password.
		a.TLS = "starttls"
		t.r.note(t.file, line, "tls off", `mpop sent no cleartext password then; fetchd requires STLS instead (tls = "starttls"). If the server offers no TLS at all, set tls = "none", allow_insecure = true and auth = "cram-md5", "scram-sha-256" or "apop"`)
	}
}

// mpFingerprint reads an mpop fingerprint (hex pairs separated by ':' or
// ' ') and returns it colon-separated, if it is a SHA-256 one.
func mpFingerprint(s string) (string, bool) {
	digits := strings.NewReplacer(":", "", " ", "").Replace(s)
	b, err := hex.DecodeString(digits)
	if err != nil || len(b) != 32 {
		return "", false
	}
	pairs := make([]string, len(b))
	for i, c := range b {
		pairs[i] = strings.ToUpper(hex.EncodeToString([]byte{c}))
	}
	return strings.Join(pairs, ":"), true
}

// mpSize reads a killsize or skipsize: bytes, or kibibytes and mebibytes
// with a 'k' or 'm' suffix; written in fetchd's units.
func mpSize(s string) (toml string, bytes int64, ok bool) {
	num, unit := s, ""
	if strings.HasSuffix(s, "k") || strings.HasSuffix(s, "m") {
		num, unit = s[:len(s)-1], s[len(s)-1:]
	}
	n, err := strconv.ParseInt(num, 0, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return "", 0, false
	}
	switch unit {
	case "k":
		return `"` + strconv.FormatInt(n, 10) + `KiB"`, n << 10, true
	case "m":
		return `"` + strconv.FormatInt(n, 10) + `MiB"`, n << 20, true
	}
	return strconv.FormatInt(n, 10), n, true
}

// retention translates keep, killsize and skipsize. fetchd has one size
// limit: oversize = "delete" is killsize, "skip" is skipsize.
func (t *mpTranslator) retention(a *Account, get mpGet) {
	a.Keep = t.on(get, "keep", false)
	type limit struct {
		set   mpSetting
		toml  string
		bytes int64
	}
	read := func(cmd string) *limit {
		s, ok := get(cmd)
		if !ok || s.arg == "off" {
			return nil
		}
		toml, n, ok := mpSize(s.arg)
		switch {
		case !ok:
			t.r.note(t.file, s.line, cmd+" "+s.arg, "not a size: mpop refuses it too")
			return nil
		case n == 0:
			t.r.note(t.file, s.line, cmd+" 0", "applies to every message; fetchd's limit 0 means none")
			return nil
		}
		return &limit{s, toml, n}
	}
	kill, skip := read("killsize"), read("skipsize")
	switch {
	case kill != nil && (skip == nil || kill.bytes <= skip.bytes):
		a.MaxMessageSize = kill.toml
		a.Oversize = "delete"
		if a.Keep {
			// mpop only skips oversized mail in keep mode.
			a.Oversize = "skip"
		}
		if skip != nil {
			t.r.note(t.file, skip.set.line, "skipsize "+skip.set.arg, "has no effect: killsize is smaller")
		}
	case skip != nil:
		a.MaxMessageSize = skip.toml
		a.Oversize = "skip"
		if kill != nil {
			t.r.note(t.file, kill.set.line, "killsize "+kill.set.arg, "fetchd has one size limit, skipsize's: larger messages are skipped, not deleted")
		}
	}
}

func (t *mpTranslator) delivery(a *Account, get mpGet) {
	s, ok := get("delivery")
	if !ok {
		a.disable("no delivery method: mpop refuses to retrieve mail without one")
		return
	}
	// As mpop does: the method, a blank, and the rest, from which blanks
	// and a pair of double quotes around it are removed.
	method, arg := s.arg, ""
	if n := strings.IndexAny(s.arg, " \t"); n >= 0 {
		method, arg = s.arg[:n], mpTrim(s.arg[n+1:])
	}
	switch method {
	case "mda":
		d, why := mdaDeliver(arg, "F")
		if why != "" {
			a.disable("delivery mda: " + why)
			return
		}
		a.Deliver = []Deliver{d}
	case "maildir", "mbox":
		p, ok := t.path(mpSetting{arg: arg, line: s.line}, "delivery "+method)
		if !ok {
			a.disable("no delivery target fetchd can use")
			return
		}
		if method == "maildir" {
			a.Deliver = []Deliver{{Maildir: p}}
		} else {
			a.Deliver = []Deliver{{Mbox: p}}
		}
	case "exchange":
		a.disable("delivery exchange: fetchd cannot write to an Exchange pickup directory")
	default:
		if method == "" {
			a.disable("delivery names no method (maildir, mbox or mda)")
		} else {
			a.disable(fmt.Sprintf("unknown delivery method %q", method))
		}
	}
}
