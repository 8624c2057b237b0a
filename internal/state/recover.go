package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// OpenOrRecover is Open, except that a file that is not a usable state store
// is moved aside and replaced by a new, empty store (IsFresh reports true): a
// file that is not a bbolt database or fails bbolt's checks, one bbolt
// panics on, and a bbolt file without fetchd's meta (ErrNotStateStore,
// ErrDamaged). It returns the path the file was moved to, path +
// ".corrupt-" + a UTC timestamp, so that the caller can log a loud error: the
// store forgot what was delivered. The file is renamed, never deleted, and
// the directory is fsynced.
//
// A locked store (ErrLocked), a newer schema (ErrNewerSchema), a permission
// or other I/O error is the user's to fix and is returned as is, with nothing
// moved. If the new store cannot be opened, movedAside is still set.
func OpenOrRecover(path string, timeout time.Duration) (store *Store, movedAside string, err error) {
	s, judged, err := open(path, timeout)
	if err == nil || !(errors.Is(err, ErrNotStateStore) || errors.Is(err, ErrDamaged)) {
		return s, "", err
	}
	openErr := err
	// Move only the file that was judged: if another fetchd replaced it since
	// (it recovered first), open what is there now instead.
	cur, err := os.Lstat(path)
	if judged == nil || err != nil || !os.SameFile(judged, cur) {
		s, _, err := open(path, timeout)
		return s, "", err
	}
	movedAside, err = moveAside(path, time.Now())
	if err != nil {
		return nil, movedAside, fmt.Errorf("%w; moving it aside failed: %w", openErr, err)
	}
	s, _, err = open(path, timeout)
	if err != nil {
		return nil, movedAside, fmt.Errorf("state store %s was moved to %s (%v), but a new one cannot be opened: %w",
			path, movedAside, openErr, err)
	}
	s.fresh = true
	return s, movedAside, nil
}

// moveAside renames path to path.corrupt-TIMESTAMP (with -2, -3… if that is
// taken: rename would replace it) and makes the rename durable.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	to := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return "", err
		}
		to = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(path, to); err != nil {
		return "", err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return to, fmt.Errorf("moved to %s, but: %w", to, err)
	}
	return to, nil
}
