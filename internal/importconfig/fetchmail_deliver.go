package importconfig

import (
	"net"
	"strings"
)

// deliver translates fetchmail's delivery: bsmtp, else mda, else LMTP or
// SMTP to the first smtphost (default localhost), as fetchmail ranks them.
func (t *fmTranslator) deliver(a *Account, u *fmUser, last fmLast) {
	local := ""
	if len(u.locals) == 1 && u.locals[0].server == "" {
		local = u.locals[0].local
	}
	if local != "" && (!validText(local) || strings.ContainsAny(local, badRecipient)) {
		a.disable("the local user name is not one fetchd can pass on")
		return
	}
	switch {
	case last.has("bsmtp"):
		a.disable("bsmtp: fetchd cannot write BSMTP batch files")
		return
	case last.has("mda"):
		o := last["mda"]
		d, why := mdaDeliver(o.str(), "TF")
		if why != "" {
			a.disable("mda: " + why)
			return
		}
		if local != "" {
			d.Recipients = []string{local}
		}
		for _, k := range []string{"smtphost", "lmtp", "smtpaddress", "smtpname", "esmtpname", "esmtppassword"} {
			if o, ok := last[k]; ok {
				t.r.note(t.file, o.line, k, "ignored by fetchmail too: mda is set")
			}
		}
		a.Deliver = []Deliver{d}
		return
	}
	hosts := []string{"localhost"}
	if o, ok := last["smtphost"]; ok {
		hosts = o.strs
		if len(hosts) > 1 {
			t.r.note(t.file, o.line, "smtphost "+strings.Join(hosts[1:], " "),
				"fetchd delivers to one server per target: only the first of the list is used")
		}
	} else {
		a.comment("fetchmail's default delivery: SMTP to the mail server on localhost.")
	}
	d, domain, ok := t.relay(hosts[0], last.on("lmtp"))
	if !ok {
		t.r.note(t.file, last["smtphost"].line, "smtphost "+hosts[0], "not a host, host/port or socket path")
		a.disable("no SMTP or LMTP server fetchd can use")
		return
	}
	if o, ok := last["smtpaddress"]; ok {
		domain = o.str()
	}
	switch {
	case last.has("smtpname"):
		d.Recipients = []string{last["smtpname"].str()}
	case local != "" && strings.Contains(local, "@"):
		d.Recipients = []string{local}
	case local != "":
		d.Recipients = []string{local + "@" + domain}
	case last.has("smtpaddress"):
		d.Recipients = []string{t.r.opts.LocalUser + "@" + domain}
	}
	for _, r := range d.Recipients {
		if !validText(r) || strings.ContainsAny(r, badRecipient) {
			a.disable("a recipient address is not one fetchd can pass on")
			return
		}
	}
	t.smtpAuth(a, &d, last)
	a.Deliver = []Deliver{d}
}

// badRecipient are the characters fetchd refuses in an envelope address.
const badRecipient = " \t\r\n<>"

// relay turns one smtphost entry into a target: "/path" is an LMTP socket,
// "host" or "host/port" an SMTP (or, with lmtp, LMTP) server. domain is
// what fetchmail appends to local names in RCPT TO.
func (t *fmTranslator) relay(h string, lmtp bool) (d Deliver, domain string, ok bool) {
	if strings.HasPrefix(h, "/") {
		return Deliver{LMTP: h}, "localhost", validText(h)
	}
	host, port, _ := strings.Cut(h, "/")
	if !hostName(host) {
		return d, "", false
	}
	switch {
	case lmtp && port == "":
		// fetchmail refuses LMTP without a port; 24 is LMTP's own.
		port = "24"
	case port == "":
		port = "25"
	}
	if n, known := servicePortSMTP(port); known {
		port = n
	} else {
		return d, "", false
	}
	if lmtp {
		d.LMTP = net.JoinHostPort(host, port)
	} else {
		d.SMTP = net.JoinHostPort(host, port)
	}
	return d, host, true
}

func servicePortSMTP(p string) (string, bool) {
	switch p {
	case "smtp":
		return "25", true
	case "lmtp":
		return "24", true
	case "submission":
		return "587", true
	}
	n := atoiClamp(p)
	return itoa(n), n >= 1 && n <= 65535 && itoa(n) == p
}

// smtpAuth carries esmtpname and esmtppassword over to an SMTP target.
func (t *fmTranslator) smtpAuth(a *Account, d *Deliver, last fmLast) {
	name, hasName := last["esmtpname"]
	pass, hasPass := last["esmtppassword"]
	switch {
	case !hasName && !hasPass:
		return
	case d.SMTP == "":
		for _, o := range []fmOpt{name, pass} {
			if o.key != "" {
				t.r.note(t.file, o.line, o.key, "fetchd sends no login to an LMTP server")
			}
		}
		return
	case !hasPass || !validText(pass.str()) || pass.str() == "":
		t.r.note(t.file, name.line, "esmtpname", "no usable esmtppassword: set smtp_user and smtp_password_file by hand")
		return
	}
	d.SMTPUser = t.r.opts.LocalUser
	if hasName {
		d.SMTPUser = name.str()
	}
	if !validText(d.SMTPUser) || strings.ContainsAny(d.SMTPUser, "\r\n") {
		d.SMTPUser = ""
		t.r.note(t.file, name.line, "esmtpname", "holds a line break, NUL or invalid UTF-8")
		return
	}
	d.SMTPPassword = pass.str()
}
