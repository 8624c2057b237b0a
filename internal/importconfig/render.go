package importconfig

import (
	"bufio"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// WriteTOML writes the configuration: a header naming the sources and every
// option not translated, then [defaults] and the accounts. Passwords appear
// only as password_file paths under secretsDir (see WriteSecrets).
func (r *Result) WriteTOML(w io.Writer, secretsDir string) error {
	bw := bufio.NewWriter(w)
	for _, l := range r.header(secretsDir) {
		bw.WriteString(strings.TrimRight(l, " ") + "\n")
	}
	if d := r.defaultsTable(); len(d) > 0 {
		bw.WriteString("\n[defaults]\n")
		for _, l := range d {
			bw.WriteString(l + "\n")
		}
	}
	for _, a := range r.Accounts {
		bw.WriteString("\n")
		for _, l := range r.accountLines(a, secretsDir) {
			bw.WriteString(l + "\n")
		}
	}
	return bw.Flush()
}

func (r *Result) header(secretsDir string) []string {
	date := r.opts.Now.Format("2006-01-02")
	h := []string{"# fetchd configuration imported from " + r.Program + " by `fetchd import-config` on " + date + "."}
	for _, f := range r.Files {
		h = append(h, "# Source: "+commentText(r.display(f)))
	}
	h = append(h, "#",
		"# Read the notes below, then check the result with: fetchd check -c FILE",
		"# fetchd verifies every server certificate, and refuses to send a password",
		"# without TLS unless the account sets allow_insecure = true.")
	if len(r.secrets(secretsDir)) > 0 {
		h = append(h, "# Passwords that were inline in the source are in files of their own",
			"# under "+commentText(r.display(secretsDir))+" (mode 0600): this file holds none.")
	}
	if len(r.Accounts) == 0 {
		h = append(h, "#", "# The source defines no account: add an [[account]] table.")
	}
	if len(r.Notes) == 0 {
		return append(h, "#", "# Every option was translated.")
	}
	h = append(h, "#", "# Not translated:")
	for _, n := range r.Notes {
		n.File = r.display(n.File)
		h = append(h, "# "+commentText(n.String()))
	}
	return h
}

func (r *Result) defaultsTable() []string {
	var t tomlWriter
	t.str("schedule", r.Defaults.Schedule)
	if r.Defaults.TraceHeaders != nil {
		t.bool("trace_headers", *r.Defaults.TraceHeaders)
	}
	return t.lines
}

// accountLines is the account's [[account]] table and its deliver tables,
// commented out when the account is disabled.
func (r *Result) accountLines(a *Account, secretsDir string) []string {
	out := []string{"# From " + commentText(a.Origin)}
	comments := slices.Clone(a.Comments)
	if a.Disabled == "" && a.Password == "" && len(a.PasswordCommand) == 0 {
		comments = append(comments, "No password in the source: "+a.noPassword+".",
			"Write it into "+r.display(secretPath(secretsDir, a.Name, "password"))+" (chmod 600) and add password_file,",
			"or set password_command or password_credential: fetchd check refuses the account until then.")
	}
	for _, c := range comments {
		out = append(out, "# "+commentText(c))
	}
	var t tomlWriter
	t.raw("[[account]]")
	t.str("name", a.Name)
	t.str("server", a.Server)
	t.int("port", int64(a.Port))
	t.str("tls", a.TLS)
	if a.AllowInsecure {
		t.bool("allow_insecure", true)
	}
	t.str("user", a.User)
	t.str("auth", a.Auth)
	if a.Password != "" {
		t.str("password_file", r.display(secretPath(secretsDir, a.Name, "password")))
	}
	t.strs("password_command", a.PasswordCommand)
	t.str("tls_min_version", a.TLSMinVersion)
	t.str("ca_file", r.display(a.CAFile))
	t.str("tls_server_name", a.TLSServerName)
	t.str("tls_client_cert", r.display(a.TLSClientCert))
	t.str("tls_client_key", r.display(a.TLSClientKey))
	t.strs("tls_fingerprint", a.TLSFingerprint)
	t.bool("keep", a.Keep)
	if a.Timeout > 0 {
		t.str("timeout", itoa(a.Timeout)+"s")
	}
	if a.MaxMessageSize != "" {
		t.raw("max_message_size = " + a.MaxMessageSize)
	}
	t.str("oversize", a.Oversize)
	t.str("delete_after", a.DeleteAfter)
	t.int("max_messages_per_poll", int64(a.MaxMessagesPerPoll))
	t.int("max_bytes_per_poll", a.MaxBytesPerPoll)
	if a.TraceHeaders != nil {
		t.bool("trace_headers", *a.TraceHeaders)
	}
	t.str("run_as", a.RunAs)
	t.str("schedule", a.Schedule)
	for i, d := range a.Deliver {
		t.raw("[[account.deliver]]")
		t.str("maildir", r.display(d.Maildir))
		t.str("mbox", r.display(d.Mbox))
		t.strs("mda", d.MDA)
		t.str("mda_shell", d.MDAShell)
		t.str("smtp", d.SMTP)
		t.str("lmtp", d.LMTP)
		t.strs("recipients", d.Recipients)
		t.str("smtp_user", d.SMTPUser)
		if d.SMTPPassword != "" {
			t.str("smtp_password_file", r.display(secretPath(secretsDir, a.Name, smtpSecretKind(i))))
		}
	}
	if a.Disabled == "" {
		return append(out, t.lines...)
	}
	out = append(out, "# Not imported: "+commentText(a.Disabled))
	if a.Password != "" || slices.ContainsFunc(a.Deliver, func(d Deliver) bool { return d.SMTPPassword != "" }) {
		out = append(out, "# Its password was not copied: to enable it, write the password into the file it names.")
	}
	for _, l := range t.lines {
		out = append(out, "# "+l)
	}
	return out
}

// display writes p as "~/…" when it is under the user's home directory,
// the way fetchd's own example does; fetchd expands it again.
func (r *Result) display(p string) string {
	home := r.opts.Home
	if p == "" || home == "" || home == "/" {
		return p
	}
	if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(home, "/")+"/"); ok && rel != "" {
		return "~/" + rel
	}
	return p
}

// absPath makes p absolute, expanding a leading "~/" with the home
// directory and taking a relative path against dir. ok is false when that
// cannot be done (no home directory, no base directory).
func (o *Options) absPath(p, dir string) (string, bool) {
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		if o.Home == "" {
			return "", false
		}
		return filepath.Join(o.Home, p[1:]), true
	case filepath.IsAbs(p):
		return filepath.Clean(p), true
	case dir == "" || strings.HasPrefix(p, "~"):
		return "", false
	}
	abs, err := filepath.Abs(filepath.Join(dir, p))
	return abs, err == nil
}
