package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// OversizeNote remembers that a message over max_message_size, left on the
// server, was reported to the user (log and notify_command), so that it is
// reported once rather than on every poll.
type OversizeNote struct {
	Size     int64     // octets, as the server listed it when it was reported
	Reported time.Time // when it was reported
}

// Oversize value format 1, big-endian, 17 bytes:
//
//	[0]      oversize format version (1)
//	[1:9]    size, int64, >= 0
//	[9:17]   reported, Unix nanoseconds, int64, never 0
//
// Notes live in their own bucket: a message that is never delivered has no
// record, and the record format (record.go) stays as it is.
const (
	oversizeFormat1 = 1
	oversizeLen1    = 17
)

func encodeOversize(n OversizeNote) ([]byte, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, oversizeLen1)
	b[0] = oversizeFormat1
	binary.BigEndian.PutUint64(b[1:9], uint64(n.Size))
	binary.BigEndian.PutUint64(b[9:17], uint64(n.Reported.UnixNano()))
	return b, nil
}

// decodeOversize parses a stored value. It never panics; every failure wraps
// ErrCorrupt. Callers add the account and UIDL.
func decodeOversize(b []byte) (OversizeNote, error) {
	if len(b) == 0 {
		return OversizeNote{}, fmt.Errorf("%w: empty oversize value", ErrCorrupt)
	}
	if b[0] != oversizeFormat1 {
		return OversizeNote{}, fmt.Errorf("%w: unknown oversize format %d", ErrCorrupt, b[0])
	}
	if len(b) != oversizeLen1 {
		return OversizeNote{}, fmt.Errorf("%w: format %d oversize note is %d bytes, want %d", ErrCorrupt, b[0], len(b), oversizeLen1)
	}
	n := OversizeNote{
		Size:     int64(binary.BigEndian.Uint64(b[1:9])),
		Reported: nanosToTime(int64(binary.BigEndian.Uint64(b[9:17]))),
	}
	if err := n.validate(); err != nil {
		return OversizeNote{}, fmt.Errorf("%w: oversize: %v", ErrCorrupt, err)
	}
	return n, nil
}

func (n OversizeNote) validate() error {
	switch {
	case n.Size < 0:
		return fmt.Errorf("negative size %d", n.Size)
	case n.Reported.IsZero():
		return errors.New("zero report time")
	}
	return checkTime(n.Reported)
}

// Oversize returns the account's oversize notes by UIDL: an empty map if it
// has none. A note that cannot be decoded is an error naming its UIDL.
func (s *Store) Oversize(key AccountKey) (map[string]OversizeNote, error) {
	notes := map[string]OversizeNote{}
	err := s.view("oversize", key, func(tx *bbolt.Tx) error {
		acct, err := account(tx, key)
		if err != nil || acct == nil {
			return err
		}
		b := acct.Bucket(bucketOversize)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			n, err := decodeOversize(v)
			if err != nil {
				return fmt.Errorf("uidl %q: %w", k, err)
			}
			notes[string(k)] = n
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return notes, nil
}

// NoteOversize records, in one committed transaction, that the message uidl
// was reported as over max_message_size; a note already there is replaced.
func (s *Store) NoteOversize(key AccountKey, uidl string, n OversizeNote) error {
	if err := checkUIDL(uidl); err != nil {
		return s.wrap("note oversize", key, err)
	}
	v, err := encodeOversize(n)
	if err != nil {
		return s.wrap("note oversize", key, fmt.Errorf("uidl %q: %w", uidl, err))
	}
	return s.update("note oversize", key, func(tx *bbolt.Tx) error {
		return putUIDL(tx, key, bucketOversize, uidl, v)
	})
}

// ClearOversize deletes the oversize notes of uidls in one commit: for
// messages the server no longer lists, or that were delivered after all.
// UIDLs without a note are ignored.
func (s *Store) ClearOversize(key AccountKey, uidls []string) error {
	if len(uidls) == 0 {
		return nil
	}
	return s.update("clear oversize", key, func(tx *bbolt.Tx) error {
		b, err := accountBucket(tx, key, bucketOversize)
		if err != nil || b == nil {
			return err
		}
		return deleteUIDLs(b, uidls)
	})
}
