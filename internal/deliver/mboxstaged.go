package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// mboxStaged is a message formatted into a spool file, waiting to be
// appended. It is not safe for concurrent use.
type mboxStaged struct {
	m     *Mbox
	spool string
	size  int64
	state stagedState // stateStaged, stateCommitted or stateAborted
}

// Commit takes the dot lock and the fcntl lock (waiting up to 30 seconds in
// all, less if ctx ends first), appends the spooled message, fsyncs the mbox
// and releases the locks. If anything fails the mbox is truncated back to its
// old size and the spool is kept, so Commit may be tried again. A cancelled
// ctx stops it only before the append starts.
func (s *mboxStaged) Commit(ctx context.Context) error {
	m := s.m
	switch s.state {
	case stateCommitted:
		return nil
	case stateAborted:
		return m.fail("commit", errAborted)
	}
	if err := ctx.Err(); err != nil {
		return m.fail("commit", err)
	}
	lctx, cancel := context.WithTimeout(ctx, m.lockTimeout)
	defer cancel()
	select {
	case m.appending <- struct{}{}:
		defer func() { <-m.appending }()
	case <-lctx.Done():
		return m.fail("lock", m.waitErr(ctx, "another delivery by fetchd to "+m.Path+" to finish"))
	}
	dl, err := m.lockDot(lctx, ctx)
	if err != nil {
		return err
	}
	defer dl.release()
	f, err := m.open()
	if err != nil {
		return err
	}
	defer f.Close() // after the fsync in appendSpool; also drops the fcntl lock
	if err := m.lockFcntl(lctx, ctx, f); err != nil {
		return err
	}
	if err := m.appendSpool(f, s.spool, s.size); err != nil {
		return err
	}
	s.state = stateCommitted
	os.Remove(s.spool)
	return nil
}

// Abort removes the spool file; it is a no-op after a successful Commit.
func (s *mboxStaged) Abort() error {
	if s.state != stateStaged {
		return nil
	}
	s.state = stateAborted
	if err := os.Remove(s.spool); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.m.fail("remove spool "+s.spool, bare(err))
	}
	return nil
}

// open opens the mbox for appending, creating it 0600 for the owner if it is
// missing (and fsyncing its directory, so that what Commit appends cannot
// vanish with the file's entry). O_NONBLOCK keeps a FIFO put in its place
// from hanging us; it is rejected below.
func (m *Mbox) open() (f *os.File, err error) {
	created := false
	flags := os.O_RDWR | os.O_APPEND | syscall.O_NONBLOCK
	if m.owner != nil {
		flags |= syscall.O_NOFOLLOW
	}
	for attempt := 1; ; attempt++ {
		f, err = os.OpenFile(m.Path, flags, 0)
		if errors.Is(err, fs.ErrNotExist) {
			f, err = os.OpenFile(m.Path, flags|os.O_CREATE|os.O_EXCL, 0o600)
			created = err == nil
			if errors.Is(err, fs.ErrExist) && attempt < 3 {
				continue // created meanwhile by another program
			}
		}
		break
	}
	switch {
	case errors.Is(err, syscall.ELOOP) && m.owner != nil:
		return nil, m.fail("open", errors.New("is a symbolic link, refused when delivering for another user: give the real path"))
	case err != nil:
		return nil, m.fail("open", bare(err))
	}
	if created {
		err = m.created(f)
	} else {
		err = m.checkFile(f)
	}
	if err != nil {
		f.Close()
		if created {
			os.Remove(m.Path)
		}
		return nil, err
	}
	return f, nil
}

// created gives a new mbox to the owner and fsyncs its directory.
func (m *Mbox) created(f *os.File) error {
	if err := chownFile(f, m.owner); err != nil {
		return m.fail("chown", bare(err))
	}
	dir := filepath.Dir(m.Path)
	if err := syncDir(dir); err != nil {
		return m.fail("fsync "+dir, bare(err))
	}
	return nil
}

// checkFile refuses an existing mbox that is not a regular file and, when
// delivering as root for an owner, one that is not the owner's own (a hard
// link to another user's file, or a file of someone else).
func (m *Mbox) checkFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return m.fail("stat", bare(err))
	}
	if !fi.Mode().IsRegular() {
		return m.fail("open", errNotRegular(fi.Mode()))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if m.owner == nil || !ok {
		return nil
	}
	if st.Nlink != 1 {
		return m.fail("open", fmt.Errorf("has %d hard links, refused when delivering for another user", st.Nlink))
	}
	if int(st.Uid) != m.owner.UID {
		return m.fail("open", fmt.Errorf("owned by uid %d, not by %s (uid %d): fix the owner or the path", st.Uid, m.owner.Name, m.owner.UID))
	}
	return nil
}

// appendSpool appends the spool file to the locked mbox f after the padding
// that makes the new From line start after an empty line, and fsyncs f. On
// any failure it truncates f back to its old size.
func (m *Mbox) appendSpool(f *os.File, spool string, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return m.fail("stat", bare(err))
	}
	old := fi.Size()
	pad, err := padding(f, old)
	if err != nil {
		return m.fail("read", bare(err))
	}
	sp, err := os.Open(spool)
	if err != nil {
		return m.fail("open spool", bare(err))
	}
	defer sp.Close()
	var w io.Writer = f
	if m.wrapAppend != nil {
		w = m.wrapAppend(w)
	}
	_, err = w.Write(pad)
	if err == nil {
		var n int64
		n, err = io.Copy(w, sp)
		if err == nil && n != size {
			err = fmt.Errorf("spool %s holds %d bytes, want %d", spool, n, size)
		}
	}
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", bare(err))
		}
	}
	if err == nil {
		return nil
	}
	err = bare(err)
	if terr := f.Truncate(old); terr != nil {
		err = fmt.Errorf("%w; truncating back to %d bytes failed too (%v), so the mbox ends with part of a message", err, old, bare(terr))
	} else {
		f.Sync()
	}
	return m.fail("append", err)
}

// padding returns what to write before a new message in an mbox of the given
// size so that its From line follows an empty line: nothing if the file is
// empty or ends with "\n\n", else the missing line ends.
func padding(f *os.File, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	tail := make([]byte, min(size, 2))
	if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
		return nil, err
	}
	switch {
	case string(tail) == "\n\n":
		return nil, nil
	case tail[len(tail)-1] == '\n':
		return []byte("\n"), nil
	}
	return []byte("\n\n"), nil
}
