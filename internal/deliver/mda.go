package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MDAConfig configures an MDA target: a local command such as procmail,
// maildrop or dovecot-lda that is handed each message on its standard input.
// Exactly one of Argv and Shell is set.
//
// Both forms take placeholders, substituted per message: %T is the first
// envelope recipient (the local user unless configured otherwise), %F the
// envelope sender ("" for the null sender), %% a literal %. Any other %
// sequence is refused by NewMDA, so a typo fails at startup.
type MDAConfig struct {
	// Argv is run without a shell; an argv[0] without a slash is looked up
	// in fetchd's own PATH. Each argument is substituted literally:
	// a value from the message stays one argument whatever it holds. It
	// may still begin with "-": write "-f%F" rather than "-f", "%F" where
	// the MDA allows it.
	Argv []string

	// Shell is run as /bin/sh -c Shell. Each substituted value is wrapped in
	// single quotes, so it reaches the command as one literal word; write
	// placeholders unquoted (NewMDA refuses '%T', "%T" and \%T, where our
	// quotes would undo the user's). Passing a placeholder on to eval or to
	// another sh -c parses the value again and is not safe.
	Shell string

	// TempCodes are exit codes that mean "try again later" besides 75
	// (EX_TEMPFAIL from sysexits.h). Any other non-zero exit is permanent.
	TempCodes []int

	// Timeout bounds one whole delivery, spooling included; 0 means 10
	// minutes. On expiry the command's whole process group is killed and
	// the failure is temporary.
	Timeout time.Duration

	// SpoolDir is where the copy fed to the command is written; it must
	// exist. "" means os.TempDir(). The copy is unlinked as soon as it is
	// created (the command reads it through the open descriptor), so
	// nothing is left behind even if fetchd dies mid-delivery.
	SpoolDir string

	// Owner runs the command as that user, with their uid, gid and
	// supplementary groups, a clean environment (HOME, USER, LOGNAME,
	// PATH=/usr/local/bin:/usr/bin:/bin, SHELL=/bin/sh) and Home as the
	// working directory. It needs root unless Owner is the user running
	// fetchd. nil runs it as ourselves with HOME, USER, LOGNAME and PATH
	// taken from our own user and environment, and nothing else.
	Owner *Owner

	// Log, if set, receives the command's stderr after it exits, one line
	// at a time, at most the last 20 lines and 4 KiB, each line cut at 500
	// bytes and with control characters replaced. It may be called from
	// several deliveries at once. The command's stdout is discarded.
	Log func(line string)
}

// MDA delivers by running a command per message. The command gets the
// message on its standard input with LF line ends (CRLF pairs become LF,
// every other byte is kept), preceded by the envelope's trace header lines.
//
// The command's exit is the point of delivery: exit 0 after reading all of
// its input means delivered; exit 75, a TempCodes code, death by a signal, a
// timeout, or exit 0 without reading all of its input is a temporary failure;
// any other exit is permanent. So Stage runs the command and the Staged it
// returns has nothing left to do: Commit and Abort are no-ops.
//
// The input is a file, not a pipe, so that we can tell how much the command
// read: it shares the file's offset with us. A pipe's buffer would let a
// command that ignored a small message look as if it had read it. A command
// that reads its input via mmap, or rewinds it after reading, looks as if it
// had not read it all; procmail, maildrop and dovecot-lda read it through.
//
// An MDA is safe for concurrent use.
type MDA struct {
	cfg       MDAConfig
	name      string        // String()
	args      []mdaTemplate // the argv form
	shell     mdaTemplate   // the shell form
	usesRcpt  bool          // some template holds %T
	usesFrom  bool          // some template holds %F
	tempCodes map[int]bool
	timeout   time.Duration
	spool     string
	cred      *syscall.Credential // nil: run as ourselves
	env       []string
	dir       string // working directory; "": ours
}

var _ Deliverer = (*MDA)(nil)

const (
	exTempFail         = 75 // sysexits.h EX_TEMPFAIL
	mdaDefaultTimeout  = 10 * time.Minute
	mdaOwnerPath       = "/usr/local/bin:/usr/bin:/bin"
	mdaErrorStderrTail = 5 // stderr lines quoted in an error
)

// mdaWaitDelay is how long Stage waits, after the command exits or is
// killed, for its stderr to close: a background process the command left
// running may hold it open for ever.
const mdaWaitDelay = 2 * time.Second

// NewMDA checks cfg and returns an MDA. It fails on a missing or doubled
// command, an unknown or unsafely placed placeholder, an exit code that is
// not 1–255, a negative timeout, a SpoolDir that is not a directory, or an
// Owner we cannot switch to.
func NewMDA(cfg MDAConfig) (*MDA, error) {
	m := &MDA{cfg: cfg, timeout: cfg.Timeout, spool: cfg.SpoolDir}
	switch {
	case len(cfg.Argv) > 0 && cfg.Shell != "":
		return nil, errors.New("mda: set either a command (argv) or a shell command, not both")
	case len(cfg.Argv) > 0:
		m.name = "mda " + strings.Join(cfg.Argv, " ")
		if cfg.Argv[0] == "" {
			return nil, fmt.Errorf("%s: empty command name", m.name)
		}
		for i, a := range cfg.Argv {
			t, err := parseMDATemplate(a)
			if err != nil {
				return nil, fmt.Errorf("%s: argument %d %q: %w", m.name, i, a, err)
			}
			m.args = append(m.args, t)
		}
	case strings.TrimSpace(cfg.Shell) != "":
		m.name = "mda_shell " + cfg.Shell
		t, err := parseMDATemplate(cfg.Shell)
		if err == nil {
			err = checkShellPlaceholders(cfg.Shell)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		m.shell = t
	default:
		return nil, errors.New("mda: no command given")
	}
	for _, t := range append([]mdaTemplate{m.shell}, m.args...) {
		m.usesRcpt = m.usesRcpt || t.uses('T')
		m.usesFrom = m.usesFrom || t.uses('F')
	}

	m.tempCodes = map[int]bool{exTempFail: true}
	for _, c := range cfg.TempCodes {
		if c < 1 || c > 255 {
			return nil, fmt.Errorf("%s: temporary exit code %d: want 1 to 255", m.name, c)
		}
		m.tempCodes[c] = true
	}
	switch {
	case m.timeout < 0:
		return nil, fmt.Errorf("%s: negative timeout %v", m.name, m.timeout)
	case m.timeout == 0:
		m.timeout = mdaDefaultTimeout
	}
	if m.spool == "" {
		m.spool = os.TempDir()
	}
	if fi, err := os.Stat(m.spool); err != nil {
		return nil, fmt.Errorf("%s: spool directory: %w", m.name, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: spool directory %s: %w", m.name, m.spool, syscall.ENOTDIR)
	}
	if err := m.setUser(cfg.Owner); err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	return m, nil
}

// setUser decides the credentials, environment and working directory the
// command runs with.
func (m *MDA) setUser(o *Owner) error {
	if o == nil {
		home, name, path := os.Getenv("HOME"), os.Getenv("USER"), os.Getenv("PATH")
		if u, err := user.Current(); err == nil {
			name = u.Username
			if home == "" {
				home = u.HomeDir
			}
		}
		if path == "" {
			path = mdaOwnerPath
		}
		m.env = []string{"HOME=" + home, "USER=" + name, "LOGNAME=" + name, "PATH=" + path}
		return nil
	}
	if o.Name == "" || o.Home == "" {
		return fmt.Errorf("run as uid %d: user name and home directory are required", o.UID)
	}
	m.env = []string{"HOME=" + o.Home, "USER=" + o.Name, "LOGNAME=" + o.Name, "PATH=" + mdaOwnerPath, "SHELL=/bin/sh"}
	m.dir = o.Home
	euid := os.Geteuid()
	switch {
	case euid == 0:
		m.cred = &syscall.Credential{Uid: uint32(o.UID), Gid: uint32(o.GID), Groups: supplementaryGroups(o.UID)}
	case o.UID != euid:
		return fmt.Errorf("run as %s (uid %d): fetchd runs as uid %d, and switching users needs root", o.Name, o.UID, euid)
	}
	return nil
}

// supplementaryGroups returns the groups of the user with this uid; none
// when they cannot be looked up. Never nil: the child must not keep ours.
func supplementaryGroups(uid int) []uint32 {
	groups := []uint32{}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return groups
	}
	ids, err := u.GroupIds()
	if err != nil {
		return groups
	}
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			groups = append(groups, uint32(g))
		}
	}
	return groups
}

// String returns "mda <argv joined by spaces>" or "mda_shell <command>",
// placeholders unexpanded.
func (m *MDA) String() string { return m.name }

// Close does nothing: an MDA holds nothing between deliveries.
func (m *MDA) Close() error { return nil }

// Stage spools the message and runs the command on it; see MDA. It returns
// a Staged only when the command delivered. Every failure is an *Error;
// failures before the command runs (reading body, writing the spool file,
// starting the command) are temporary, except a placeholder value that no
// command line can carry (a CR, LF or NUL), which is permanent.
func (m *MDA) Stage(ctx context.Context, env *Envelope, body io.Reader) (Staged, error) {
	if env == nil {
		env = &Envelope{}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, m.timeout, fmt.Errorf("timed out after %v", m.timeout))
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, Temporary(m.name, "stage", context.Cause(ctx))
	}
	argv, err := m.argv(env)
	if err != nil {
		return nil, err
	}
	f, size, err := m.spoolMessage(ctx, env, body)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := m.run(ctx, argv, f, size); err != nil {
		return nil, err
	}
	return mdaStaged{}, nil
}

// argv substitutes the envelope into the command line.
func (m *MDA) argv(env *Envelope) ([]string, error) {
	vals := map[byte]string{}
	if m.usesRcpt {
		if len(env.Recipients) == 0 {
			return nil, Temporary(m.name, "expand %T", errors.New("no envelope recipient"))
		}
		vals['T'] = env.Recipients[0]
	}
	if m.usesFrom {
		vals['F'] = env.From
	}
	for ph, v := range vals {
		if strings.ContainsAny(v, "\x00\r\n") {
			return nil, Permanent(m.name, fmt.Sprintf("expand %%%c", ph), fmt.Errorf("value %q holds a CR, LF or NUL", v))
		}
	}
	if m.shell != nil {
		return []string{"/bin/sh", "-c", m.shell.render(vals, shellQuote)}, nil
	}
	argv := make([]string, len(m.args))
	for i, t := range m.args {
		argv[i] = t.render(vals, nil)
	}
	return argv, nil
}

// mdaStaged is a message the command has already delivered.
type mdaStaged struct{}

// Commit returns nil: the command's exit was the commit point.
func (mdaStaged) Commit(context.Context) error { return nil }

// Abort does nothing: a delivered message cannot be taken back.
func (mdaStaged) Abort() error { return nil }
