package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"
)

// dotlock is a <mbox>.lock file we created.
type dotlock struct {
	path string
	fi   os.FileInfo // to remove it only if it is still ours
}

// lockDot creates <mbox>.lock with O_EXCL, retrying until lctx is done (see
// lockWait). It writes our pid into it, as liblockfile does, and gives it to
// the owner so that the owner's mail reader can remove it should we die
// holding it in a sticky directory. O_EXCL is atomic on local file systems
// and on NFSv3 and later.
func (m *Mbox) lockDot(lctx, ctx context.Context) (*dotlock, error) {
	path := m.Path + ".lock"
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return m.fillDot(f)
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, m.fail("lock: create "+path, bare(err))
		}
		if m.breakStale(path) {
			continue
		}
		if err := m.lockWait(lctx, ctx, attempt, func() string { return path }); err != nil {
			return nil, m.fail("lock", err)
		}
	}
}

func (m *Mbox) fillDot(f *os.File) (*dotlock, error) {
	_, err := f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if err == nil {
		err = chownFile(f, m.owner)
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, m.fail("lock: write "+f.Name(), bare(err))
	}
	return &dotlock{path: f.Name(), fi: fi}, nil
}

// breakStale removes the dot lock at path if it has not been modified for
// five minutes, as procmail does, and reports whether it did. Another
// program judging the same lock stale at the same moment could remove the
// lock we then create; the window is between its stat and its unlink, and
// needs a program to have died holding the lock first.
func (m *Mbox) breakStale(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) // gone already: try again now
	}
	if time.Since(fi.ModTime()) < staleLockAge {
		return false
	}
	return os.Remove(path) == nil
}

// release removes the dot lock if it is still the one we created. A lock we
// cannot remove is not a failed delivery (the message is in the mbox); other
// programs break it as stale after five minutes.
func (d *dotlock) release() {
	if fi, err := os.Lstat(d.path); err == nil && os.SameFile(fi, d.fi) {
		os.Remove(d.path)
	}
}

// lockFcntl takes a write lock on the whole of f with fcntl(F_SETLK),
// retrying until lctx is done. F_SETLKW cannot be given a deadline, hence
// the polling. The lock is released when f is closed.
func (m *Mbox) lockFcntl(lctx, ctx context.Context, f *os.File) error {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	for attempt := 0; ; attempt++ {
		err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
		if err == nil {
			return nil
		}
		if err != syscall.EAGAIN && err != syscall.EACCES && err != syscall.EINTR {
			return m.fail("lock: fcntl "+m.Path, err)
		}
		what := func() string { return "the fcntl lock on " + m.Path + lockHolder(f) }
		if err := m.lockWait(lctx, ctx, attempt, what); err != nil {
			return m.fail("lock", err)
		}
	}
}

// lockHolder names the process holding a conflicting fcntl lock on f, if the
// kernel says.
func lockHolder(f *os.File) string {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk) != nil || lk.Type == syscall.F_UNLCK || lk.Pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", lk.Pid)
}

// lockWait sleeps before lock attempt number attempt+1: 10ms, doubling up to
// half a second, with jitter so that two waiters do not retry in step. It
// fails when lctx is done.
func (m *Mbox) lockWait(lctx, ctx context.Context, attempt int, what func() string) error {
	d := 10 * time.Millisecond << min(attempt, 6)
	d = min(d, 500*time.Millisecond)
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-lctx.Done():
		return m.waitErr(ctx, what()+" held by another program")
	}
}

// waitErr says why waiting for what ended: the caller's ctx, or our own lock
// timeout.
func (m *Mbox) waitErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return fmt.Errorf("timed out after %v waiting for %s", m.lockTimeout, what)
}

// errNotRegular is the error for an mbox path that is not a regular file.
func errNotRegular(mode fs.FileMode) error {
	return fmt.Errorf("not a regular file (%v)", mode.Type())
}
