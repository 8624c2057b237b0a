package deliver

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// mkdir creates dir and its missing parents with mode 0700, chowning each one
// it creates to the owner, and returns the ones it created, outermost first.
func (m *Maildir) mkdir(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil, nil
	case err == nil:
		return nil, m.fail("open "+dir, syscall.ENOTDIR)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, m.fail("stat "+dir, bare(err))
	}
	var created []string
	if parent := filepath.Dir(dir); parent != dir {
		made, err := m.mkdir(parent)
		if err != nil {
			return made, err
		}
		created = made
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return created, m.fail("mkdir "+dir, bare(err))
	} else if err != nil {
		return created, nil // made meanwhile by someone else: not ours to chown
	}
	created = append(created, dir)
	if m.owner != nil {
		// Lchown, not Chown: should dir have been swapped for a symlink
		// since the mkdir, the link is chowned, never what it points to.
		if err := os.Lchown(dir, m.owner.UID, m.owner.GID); err != nil {
			return created, m.fail("chown "+dir, bare(err))
		}
	}
	return created, nil
}

// chownFile gives the open file f to owner (fchown, so a path swapped
// meanwhile cannot redirect it); a nil owner leaves it alone.
func chownFile(f *os.File, owner *Owner) error {
	if owner == nil {
		return nil
	}
	return f.Chown(owner.UID, owner.GID)
}
