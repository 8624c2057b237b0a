package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"go.etcd.io/bbolt"
)

// ErrNoStore is wrapped by the error OpenReadOnly returns for a file that
// does not exist or is empty: there is nothing to read, and a read-only
// Open may not create it.
var ErrNoStore = errors.New("no state store")

// OpenReadOnly opens an existing state store for reading only, as
// `fetchd once --dry-run` does. bbolt opens the file read-only (O_RDONLY)
// under a shared lock, so no method of this Store can change the file:
// every write fails with bbolt's ErrDatabaseReadOnly. It checks the file as
// Open does, but neither creates, initialises nor migrates it: a store of an
// older schema version is read as it is (each migration so far writes
// nothing but the version; absent buckets read as empty), one of a newer
// version is refused (ErrNewerSchema). A missing or empty file is an error
// wrapping ErrNoStore. Another Open of the file waits for the lock, as with
// Open; other read-only opens share it.
func OpenReadOnly(path string, timeout time.Duration) (*Store, error) {
	if path == "" {
		return nil, errors.New("open state store: empty path")
	}
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open state store %s read-only: %w: %w", path, ErrNoStore, err)
	case err != nil:
		return nil, fmt.Errorf("open state store %s read-only: %w", path, err)
	case fi.Size() == 0:
		// bbolt would initialise an empty file, which it cannot read-only.
		return nil, fmt.Errorf("open state store %s read-only: %w: the file is empty", path, ErrNoStore)
	}
	var file *os.File
	opts := &bbolt.Options{ReadOnly: true, Timeout: timeout, OpenFile: func(name string, flag int, perm fs.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err == nil {
			file = f
		}
		return f, err
	}}
	var db *bbolt.DB
	err = protect(func() (err error) {
		db, err = bbolt.Open(path, 0o600, opts)
		return err
	})
	if db == nil && errors.Is(err, ErrDamaged) && file != nil {
		unlockFile(file) // as in open: bbolt's map keeps the file alive
		file.Close()
	}
	if err != nil {
		return nil, openError(path, err)
	}
	s := &Store{db: db, path: path}
	err = protect(func() error {
		if err := s.verify(file); err != nil {
			return err
		}
		return s.db.View(func(tx *bbolt.Tx) error {
			_, fresh, err := readSchema(tx)
			if fresh {
				return fmt.Errorf("%w: the file holds no buckets", ErrNoStore)
			}
			if err != nil {
				return err
			}
			s.created = readCreated(tx)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open state store %s read-only: %w", path, err)
	}
	return s, nil
}

// Snapshot writes a consistent copy of the store to path (a new file, mode
// 0600), in one read transaction: a dry run reads the copy, so that it holds
// the store's lock only while copying, not for its network sessions.
func (s *Store) Snapshot(path string) error {
	err := s.db.View(func(tx *bbolt.Tx) error { return tx.CopyFile(path, 0o600) })
	if err != nil {
		return fmt.Errorf("copy state store %s to %s: %w", s.path, path, err)
	}
	return nil
}
