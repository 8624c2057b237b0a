package testharness

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"fetchd/internal/testcorpus"
)

// Box is one test's world: a fresh Dovecot user (so an empty mailbox) and a
// temp dir for fetchd's config, state store and default target maildir.
type Box struct {
	D       *Dovecot
	User    string
	Mailbox string // the server's maildir: Home/User/Maildir
	Dir     string // the test's temp dir
	Out     string // the default target maildir, Dir/Maildir (created)
	State   string // fetchd's state file, Dir/state/fetchd.db
}

// NewBox creates a fresh mailbox on d; it is removed when the test ends.
func NewBox(tb testing.TB, d *Dovecot) *Box {
	tb.Helper()
	b := &Box{D: d, User: fmt.Sprintf("u%08x", rand.Uint32()), Dir: tb.TempDir()}
	home := filepath.Join(d.Home, b.User)
	b.Mailbox = filepath.Join(home, "Maildir")
	b.Out = filepath.Join(b.Dir, "Maildir")
	b.State = filepath.Join(b.Dir, "state", "fetchd.db")
	if err := testcorpus.WriteMaildir(b.Mailbox, nil, d.UID, d.GID); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chown(home, d.UID, d.GID); err != nil {
		tb.Fatal(err)
	}
	if err := testcorpus.WriteMaildir(b.Out, nil, -1, -1); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(home) })
	return b
}

// Seed delivers ms into the mailbox on the server, owned by Dovecot's user.
func (b *Box) Seed(tb testing.TB, ms []testcorpus.Message) {
	tb.Helper()
	if err := testcorpus.WriteMaildir(b.Mailbox, ms, b.D.UID, b.D.GID); err != nil {
		tb.Fatal(err)
	}
}

// Left is how many messages the server still holds for the user; a missing
// mailbox fails the test.
func (b *Box) Left(tb testing.TB) int {
	tb.Helper()
	return countMaildir(tb, b.Mailbox, false)
}

// CountMaildir counts the messages in maildir's new/ and cur/; a missing
// maildir holds none.
func CountMaildir(tb testing.TB, maildir string) int {
	tb.Helper()
	return countMaildir(tb, maildir, true)
}

func countMaildir(tb testing.TB, maildir string, missingOK bool) int {
	tb.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(maildir, sub))
		if missingOK && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		n += len(es)
	}
	return n
}

// LMTPUser returns a fresh Dovecot user to deliver to over LMTP and the
// maildir its mail lands in (created by Dovecot on the first delivery; removed
// when the test ends).
func LMTPUser(tb testing.TB, d *Dovecot) (user, maildir string) {
	tb.Helper()
	user = fmt.Sprintf("r%08x", rand.Uint32())
	home := filepath.Join(d.Home, user)
	tb.Cleanup(func() { os.RemoveAll(home) })
	return user, filepath.Join(home, "Maildir")
}

// Account is what varies between tests in the one [[account]] of a config.
type Account struct {
	Server        string
	Port          int
	TLS           string // implicit | starttls | none
	AllowInsecure bool
	Password      string
	Keep          bool
	Timeout       string // default "10s"
	// TraceHeaders turns on the header fields fetchd adds; off by default so
	// that delivered bytes compare exactly with testcorpus.Expected.
	TraceHeaders bool
	Extra        string // more account keys, as TOML lines
	Deliver      string // [[account.deliver]] tables as TOML; "" is maildir = Box.Out
}

// ImplicitTLS is the default account: POP3S to localhost.
func (b *Box) ImplicitTLS() Account {
	_, port := SplitAddr(b.D.POP3S)
	return Account{Server: "localhost", Port: port, TLS: "implicit", Password: b.D.Password}
}

// SplitAddr splits "host:port"; it panics on a malformed address (a test bug).
func SplitAddr(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		panic(err)
	}
	return h, n
}

// Config writes a 0600 fetchd config with one account named "t" and the
// state file b.State, and returns its path (Dir/fetchd.toml).
func (b *Box) Config(tb testing.TB, a Account) string {
	tb.Helper()
	if a.Timeout == "" {
		a.Timeout = "10s"
	}
	var c strings.Builder
	fmt.Fprintf(&c, "state = %q\nlog_level = %q\n\n", b.State, "debug")
	fmt.Fprintf(&c, "[[account]]\nname = %q\nserver = %q\nport = %d\ntls = %q\n", "t", a.Server, a.Port, a.TLS)
	fmt.Fprintf(&c, "allow_insecure = %t\nuser = %q\npassword = %q\nkeep = %t\ntimeout = %q\ntrace_headers = %t\n",
		a.AllowInsecure, b.User, a.Password, a.Keep, a.Timeout, a.TraceHeaders)
	c.WriteString(a.Extra)
	if a.Deliver == "" {
		fmt.Fprintf(&c, "\n[[account.deliver]]\nmaildir = %q\n", b.Out)
	} else {
		c.WriteString("\n" + a.Deliver)
	}
	p := filepath.Join(b.Dir, "fetchd.toml")
	if err := os.WriteFile(p, []byte(c.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// File is one delivered message.
type File struct {
	Where string // "new/NAME", "cur/NAME" or "mbox offset N", for reports
	From  string // an mbox message's From line, without its line end
	Data  []byte
}

// ReadMaildir returns the files in maildir's new/ and cur/ (tmp/ is not
// delivered mail); a missing maildir holds none.
func ReadMaildir(tb testing.TB, maildir string) []File {
	tb.Helper()
	var out []File
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(maildir, sub)
		es, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range es {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, File{Where: sub + "/" + e.Name(), Data: data})
		}
	}
	return out
}
