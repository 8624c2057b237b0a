package deliver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"fetchd/internal/crashpoint"
)

// Maildir delivers into a maildir (https://cr.yp.to/proto/maildir.html).
//
// Stage writes the message into tmp/ under a unique name, converting the
// wire's CRLF line ends to LF as mpop, getmail and Dovecot store files (every
// other byte is kept: NUL, bare CR, 8-bit), then fsyncs and closes the file.
// Commit links it into new/, removes the tmp/ name and fsyncs new/. Nothing is
// ever renamed over an existing file.
//
// Stage first writes the envelope's local trace header (Return-Path,
// Delivered-To, Received), converted like the body.
//
// With an Owner, the directories NewMaildirOwned creates and every message
// file belong to the owner, so fetchd running as root delivers as the user
// would. A Maildir is safe for concurrent use.
type Maildir struct {
	Path  string // the directory given to NewMaildir; do not change it
	host  string // hostname escaped for file names
	owner *Owner // nil: files belong to the user running fetchd
	// bufs holds *writeBuffers between deliveries: a fetch of thousands
	// of messages would otherwise allocate 96 KB for each.
	bufs sync.Pool
}

// writeBuffers are what writeBody needs for one message.
type writeBuffers struct {
	bw  *bufio.Writer
	buf []byte
}

var _ Deliverer = (*Maildir)(nil)

// MaildirStaged is what Maildir.Stage returns, beyond Staged.
type MaildirStaged interface {
	Staged

	// TmpPath is the file in tmp/ that holds the message until Commit.
	TmpPath() string

	// FinalPath is the name the message gets in new/. It is known once
	// Stage returns, so crash recovery can record it before Commit. It
	// changes only if that name is taken when Commit links (then Commit
	// picks a fresh one); after Commit it is the name actually used.
	FinalPath() string

	// SyncFile makes the file in tmp/ durable, when StageUnsynced left it
	// to the caller; after Stage it does nothing. On failure the message
	// must be aborted.
	SyncFile(ctx context.Context) error

	// Link makes the message visible in new/ without fsyncing the directory:
	// Commit is Link followed by Maildir.SyncDir. A batch may Link many
	// messages and then call SyncDir once; none of them is durable, and no
	// UIDL may be recorded, until that SyncDir returns nil. Link is a no-op
	// once it has succeeded.
	Link() error
}

// NewMaildir returns a Maildir at path whose files belong to the user running
// fetchd: NewMaildirOwned(path, nil).
func NewMaildir(path string) (*Maildir, error) { return NewMaildirOwned(path, nil) }

// NewMaildirOwned returns a Maildir at path, creating path (and its missing
// parents), tmp/, new/ and cur/ with mode 0700 where missing. It fails if path
// or one of the subdirectories exists and is not a directory. When owner is
// not nil, the directories it creates and the message files Stage creates are
// chowned to owner.UID and owner.GID; existing directories are left alone.
func NewMaildirOwned(path string, owner *Owner) (*Maildir, error) {
	m := &Maildir{Path: path, host: escapeHost(hostname()), owner: owner}
	if path == "" {
		return nil, m.fail("open", errors.New("empty path"))
	}
	var created []string
	for _, dir := range []string{path, filepath.Join(path, "tmp"), filepath.Join(path, "new"), filepath.Join(path, "cur")} {
		made, err := m.mkdir(dir)
		created = append(created, made...)
		if err != nil {
			return nil, err
		}
	}
	// The directory entries we just made must survive a crash too, or a
	// message committed into new/ could vanish with new/ itself: fsync the
	// parent of every directory created.
	synced := make(map[string]bool)
	for _, dir := range created {
		parent := filepath.Dir(dir)
		if synced[parent] {
			continue
		}
		synced[parent] = true
		if err := syncDir(parent); err != nil {
			return nil, m.fail("fsync "+parent, bare(err))
		}
	}
	return m, nil
}

// String returns "maildir <path>".
func (m *Maildir) String() string { return "maildir " + m.Path }

// Close does nothing: a Maildir holds no open files between deliveries.
func (m *Maildir) Close() error { return nil }

// SyncDir fsyncs new/, making every message linked into it so far durable.
func (m *Maildir) SyncDir() error {
	if err := syncDir(filepath.Join(m.Path, "new")); err != nil {
		return m.fail("fsync new/", bare(err))
	}
	return nil
}

// Stage writes the local trace header of env (nothing when env is nil) and
// then body into tmp/, and fsyncs the file. The result is a MaildirStaged. On
// any failure the tmp/ file is removed and the error is a temporary *Error:
// everything that goes wrong in a maildir (a full disk, a quota, a
// permission) is something the user can fix, and the message waits on the
// server meanwhile.
func (m *Maildir) Stage(ctx context.Context, env *Envelope, body io.Reader) (Staged, error) {
	st, err := m.stage(ctx, env, body, true)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// StageUnsynced is Stage without the fsync: the file stays open until
// SyncFile, which a caller may run on another goroutine so that the fsyncs
// of several messages overlap each other and the network. Link and Commit
// call SyncFile first when it was not called: no message is ever made
// visible before its file is durable.
func (m *Maildir) StageUnsynced(ctx context.Context, env *Envelope, body io.Reader) (MaildirStaged, error) {
	st, err := m.stage(ctx, env, body, false)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (m *Maildir) stage(ctx context.Context, env *Envelope, body io.Reader, sync bool) (*maildirStaged, error) {
	if err := ctx.Err(); err != nil {
		return nil, m.fail("stage", err)
	}
	f, base, err := m.createTmp()
	if err != nil {
		return nil, err
	}
	var head []byte
	if env != nil {
		head = env.Trace.Header(true)
	}
	size, err := m.writeBody(ctx, f, "tmp/"+base, head, body)
	if err == nil && sync {
		err = m.syncFile(ctx, f, "tmp/"+base)
	}
	if err != nil || sync {
		if cerr := f.Close(); err == nil && cerr != nil {
			// On NFS a write error may show only at close.
			err = m.fail("close tmp/"+base, bare(cerr))
		}
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	st := &maildirStaged{m: m, tmp: f.Name(), final: m.newPath(base, size), size: size}
	if !sync {
		st.file = f
	}
	return st, nil
}

// syncFile fsyncs f, the file name of the maildir.
func (m *Maildir) syncFile(ctx context.Context, f *os.File, name string) error {
	if err := f.Sync(); err != nil {
		return m.fail("fsync "+name, bare(err))
	}
	crashpoint.Hit(ctx, "maildir.fsynced")
	return nil
}

// createTmp creates a new file in tmp/ under a unique name, never opening an
// existing one, and chowns it to the owner.
func (m *Maildir) createTmp() (*os.File, string, error) {
	for attempt := 1; ; attempt++ {
		base := m.uniqueName()
		f, err := os.OpenFile(filepath.Join(m.Path, "tmp", base), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if err := chownFile(f, m.owner); err != nil {
				f.Close()
				os.Remove(f.Name())
				return nil, "", m.fail("chown tmp/"+base, bare(err))
			}
			return f, base, nil
		}
		if !errors.Is(err, fs.ErrExist) || attempt == maxNameAttempts {
			return nil, "", m.fail("create tmp/"+base, bare(err))
		}
	}
}

// writeBody copies head and then body to f through one LFWriter, checking ctx
// between chunks. It returns the size written.
func (m *Maildir) writeBody(ctx context.Context, f *os.File, name string, head []byte, body io.Reader) (int64, error) {
	cw := &countWriter{w: f}
	wb, _ := m.bufs.Get().(*writeBuffers)
	if wb == nil {
		wb = &writeBuffers{bw: bufio.NewWriterSize(nil, 64<<10), buf: make([]byte, 32<<10)}
	}
	defer func() {
		wb.bw.Reset(nil) // drop the reference to the file
		m.bufs.Put(wb)
	}()
	bw, buf := wb.bw, wb.buf
	bw.Reset(cw)
	lw := NewLFWriter(bw)
	if _, err := lw.Write(head); err != nil {
		return 0, m.fail("write "+name, bare(err))
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, m.fail("write "+name, err)
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := lw.Write(buf[:n]); err != nil {
				return 0, m.fail("write "+name, bare(err))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, m.fail("read body", rerr)
		}
	}
	if err := lw.Flush(); err != nil {
		return 0, m.fail("write "+name, bare(err))
	}
	if err := bw.Flush(); err != nil {
		return 0, m.fail("write "+name, bare(err))
	}
	return cw.n, nil
}

func (m *Maildir) fail(op string, err error) error { return Temporary(m.String(), op, err) }

// SyncDirectory fsyncs a directory, making the entries created or removed in
// it durable (crash recovery fsyncs the one a planned message is found in).
func SyncDirectory(dir string) error { return syncDir(dir) }

// syncDir fsyncs a directory, making the entries created or removed in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// bare strips the path from an *fs.PathError or *os.LinkError: our Op
// already names the file, relative to the maildir, so the message reads
// "maildir /x: write tmp/…: no space left on device". errors.Is still works on
// what remains (syscall.ENOSPC, fs.ErrExist…).
func bare(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		return e.Err
	case *os.LinkError:
		return e.Err
	}
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
