package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// Acceptance 2 of issue 8: after the real fetchmail, mpop and getmail6 have
// fetched a Dovecot mailbox in keep mode, `fetchd import-state` of their
// state makes fetchd's next poll fetch nothing; a fresh account without the
// import (the control) fetches everything. The account's lost-state guard
// is armed (initial_sync_limit = 1): the import must also keep it from
// stopping the poll.
func TestPeers_ImportState(t *testing.T) {
	d := needFetchd(t)
	const n = 4
	peers := []struct {
		program string // as fetchd import-state names it
		bin     string
		pkg     string // Debian's package
		run     func(t *testing.T, p *peerUser, b *testharness.Box) (statePath string)
	}{
		{"fetchmail", "fetchmail", "fetchmail", runFetchmailKeep},
		{"mpop", "mpop", "mpop", runMpopKeep},
		{"getmail", "getmail", "getmail6", runGetmailKeep},
	}
	for i, peer := range peers {
		t.Run(peer.program, func(t *testing.T) {
			needProgram(t, peer.bin, peer.pkg)
			p := newPeerUser(t, d)
			b := newBox(t, d)
			b.Seed(t, testcorpus.Mixed(n, uint64(80+i)))
			src := peer.run(t, p, b)

			host, port := testharness.SplitAddr(d.POP3)
			cfg := b.Config(t, testharness.Account{Server: host, Port: port, TLS: "none", AllowInsecure: true,
				Password: d.Password, Keep: true, Extra: "auth = \"user\"\ninitial_sync_limit = 1\n"})
			r := runFetchd(t, b, "import-state", "-c", cfg, peer.program, src)
			if r.Code != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("t: %d imported, 0 already known", n)) {
				t.Fatalf("import-state: exit %d, want 0 and %d imported:\n%s%s", r.Code, n, r.Stdout, r.Stderr)
			}
			r = once(t, b, cfg)
			if r.Code != 0 || r.fetched(t) != 0 {
				t.Errorf("once after the import: exit %d, %d fetched; want 0 and 0", r.Code, r.fetched(t))
			}
			if got := testharness.CountMaildir(t, b.Out); got != 0 {
				t.Errorf("target maildir holds %d messages after the import, want 0", got)
			}
			if left := b.Left(t); left != n {
				t.Errorf("server holds %d messages, want %d (keep mode)", left, n)
			}

			// The control: the same mailbox, a fresh state store and target.
			control := controlConfig(t, b, cfg)
			r = once(t, b, control)
			if r.Code != 0 || r.fetched(t) != n {
				t.Errorf("control without the import: exit %d, %d fetched; want 0 and %d", r.Code, r.fetched(t), n)
			}
		})
	}
}

// controlConfig is cfg with a state store and a target maildir of its own,
// and no guard: a fresh account that fetches everything.
func controlConfig(t *testing.T, b *testharness.Box, cfg string) string {
	t.Helper()
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), b.State, filepath.Join(b.Dir, "control", "fetchd.db"))
	s = strings.ReplaceAll(s, strconv.Quote(b.Out), strconv.Quote(filepath.Join(b.Dir, "control", "Maildir")))
	s = strings.ReplaceAll(s, "initial_sync_limit = 1", "initial_sync_limit = 0")
	p := filepath.Join(b.Dir, "control.toml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// peerUser is a home directory for a peer program, owned by the
// unprivileged user that owns Dovecot's mail: getmail refuses to deliver
// as root, and fetchmail and mpop want their files owned by who runs them.
type peerUser struct {
	d    *testharness.Dovecot
	home string
}

func newPeerUser(t *testing.T, d *testharness.Dovecot) *peerUser {
	t.Helper()
	// Not t.TempDir(): its parent is 0700 and root's, out of the user's reach.
	home, err := os.MkdirTemp("", "fetchd-peer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	p := &peerUser{d: d, home: home}
	p.chown(t, home)
	return p
}

func (p *peerUser) chown(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	if err := os.Chown(path, p.d.UID, p.d.GID); err != nil {
		t.Fatal(err)
	}
}

// write writes a 0600 file under the home, owned by the user.
func (p *peerUser) write(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(p.home, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	p.chown(t, path)
	return path
}

func (p *peerUser) mkdir(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(p.home, name)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	p.chown(t, path)
	return path
}

// run runs a program as the user (under root, through setpriv), with a
// clean environment whose HOME is the user's home, and fails the test
// unless it exits with one of okCodes.
func (p *peerUser) run(t *testing.T, okCodes []int, name string, args ...string) {
	t.Helper()
	env := []string{"HOME=" + p.home, "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"}
	argv := append([]string{name}, args...)
	if os.Geteuid() == 0 {
		needProgram(t, "setpriv", "util-linux")
		argv = append(append([]string{"setpriv", fmt.Sprintf("--reuid=%d", p.d.UID), fmt.Sprintf("--regid=%d", p.d.GID),
			"--clear-groups", "--", "env", "-i"}, env...), argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, p.home
	start := time.Now()
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	t.Logf("%s: exit %d in %v", name, code, time.Since(start).Round(time.Millisecond))
	for _, ok := range okCodes {
		if code == ok {
			return
		}
	}
	t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
}

// runFetchmailKeep fetches the mailbox with fetchmail in keep mode, with
// UIDLs (the "uidl" option must be on the poll line); fetchmail writes the
// UIDLs it saw to its idfile.
func runFetchmailKeep(t *testing.T, p *peerUser, b *testharness.Box) string {
	host, port := testharness.SplitAddr(b.D.POP3)
	rc := p.write(t, "fetchmailrc", fmt.Sprintf(`set no bouncemail
set no syslog
poll %q service %d proto pop3 uidl auth password
  user %q password %q keep sslproto ''
  mda "/bin/cat >/dev/null"
`, host, port, b.User, b.D.Password))
	ids := filepath.Join(p.home, ".fetchids")
	p.run(t, []int{0}, "fetchmail", "-s", "-f", rc, "--idfile", ids, "--pidfile", filepath.Join(p.home, "fetchmail.pid"), "--nosyslog")
	return ids
}

// runMpopKeep fetches the mailbox with mpop in keep mode; its UIDLs file
// lands in a directory of its own, as ~/.mpop_uidls by default.
func runMpopKeep(t *testing.T, p *peerUser, b *testharness.Box) string {
	host, port := testharness.SplitAddr(b.D.POP3)
	dir := p.mkdir(t, "uidls")
	rc := p.write(t, "mpoprc", fmt.Sprintf(`defaults
tls off
auth user
keep on
only_new on
delivery mda "/bin/cat >/dev/null"
uidls_file %s/%%U_at_%%H

account box
host %s
port %d
user %s
password %s
`, dir, host, port, b.User, b.D.Password))
	p.run(t, []int{0}, "mpop", "-q", "-C", rc, "-a")
	return dir
}

// runGetmailKeep fetches the mailbox with getmail6 in keep mode. It
// delivers over LMTP to another Dovecot user: getmail's forking
// destinations (Maildir, MDA_external) can hang on a race in its SIGCHLD
// handling (getmail6 issues #52, #226), MDA_lmtp does not fork.
func runGetmailKeep(t *testing.T, p *peerUser, b *testharness.Box) string {
	host, port := testharness.SplitAddr(b.D.POP3)
	lhost, lport := testharness.SplitAddr(b.D.LMTP)
	sink, _ := testharness.LMTPUser(t, b.D)
	dir := p.mkdir(t, "getmail")
	p.write(t, "getmail/rc", fmt.Sprintf(`[retriever]
type = SimplePOP3Retriever
server = %s
port = %d
username = %s
password = %s
timeout = 30

[destination]
type = MDA_lmtp
host = %s
port = %d
override = %s

[options]
verbose = 0
delete = false
read_all = false
`, host, port, b.User, b.D.Password, lhost, lport, sink))
	p.run(t, []int{0}, "getmail", "--getmaildir="+dir, "-r", "rc")
	return dir
}
