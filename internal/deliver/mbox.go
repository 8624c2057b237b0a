package deliver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Mbox appends to an mbox file in mboxrd form, locked as mutt, procmail,
// Postfix and Dovecot expect: a dot lock (<path>.lock) and an fcntl write lock
// on the file, both taken before and released after every append.
//
// Each message is written as
//
//	From <sender> <asctime date, UTC>
//	<trace header and message, LF line ends, ^>*From  lines quoted with '>'>
//	<empty line>
//
// Stage spools the formatted message into a temporary file next to the mbox,
// so a body that fails to arrive never touches the mbox. Commit appends the
// spool under the locks and fsyncs; if the append fails it truncates the mbox
// back to its old size, so no half message is left for a mail reader to see.
//
// With an Owner (fetchd running as root for a user), a missing mbox is
// created 0600 for the owner, and an existing one is used only if it is a
// regular file with one link, not a symlink, owned by the owner: otherwise a
// user could point root's append at any file. An Mbox is safe for
// concurrent use.
type Mbox struct {
	Path  string // the file given to NewMbox; do not change it
	owner *Owner

	// appending holds a token while a Commit of this Mbox runs: fcntl locks
	// belong to the process, not the goroutine, and closing any descriptor
	// of the file drops all of them. (Two Mbox values for one file are kept
	// apart by the dot lock, which Commit takes before it opens the file.)
	// A channel rather than a mutex, so that waiting for it obeys ctx.
	appending chan struct{}

	// Fixed at construction; tests change them.
	now         func() time.Time          // the date in the From line
	lockTimeout time.Duration             // for both locks together
	wrapAppend  func(io.Writer) io.Writer // wraps the mbox in Commit (to inject write errors)
}

var _ Deliverer = (*Mbox)(nil)

const (
	defaultLockTimeout = 30 * time.Second
	// staleLockAge is procmail's rule: a dot lock not touched for five
	// minutes was left by a program that died.
	staleLockAge = 5 * time.Minute
)

// NewMbox returns an Mbox appending to the file at path. The file need not
// exist (Commit creates it), but its directory must, and if it exists it must
// be a regular file. A nil owner means the user running fetchd.
func NewMbox(path string, owner *Owner) (*Mbox, error) {
	m := &Mbox{Path: path, owner: owner, appending: make(chan struct{}, 1),
		now: time.Now, lockTimeout: defaultLockTimeout}
	if path == "" {
		return nil, m.fail("open", errors.New("empty path"))
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, m.fail("open directory "+dir, bare(err))
	} else if !fi.IsDir() {
		return nil, m.fail("open directory "+dir, syscall.ENOTDIR)
	}
	stat := os.Stat
	if owner != nil {
		stat = os.Lstat
	}
	fi, err := stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, m.fail("stat", bare(err))
	case !fi.Mode().IsRegular():
		return nil, m.fail("open", errNotRegular(fi.Mode()))
	}
	return m, nil
}

// String returns "mbox <path>".
func (m *Mbox) String() string { return "mbox " + m.Path }

// Close does nothing: an Mbox holds no files or locks between deliveries.
func (m *Mbox) Close() error { return nil }

// Stage formats the message as it will appear in the mbox (From line, local
// trace header of env, quoted body, empty line) into a temporary file next to
// the mbox. env may be nil (sender MAILER-DAEMON, no trace header).
//
// The spool is not fsynced: nothing recovers it after a crash (the message is
// still on the server then), and the durable write is the append in Commit.
func (m *Mbox) Stage(ctx context.Context, env *Envelope, body io.Reader) (Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, m.fail("stage", err)
	}
	if env == nil {
		env = &Envelope{}
	}
	f, err := os.CreateTemp(filepath.Dir(m.Path), "."+filepath.Base(m.Path)+".fetchd-*")
	if err != nil {
		return nil, m.fail("create spool", bare(err))
	}
	size, err := m.spool(ctx, f, env, body)
	if err == nil {
		err = chownFile(f, m.owner)
		if err != nil {
			err = m.fail("chown spool "+f.Name(), bare(err))
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = m.fail("close spool "+f.Name(), bare(cerr))
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &mboxStaged{m: m, spool: f.Name(), size: size}, nil
}

// spool writes the formatted message to f and returns its size.
func (m *Mbox) spool(ctx context.Context, f *os.File, env *Envelope, body io.Reader) (int64, error) {
	name := "write spool " + f.Name()
	cw := &countWriter{w: f}
	bw := bufio.NewWriterSize(cw, 64<<10)
	lw := &lastByteWriter{w: bw}
	qw := newMboxrdWriter(lw)
	lf := NewLFWriter(qw)
	if _, err := lw.Write(fromLine(env.From, m.now())); err != nil {
		return 0, m.fail(name, bare(err))
	}
	if _, err := lf.Write(env.Trace.Header(true)); err != nil {
		return 0, m.fail(name, bare(err))
	}
	buf := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return 0, m.fail(name, err)
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := lf.Write(buf[:n]); err != nil {
				return 0, m.fail(name, bare(err))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, m.fail("read body", rerr)
		}
	}
	if err := lf.Flush(); err != nil {
		return 0, m.fail(name, bare(err))
	}
	if err := qw.Flush(); err != nil {
		return 0, m.fail(name, bare(err))
	}
	// The message ends with a line end, and an empty line separates it
	// from the next From line.
	end := []byte("\n\n")
	if lw.last == '\n' {
		end = end[1:]
	}
	if _, err := lw.Write(end); err != nil {
		return 0, m.fail(name, bare(err))
	}
	if err := bw.Flush(); err != nil {
		return 0, m.fail(name, bare(err))
	}
	return cw.n, nil
}

func (m *Mbox) fail(op string, err error) error { return Temporary(m.String(), op, err) }

// lastByteWriter remembers the last byte written through it.
type lastByteWriter struct {
	w    io.Writer
	last byte
}

func (l *lastByteWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}
