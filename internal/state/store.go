package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultLockTimeout is how long Open waits for the file lock when it is given
// a timeout <= 0. bbolt would wait forever, and a `fetchd once` hanging behind a
// running daemon is worse than a clear error.
const DefaultLockTimeout = 2 * time.Second

// ErrLocked is wrapped by the error Open returns when another fetchd (or another
// Open in this process) holds the database.
var ErrLocked = errors.New("state store is locked")

// Store is an open state database. Its methods are safe for concurrent use.
type Store struct {
	db      *bbolt.DB
	path    string
	created time.Time // meta created; zero if the store does not say
	fresh   bool      // this Open initialised the store (or OpenOrRecover replaced it)
}

// Open opens the state store at path, creating the file (mode 0600) and its
// parent directory (0700) if needed. It waits up to timeout for the file lock
// and then fails with an error wrapping ErrLocked. It checks the whole file
// (bbolt's tx.Check and a walk of every page; ~0.1 s per 100k messages),
// initialises a new store, migrates an older schema in one transaction, and
// refuses a file that is not a state store (ErrNotStateStore), is damaged
// (ErrDamaged) or was written by a newer fetchd (ErrNewerSchema).
// OpenOrRecover moves a damaged store aside instead.
func Open(path string, timeout time.Duration) (*Store, error) {
	s, _, err := open(path, timeout)
	return s, err
}

// open is Open; on failure it also returns what it knows of the file it
// judged (nil if it never opened one), so OpenOrRecover moves only that file.
func open(path string, timeout time.Duration) (_ *Store, judged os.FileInfo, _ error) {
	if path == "" {
		return nil, nil, errors.New("open state store: empty path")
	}
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("open state store %s: %w", path, err)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)

	// Durability depends on bbolt's defaults: every commit fsyncs. Never set
	// NoSync, NoGrowSync or NoFreelistSync here.
	var file *os.File
	opts := &bbolt.Options{Timeout: timeout, OpenFile: func(name string, flag int, perm fs.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err == nil {
			file = f
			judged, _ = f.Stat()
		}
		return f, err
	}}
	var db *bbolt.DB
	err := protect(func() (err error) {
		db, err = bbolt.Open(path, 0o600, opts)
		return err
	})
	if db == nil && errors.Is(err, ErrDamaged) && file != nil {
		// bbolt panicked after it locked the file, and its memory map (which we
		// cannot unmap) keeps the open file, and so its lock, alive.
		unlockFile(file)
		file.Close()
	}
	if err != nil {
		return nil, judged, openError(path, err)
	}
	if created {
		// The new file's pages are fsynced by bbolt; make its name durable too.
		if err := syncDir(dir); err != nil {
			db.Close()
			return nil, judged, fmt.Errorf("open state store %s: %w", path, err)
		}
	}
	s := &Store{db: db, path: path}
	err = protect(func() error {
		if err := s.verify(file); err != nil {
			return err
		}
		return s.prepareSchema(time.Now())
	})
	if err != nil {
		db.Close()
		return nil, judged, fmt.Errorf("open state store %s: %w", path, err)
	}
	return s, nil, nil
}

// openError says why bbolt could not open the file at path.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("state store %s is in use by another fetchd (a running daemon?); "+
			"stop it or use another state file: %w", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("open state store %s: %w (the file is not a bbolt database or is damaged: %w)", path, ErrNotStateStore, err)
	case errors.Is(err, berrors.ErrInvalidMapping), strings.Contains(err.Error(), "file size too small"):
		// QUIRK: bbolt has no sentinel for a file cut below two pages.
		return fmt.Errorf("open state store %s: %w: %w", path, ErrDamaged, err)
	}
	return fmt.Errorf("open state store %s: %w", path, err)
}

// prepareSchema checks the schema version and, only when needed, initialises
// or migrates the store, so opening a current store writes nothing. It reads
// the creation time.
func (s *Store) prepareSchema(now time.Time) error {
	var version uint32
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		version, s.fresh, err = readSchema(tx)
		return err
	})
	if err == nil && (s.fresh || version != schemaVersion) {
		// We hold the file lock and nobody else has s yet: the version read
		// above is still current.
		err = s.db.Update(func(tx *bbolt.Tx) error {
			if s.fresh {
				return initSchema(tx, now)
			}
			return migrate(tx, version, schemaVersion, migrations)
		})
	}
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		s.created = readCreated(tx)
		return nil
	})
}

// readCreated returns the store's creation time, or the zero time if the
// meta bucket does not record it.
func readCreated(tx *bbolt.Tx) time.Time {
	if v := tx.Bucket(bucketMeta).Get(keyCreated); len(v) == 8 {
		return time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	}
	return time.Time{}
}

// Created returns when the store was created, or the zero time if it does not
// record it. A store much younger than the mail on the server means fetchd
// lost its memory: every message would look new.
func (s *Store) Created() time.Time { return s.created }

// IsFresh reports whether this store started empty when it was opened: Open
// created the file (or found it empty), or OpenOrRecover replaced a damaged
// one. The fetcher should then not take every listed message for new mail.
func (s *Store) IsFresh() bool { return s.fresh }

// Close closes the database and releases its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// view and update run fn for one account, with errors wrapped in the operation,
// the account and the path.
func (s *Store) view(op string, key AccountKey, fn func(tx *bbolt.Tx) error) error {
	if err := key.validate(); err != nil {
		return s.wrap(op, key, err)
	}
	return s.wrap(op, key, s.db.View(fn))
}

func (s *Store) update(op string, key AccountKey, fn func(tx *bbolt.Tx) error) error {
	if err := key.validate(); err != nil {
		return s.wrap(op, key, err)
	}
	return s.wrap(op, key, s.db.Update(fn))
}

func (s *Store) wrap(op string, key AccountKey, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("state store %s: %s %s: %w", s.path, op, key, err)
}

// accountsBucket returns the top-level accounts bucket, which every store has.
func accountsBucket(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	b := tx.Bucket(bucketAccounts)
	if b == nil {
		return nil, fmt.Errorf("%w: accounts bucket missing", ErrNotStateStore)
	}
	return b, nil
}

// account returns the account's bucket, or nil if the store has never seen it.
func account(tx *bbolt.Tx, key AccountKey) (*bbolt.Bucket, error) {
	accts, err := accountsBucket(tx)
	if err != nil {
		return nil, err
	}
	return accts.Bucket([]byte(key.String())), nil
}

// ensureAccount returns the account's bucket with its sub-buckets, creating
// them as needed; tx must be writable.
func ensureAccount(tx *bbolt.Tx, key AccountKey) (*bbolt.Bucket, error) {
	accts, err := accountsBucket(tx)
	if err != nil {
		return nil, err
	}
	b, err := accts.CreateBucketIfNotExists([]byte(key.String()))
	if err != nil {
		return nil, err
	}
	for _, name := range [][]byte{bucketUIDLs, bucketPolls} {
		if _, err := b.CreateBucketIfNotExists(name); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// syncDir fsyncs a directory so that a file created in it survives a crash.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync there; NTFS journals names
	}
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
