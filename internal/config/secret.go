package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// secretTimeout bounds a password_command. A variable so tests can shorten it.
var secretTimeout = 30 * time.Second

const (
	maxSecretLen = 64 << 10 // more than this is not a password
	maxStderrLen = 1 << 10  // enough to explain a failure
)

// Secret resolves the account's password, or its access token with auth
// "xoauth2" or "oauthbearer": the inline password, the contents of
// password_file or of the systemd credential password_credential (minus one
// trailing newline), or what password_command prints on standard output
// (minus trailing white space). It is called when the password is needed,
// not at load time, so a locked keyring does not stop `fetchd check`, and a
// token helper is asked for a fresh token on every login.
//
// Errors name the account and say what to do. They never include the
// password or the command's standard output.
func (a *Account) Secret(ctx context.Context) (string, error) {
	src := secretSource{
		owner:  accountLabel(a.Name),
		inline: a.Password, file: a.PasswordFile, command: a.PasswordCommand, credential: a.PasswordCredential,
	}
	if src.none() {
		return "", fmt.Errorf("%s: no password: set password_file, password_command, password_credential or password", src.owner)
	}
	return src.resolve(ctx)
}

// SameCredentials reports whether a and b log in the same way: the same
// user, auth mechanism, password source and oauth2 table. It compares the
// configuration only, not what password_file holds or password_command
// prints, so a password changed inside the file is not seen. It is how a
// reload decides that a paused account's credentials changed.
func (a *Account) SameCredentials(b *Account) bool {
	return a.User == b.User && a.Auth == b.Auth && a.Password == b.Password &&
		a.PasswordFile == b.PasswordFile && slices.Equal(a.PasswordCommand, b.PasswordCommand) &&
		a.PasswordCredential == b.PasswordCredential && sameOAuth2(a.OAuth2, b.OAuth2)
}

// secretSource is where one password comes from: an account's POP3 password
// or a deliver entry's SMTP password. At most one of inline, file, command
// and credential is set.
type secretSource struct {
	owner      string // names the source's owner in messages: `account "work"`
	prefix     string // of the keys in messages: "" or "smtp_"
	inline     string
	file       string
	command    []string
	credential string // a name in $CREDENTIALS_DIRECTORY
}

func (s secretSource) none() bool {
	return s.inline == "" && s.file == "" && len(s.command) == 0 && s.credential == ""
}

// resolve returns the password, or "" when there is no source.
func (s secretSource) resolve(ctx context.Context) (string, error) {
	switch {
	case s.inline != "":
		return s.inline, nil
	case s.file != "":
		return s.fromFile()
	case len(s.command) > 0:
		return s.fromCommand(ctx)
	case s.credential != "":
		return s.fromCredential()
	}
	return "", nil
}

func (s secretSource) fromFile() (string, error) {
	p := s.file
	label := s.owner + ": " + s.prefix + "password_file " + p
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: does not exist: write the password into it and run chmod 600 %s", label, p)
		}
		return "", fmt.Errorf("%s: %w", label, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	if msg := exposedSecret(p, fi.Mode(), "a password"); msg != "" {
		return "", fmt.Errorf("%s: %s: %s", s.owner, p, msg)
	}
	return readSecret(label, f)
}

// fromCredential reads a credential that systemd placed in
// $CREDENTIALS_DIRECTORY (LoadCredential=, LoadCredentialEncrypted=,
// SetCredential=).
func (s secretSource) fromCredential() (string, error) {
	name := s.credential
	key := s.prefix + "password_credential"
	label := s.owner + ": " + key + " " + quote(name)
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return "", fmt.Errorf("%s: $CREDENTIALS_DIRECTORY is not set: fetchd must run as a systemd service "+
			"with LoadCredential=%s:/path/to/secret (or LoadCredentialEncrypted=) in its unit; "+
			"outside systemd use %spassword_file instead", label, name, s.prefix)
	}
	p := filepath.Join(dir, name)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: %s does not exist: add LoadCredential=%s:/path/to/secret to the unit "+
				"(the name must match %s)", label, p, name, key)
		}
		return "", fmt.Errorf("%s: %w", label, err)
	}
	defer f.Close()
	// No check of the mode: systemd makes the directory and its files
	// readable by the service's user only, and may give a file mode 0440
	// with an ACL for that user, which the check would wrongly refuse.
	return readSecret(label, f)
}

// readSecret reads a password file: the password, and at most one line end.
func readSecret(label string, f *os.File) (string, error) {
	data, err := io.ReadAll(io.LimitReader(f, maxSecretLen+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	if len(data) > maxSecretLen {
		return "", fmt.Errorf("%s: larger than %d KiB: it must hold only the password", label, maxSecretLen>>10)
	}
	return checkSecret(label, trimLineEnd(string(data)), "the file must hold only the password, on one line")
}

// trimLineEnd removes one line end from the end of s: the one an editor
// adds. Anything else, including trailing spaces, is part of the secret.
func trimLineEnd(s string) string {
	if strings.HasSuffix(s, "\r\n") {
		return s[:len(s)-2]
	}
	return strings.TrimSuffix(s, "\n")
}

// checkCredential checks a password_credential name: systemd's credential
// names are file names in $CREDENTIALS_DIRECTORY.
func checkCredential(v any) string {
	s := v.(string)
	switch {
	case s == "":
		return "must not be empty: give the name of a systemd credential, the NAME of LoadCredential=NAME:/path in the unit"
	case s == "." || s == ".." || strings.ContainsAny(s, "/\x00"):
		return `must be a plain name, the NAME of LoadCredential=NAME:/path in the unit (no "/"), got ` + quote(s)
	case len(s) > 255:
		return "must be at most 255 bytes long, a file name"
	}
	return ""
}

func (s secretSource) fromCommand(parent context.Context) (string, error) {
	argv := s.command
	// Only the program name: arguments might be secret themselves.
	label := s.owner + ": " + s.prefix + "password_command " + quote(argv[0])
	ctx, cancel := context.WithTimeout(parent, secretTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	stdout := &cappedBuffer{max: maxSecretLen}
	stderr := &cappedBuffer{max: maxStderrLen}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killGroupOnTimeout(cmd)
	// A grandchild that keeps the pipes open must not hold us past the kill.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case parent.Err() != nil:
		return "", fmt.Errorf("%s: %w", label, parent.Err())
	case ctx.Err() != nil:
		return "", fmt.Errorf("%s: timed out after %s%s: make sure it does not wait for input "+
			"(a locked keyring or a pinentry prompt are the usual causes)", label, secretTimeout, stderr.detail())
	case errors.Is(err, exec.ErrNotFound):
		return "", fmt.Errorf("%s: program not found: check its name, or give its full path", label)
	case err != nil:
		return "", fmt.Errorf("%s: %v%s: run it by hand to see why it fails", label, err, stderr.detail())
	case stdout.overflow:
		return "", fmt.Errorf("%s: printed more than %d KiB: it must print only the password", label, maxSecretLen>>10)
	}
	pw := strings.TrimRight(stdout.String(), " \t\r\n")
	return checkSecret(label, pw, `it must print only the password; to take the first line use ["sh", "-c", "… | head -n 1"]`)
}

// checkSecret rejects an empty password and one with a line break, which
// would end the POP3 PASS (or SMTP AUTH) command early.
func checkSecret(label, s, fix string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%s: the password is empty: %s", label, fix)
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", fmt.Errorf("%s: the password contains a line break: %s", label, fix)
	}
	return s, nil
}

// cappedBuffer keeps the first max bytes written and notes whether more came.
// It never fails a write, so the child is not killed by a broken pipe. The
// buffer is a field, not embedded, so that io.Copy cannot go around Write
// through bytes.Buffer's ReadFrom.
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.overflow = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) String() string { return b.buf.String() }

// detail is the captured stderr, for an error message: ": <stderr>", or "".
func (b *cappedBuffer) detail() string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return ""
	}
	s = strings.Join(strings.Fields(s), " ")
	if b.overflow {
		s += " …"
	}
	return ": " + s
}
