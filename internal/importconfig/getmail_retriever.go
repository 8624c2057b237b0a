package importconfig

import (
	"strconv"
	"strings"
)

// gmRetrieverNotes are the [retriever] keys fetchd has no key for.
var gmRetrieverNotes = map[string]string{
	"delete_dup_msgids":  "fetchd never deletes a message it has not delivered",
	"getmaildir":         "fetchd keeps its own record of fetched messages: import getmail's with `fetchd import-state getmail DIR`",
	"ssl_ciphers":        "fetchd uses TLS 1.2 or newer with Go's cipher suites",
	"envelope_recipient": whyMultidrop,
	"mailboxes":          "IMAP only",
	"move_on_delete":     "IMAP only",
	"use_peek":           "IMAP only",
	"record_mailbox":     "IMAP only",
	"imap_search":        "IMAP only",
	"imap_on_delete":     "IMAP only",
	"use_kerberos":       "fetchd does not support Kerberos",
	"use_xoauth2":        "IMAP only in getmail: for OAuth2 over POP3, add an [account.oauth2] table (see config.example.toml)",
}

// gmRetrieverKeys are the [retriever] keys retriever translates.
var gmRetrieverKeys = wordSet(`type server port username password password_command use_apop timeout
	keyfile certfile ca_certs ssl_fingerprints ssl_version ssl_cert_hostname`)

func (t *gmTranslator) retriever(s *iniSection) {
	a := t.a
	for _, k := range s.order {
		v := s.keys[k]
		switch why, known := gmRetrieverNotes[k]; {
		case known:
			t.note(v, k, why)
		case !gmRetrieverKeys[k]:
			t.note(v, k, "not a getmail retriever option")
		}
	}
	typ, _ := s.get("type")
	ssl := strings.HasSuffix(typ.val, "SSLRetriever")
	switch typ.val {
	case "SimplePOP3Retriever", "BrokenUIDLPOP3Retriever":
		plaintext(a)
	case "SimplePOP3SSLRetriever", "BrokenUIDLPOP3SSLRetriever":
		a.TLS = "implicit"
	case "SimpleIMAPRetriever", "SimpleIMAPSSLRetriever":
		a.disable("IMAP is not supported yet: fetchd speaks POP3 only")
	case "MultidropPOP3Retriever", "MultidropPOP3SSLRetriever", "MultidropSDPSRetriever", "MultidropIMAPRetriever", "MultidropIMAPSSLRetriever":
		a.disable("a multidrop retriever: fetchd delivers a mailbox to fixed recipients and does not sort mail by envelope recipient")
	default:
		a.disable("retriever type " + strconv.Quote(typ.val) + " is not one getmail knows")
	}
	if strings.HasPrefix(typ.val, "BrokenUIDL") {
		t.note(typ, "type = "+typ.val, "fetchd needs UIDL, which this server type lacks: if the server really has none, fetchd cannot poll it")
	}
	a.Origin += " (" + typ.val + ")"
	if v, ok := s.get("server"); ok && hostName(v.val) {
		a.Server = v.val
	} else {
		a.disable("no server, or not a host name")
	}
	if v, ok := s.get("username"); ok && v.val != "" && validText(v.val) {
		a.User = v.val
	} else {
		a.disable("no username")
	}
	if n, ok := t.gmInt(s, "port"); ok {
		if n >= 1 && n <= 65535 {
			a.Port = int(n)
		} else {
			t.note(s.keys["port"], "port", "not a port number")
		}
	}
	if n, ok := t.gmInt(s, "timeout"); ok && n > 0 && n < 1<<30 {
		a.Timeout = int(n)
	}
	if t.gmBool(s, "use_apop", false) {
		a.Auth = "apop"
	}
	t.password(s)
	t.retrieverTLS(s, ssl)
}

func (t *gmTranslator) password(s *iniSection) {
	a := t.a
	a.noPassword = "getmail read it from the Python keyring or ~/.netrc (use_netrc), or asked"
	cmd, hasCmd := s.get("password_command")
	if v, ok := s.get("password"); ok && v.val != "" {
		if validPassword(v.val) {
			a.Password = v.val
		} else {
			t.note(v, "password", badPasswordNote)
		}
		if hasCmd {
			t.note(cmd, "password_command", "password is set too, and takes precedence")
		}
		return
	}
	if !hasCmd {
		return
	}
	argv, err := parseTuple(cmd.val)
	switch {
	case err != nil:
		t.note(cmd, "password_command", "cannot read it: "+err.Error())
	case len(argv) == 0 || argv[0] == "":
	case !allValid(argv):
		t.note(cmd, "password_command", "holds a NUL or invalid UTF-8")
	default:
		a.PasswordCommand = argv
	}
}

func allValid(ss []string) bool {
	for _, s := range ss {
		if !validText(s) {
			return false
		}
	}
	return true
}

func (t *gmTranslator) retrieverTLS(s *iniSection, ssl bool) {
	a := t.a
	if v, ok := s.get("ca_certs"); ok {
		if p, ok := t.gmPath(v, v.val); ok {
			a.CAFile = p
		}
	}
	cert, hasCert := s.get("certfile")
	key, hasKey := s.get("keyfile")
	switch {
	case hasCert:
		c, ok := t.gmPath(cert, cert.val)
		k, ok2 := c, ok
		if hasKey {
			k, ok2 = t.gmPath(key, key.val)
		} else if ok {
			a.comment("certfile names one file: it must hold the private key too.")
		}
		if ok && ok2 {
			a.TLSClientCert, a.TLSClientKey = c, k
		}
	case hasKey:
		t.note(key, "keyfile", "a client key without a certificate (certfile): fetchd needs both")
	}
	if v, ok := s.get("ssl_fingerprints"); ok {
		fps, err := parseTuple(v.val)
		if err != nil {
			t.note(v, "ssl_fingerprints", "cannot read it: "+err.Error())
		}
		for _, fp := range fps {
			if norm, ok := mpFingerprint(fp); ok {
				a.TLSFingerprint = append(a.TLSFingerprint, norm)
			} else {
				t.note(v, "ssl_fingerprints "+fp, "not a SHA-256 fingerprint")
			}
		}
	}
	if v, ok := s.get("ssl_version"); ok {
		switch strings.ToLower(v.val) {
		case "sslv23", "tlsv1_2":
		default:
			t.note(v, "ssl_version = "+v.val, "fetchd uses TLS 1.2 or newer only")
		}
	}
	if v, ok := s.get("ssl_cert_hostname"); ok {
		if hostName(v.val) {
			a.TLSServerName = v.val
		} else {
			t.note(v, "ssl_cert_hostname", "not a host name")
		}
	}
	if ssl && a.CAFile == "" && len(a.TLSFingerprint) == 0 {
		a.comment("getmail did not verify the server's certificate without ca_certs; fetchd always does,")
		a.comment("against the system's CAs: if the server's certificate is self-signed, pin it with tls_fingerprint.")
	}
}
