package importconfig

// Why each fetchmail option that fetchd has no key for is left out. Options
// not in these tables are translated (fetchmail_translate.go); "no X" forms
// not listed here ask for what fetchd does anyway.

const (
	whyMultidrop = "multidrop option: fetchd delivers a mailbox to fixed recipients and does not sort mail by the addresses in its header"
	whyNoBounce  = "fetchd never bounces or forwards mail it cannot deliver: the message stays on the server (see on_permanent_failure)"
	whyLogging   = "fetchd logs to standard error (the journal under systemd)"
	whyCR        = "fetchd writes the line ends each target expects (LF to files and MDAs, CRLF over SMTP and LMTP) and passes 8-bit data unchanged"
	whyHeaders   = "fetchd delivers messages unchanged, apart from the trace header fields it adds on top (Received:, and Delivered-To: for local targets)"
)

var fmGlobalNotes = map[string]string{
	"set logfile":       whyLogging,
	"set syslog":        whyLogging,
	"set idfile":        "fetchd keeps its own record of fetched messages: import this file with `fetchd import-state fetchmail FILE`",
	"set pidfile":       "not needed: fetchd locks its state store, so a second instance cannot poll at the same time",
	"set postmaster":    whyNoBounce,
	"set bouncemail":    whyNoBounce,
	"set no bouncemail": whyNoBounce,
	"set spambounce":    whyNoBounce,
	"set no softbounce": "fetchd never deletes a message it could not deliver: it stays on the server, or goes to quarantine_maildir with on_permanent_failure = \"quarantine\"",
	"set showdots":      "fetchd once shows a progress line on a terminal by itself",
	"set properties":    "ignored by fetchmail too",
}

var fmOptionNotes = map[string]string{
	// Server options.
	"aka":          whyMultidrop,
	"localdomains": whyMultidrop,
	"envelope":     whyMultidrop,
	"no envelope":  whyMultidrop,
	"qvirtual":     whyMultidrop,
	"dns":          whyMultidrop,
	"no dns":       whyMultidrop,
	"checkalias":   whyMultidrop,
	"no uidl":      "fetchd always tracks messages by their UIDL",
	"principal":    "fetchd does not support Kerberos",
	"interface":    "fetchd polls whatever network interface is up",
	"monitor":      "fetchd polls on its schedule whatever the link's activity",
	"plugin":       "fetchd connects to the server itself: for a tunnel, point server and port at the tunnel's local end",
	"plugout":      "fetchd connects to the SMTP or LMTP server itself",
	"tracepolls":   "fetchd's Received: header names the POP3 server, not the account",
	"bad-header":   whyHeaders,
	"idletimeout":  "IMAP only",

	// User options.
	"folder":         "POP3 has one mailbox per account: fetchd has no folders",
	"fetchdomains":   "ETRN and ODMR only",
	"antispam":       "fetchd treats a refusal like any permanent failure: the message stays on the server",
	"preconnect":     "fetchd runs no command before a poll: run it from the service unit (ExecStartPre=) or a timer",
	"postconnect":    "fetchd runs no command after a poll",
	"flush":          "fetchd deletes only messages it has delivered, never old ones it did not fetch",
	"fetchall":       "fetchd fetches each message once, whether or not another client has read it",
	"rewrite":        "fetchd never rewrites addresses in the header",
	"forcecr":        whyCR,
	"stripcr":        whyCR,
	"pass8bits":      whyCR,
	"dropstatus":     whyHeaders,
	"dropdelivered":  whyHeaders,
	"mimedecode":     whyHeaders,
	"idle":           "IMAP only",
	"forceidle":      "IMAP only",
	"no sslcertck":   "fetchd always verifies the server's certificate: trust a private CA with ca_file, or pin a self-signed certificate with tls_fingerprint (SHA-256)",
	"sslcertpath":    "fetchd takes one PEM file, not a hashed directory: concatenate the certificates into one file and set ca_file",
	"sslfingerprint": "an MD5 fingerprint: fetchd pins SHA-256 ones; set tls_fingerprint to the output of openssl x509 -in cert.pem -noout -fingerprint -sha256",
	"warnings":       "fetchd reports an oversized message once, in its log and through notify_command",
	"batchlimit":     "not needed: each message is an SMTP transaction of its own, which the MTA delivers when it ends",
	"fetchsizelimit": "not needed: fetchd lists all message sizes with one command",
	"fastuidl":       "not needed: fetchd lists all UIDLs with one command",
	"expunge":        "not needed: fetchd records each delivered message at once, so a broken session never delivers a message twice",
	"properties":     "ignored by fetchmail too",
}
