package config

import (
	"context"
	"net"
	"strings"
	"time"
)

// Deliver is one delivery target of an account. Exactly one target field
// (Maildir, Mbox, MDA, MDAShell, SMTP, LMTP) is set; the schema
// (deliverFields) says which fields are targets and which target kinds each
// other field applies to, and loading rejects a field set for another kind.
type Deliver struct {
	Maildir string   // absolute path, "~/" expanded
	Mbox    string   // absolute path, "~/" expanded
	MDA     []string // argv, run without a shell; argv[0] is absolute or a bare name looked up in $PATH
	// MDAShell is a command line run with /bin/sh -c.
	MDAShell string
	SMTP     string // "host:port"
	LMTP     string // an absolute unix socket path, or "host:port"

	// Recipients are the envelope recipients (mda, mda_shell, smtp, lmtp).
	// Empty means the local user, decided at delivery time.
	Recipients []string
	// From overrides the envelope sender (mda, mda_shell, smtp, lmtp).
	From string

	// MDATempCodes are exit statuses (1..255) that mean "try again later",
	// in addition to 75 (EX_TEMPFAIL). mda and mda_shell only.
	MDATempCodes []int
	MDATimeout   time.Duration // mda and mda_shell: default DefaultMDATimeout

	// SMTPTLS is "implicit", "starttls" or "none". It is always set on an
	// smtp target: the default is "starttls", or "none" when the host is a
	// loopback address or "localhost".
	SMTPTLS string
	// SMTP AUTH: SMTPUser with exactly one password source, or neither.
	SMTPUser            string
	SMTPPassword        string   // inline secret; never printed by String
	SMTPPasswordFile    string   // absolute path, "~/" expanded
	SMTPPasswordCommand []string // argv, run without a shell
	// SMTPPasswordCredential names a file in $CREDENTIALS_DIRECTORY
	// (systemd LoadCredential=).
	SMTPPasswordCredential string

	account string // the account's name, for SMTPSecret's messages
}

// Kind is the target's kind, the TOML key that names it: "maildir", "mbox",
// "mda", "mda_shell", "smtp" or "lmtp".
func (d Deliver) Kind() string {
	k, _ := d.target()
	return k
}

// Target is the target itself: a path, "host:port", a socket path, the shell
// command line, or the MDA's argv joined by spaces.
func (d Deliver) Target() string {
	_, t := d.target()
	return t
}

func (d Deliver) target() (kind, target string) {
	for _, f := range deliverFields {
		if !f.target {
			continue
		}
		switch p := f.ptr(&d).(type) {
		case *string:
			if *p != "" {
				return f.key, *p
			}
		case *[]string:
			if len(*p) > 0 {
				return f.key, strings.Join(*p, " ")
			}
		}
	}
	return "", ""
}

// String describes the target for logs and `fetchd check`: "maildir /x",
// "smtp localhost:25 (none)". It never includes a secret, and has a value
// receiver so that printing a Deliver with %v or %+v cannot show
// SMTPPassword.
func (d Deliver) String() string {
	s := d.Kind() + " " + d.Target()
	if d.SMTP != "" && d.SMTPTLS != "" {
		s += " (" + d.SMTPTLS + ")"
	}
	return s
}

// GoString keeps %#v from printing SMTPPassword.
func (d Deliver) GoString() string { return "config.Deliver{" + d.String() + "}" }

// SMTPSecret resolves the SMTP password: smtp_password, the contents of
// smtp_password_file or of the credential smtp_password_credential, or the
// output of smtp_password_command, under the same rules as Account.Secret. It returns "" and no error when the entry has no
// password source (no SMTP AUTH).
func (d *Deliver) SMTPSecret(ctx context.Context) (string, error) {
	owner := "smtp " + d.SMTP
	if d.account != "" {
		owner = accountLabel(d.account) + ": " + owner
	}
	return secretSource{
		owner: owner, prefix: "smtp_",
		inline: d.SMTPPassword, file: d.SMTPPasswordFile, command: d.SMTPPasswordCommand,
		credential: d.SMTPPasswordCredential,
	}.resolve(ctx)
}

// fillDefaults sets the defaults that depend on the target's kind.
func (d *Deliver) fillDefaults() {
	switch d.Kind() {
	case "mda", "mda_shell":
		if d.MDATimeout == 0 {
			d.MDATimeout = DefaultMDATimeout
		}
	case "smtp":
		if d.SMTPTLS == "" {
			d.SMTPTLS = "starttls"
			if isLoopback(hostOf(d.SMTP)) {
				// A local MTA rarely has a certificate for "localhost", and
				// nothing crosses the network.
				d.SMTPTLS = "none"
			}
		}
	}
}

// hostOf is the host of a "host:port" address, or "".
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

// isLoopback reports whether host is "localhost" or a loopback address
// (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
