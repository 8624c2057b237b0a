package deliver

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"fetchd/internal/crashpoint"
)

type stagedState int

const (
	stateStaged    stagedState = iota // in tmp/ only
	stateLinked                       // visible in new/, directory not yet fsynced by Commit
	stateCommitted                    // Commit returned nil
	stateAborted
)

var errAborted = errors.New("message was aborted")

// maildirStaged is a message in tmp/. It is not safe for concurrent use.
type maildirStaged struct {
	m    *Maildir
	file *os.File // open until SyncFile, after StageUnsynced
	// syncErr: SyncFile failed; the file must never be linked.
	syncErr error
	tmp     string
	final   string
	size    int64
	state   stagedState
}

var _ MaildirStaged = (*maildirStaged)(nil)

func (s *maildirStaged) TmpPath() string   { return s.tmp }
func (s *maildirStaged) FinalPath() string { return s.final }

// Commit links the message into new/ and fsyncs new/. A cancelled ctx stops
// it only before the link; once the message is visible Commit finishes.
func (s *maildirStaged) Commit(ctx context.Context) error {
	switch s.state {
	case stateCommitted:
		return nil
	case stateStaged:
		if err := ctx.Err(); err != nil {
			return s.m.fail("commit "+s.rel(s.tmp), err)
		}
	}
	if err := s.Link(); err != nil {
		return err
	}
	crashpoint.Hit(ctx, "maildir.linked") // Link takes no ctx: the tmp/ name is already unlinked here, not fsynced
	if err := s.m.SyncDir(); err != nil {
		return err
	}
	crashpoint.Hit(ctx, "maildir.dirsynced")
	s.state = stateCommitted
	return nil
}

// SyncFile fsyncs and closes the tmp/ file left open by StageUnsynced.
func (s *maildirStaged) SyncFile(ctx context.Context) error {
	if s.state == stateAborted {
		return s.m.fail("fsync "+s.rel(s.tmp), errAborted)
	}
	if s.syncErr != nil {
		return s.syncErr
	}
	if s.file == nil {
		return nil
	}
	f := s.file
	err := s.m.syncFile(ctx, f, s.rel(s.tmp))
	if cerr := f.Close(); err == nil && cerr != nil {
		// On NFS a write error may show only at close.
		err = s.m.fail("close "+s.rel(s.tmp), bare(cerr))
	}
	s.file, s.syncErr = nil, err
	return err
}

func (s *maildirStaged) Link() error {
	switch s.state {
	case stateLinked, stateCommitted:
		return nil
	case stateAborted:
		return s.m.fail("link "+s.rel(s.tmp), errAborted)
	}
	if err := s.SyncFile(context.Background()); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		// link(2), never rename(2): link fails with EEXIST where rename
		// would silently replace a message already in new/.
		err := os.Link(s.tmp, s.final)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || attempt == maxNameAttempts {
			return s.m.fail("link "+s.rel(s.tmp)+" "+s.rel(s.final), bare(err))
		}
		s.final = s.m.newPath(s.m.uniqueName(), s.size)
	}
	s.state = stateLinked
	// A crash between the link above and this unlink leaves the message
	// under both names. That is the duplicate-safe side: the copy in new/ is
	// the delivery, and the one in tmp/ is removed by tmp/ cleanup later
	// (the maildir spec lets readers delete tmp/ files older than 36 hours).
	// For the same reason a failed unlink is not a failed delivery:
	// reporting it would leave the message on the server and deliver it
	// twice.
	_ = os.Remove(s.tmp)
	return nil
}

// Abort removes the tmp/ file. Once the message has been linked into new/ it
// belongs to the user (a mail reader may already have seen or moved it), so
// Abort leaves it there even if the directory fsync failed: the worst case is
// that the retried message arrives twice.
func (s *maildirStaged) Abort() error {
	if s.state != stateStaged {
		return nil
	}
	s.state = stateAborted
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	if err := os.Remove(s.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.m.fail("remove "+s.rel(s.tmp), bare(err))
	}
	return nil
}

// rel names p relative to the maildir, for error messages.
func (s *maildirStaged) rel(p string) string {
	if r, err := filepath.Rel(s.m.Path, p); err == nil {
		return r
	}
	return p
}
