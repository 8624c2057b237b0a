package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"
)

// absence is how long a record's UIDL has been missing from the server's
// listing: since the first poll that lacked it, and for how many polls.
type absence struct {
	Since time.Time
	Polls uint32
}

// Absence value format 1, big-endian, 13 bytes:
//
//	[0]      absence format version (1)
//	[1:9]    absent since, Unix nanoseconds, int64, never 0
//	[9:13]   polls absent, uint32, >= 1
//
// It lives in its own bucket so that the record format (record.go) did not
// change with schema version 3.
const (
	absenceFormat1 = 1
	absenceLen1    = 13
)

func encodeAbsence(a absence) ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, absenceLen1)
	b[0] = absenceFormat1
	binary.BigEndian.PutUint64(b[1:9], uint64(a.Since.UnixNano()))
	binary.BigEndian.PutUint32(b[9:13], a.Polls)
	return b, nil
}

// decodeAbsence parses a stored value. It never panics; every failure wraps
// ErrCorrupt. Callers add the account and UIDL.
func decodeAbsence(b []byte) (absence, error) {
	if len(b) == 0 {
		return absence{}, fmt.Errorf("%w: empty absence value", ErrCorrupt)
	}
	if b[0] != absenceFormat1 {
		return absence{}, fmt.Errorf("%w: unknown absence format %d", ErrCorrupt, b[0])
	}
	if len(b) != absenceLen1 {
		return absence{}, fmt.Errorf("%w: format %d absence is %d bytes, want %d", ErrCorrupt, b[0], len(b), absenceLen1)
	}
	a := absence{
		Since: nanosToTime(int64(binary.BigEndian.Uint64(b[1:9]))),
		Polls: binary.BigEndian.Uint32(b[9:13]),
	}
	if err := a.validate(); err != nil {
		return absence{}, fmt.Errorf("%w: absence: %v", ErrCorrupt, err)
	}
	return a, nil
}

func (a absence) validate() error {
	switch {
	case a.Since.IsZero():
		return errors.New("zero absent-since time")
	case a.Polls == 0:
		return errors.New("absent for 0 polls")
	}
	return checkTime(a.Since)
}

// NoteListing records, in one committed transaction, that the server's
// listing of the account is listed (every UIDL it lists now), and prunes
// records that have been missing for long enough. For each stored record
// (delivered or deleted) whose UIDL is not listed, the polls it has been
// absent go up by one and the time it went missing is set if unset; once it
// has been absent for at least minPolls polls AND for at least minAge, the
// record is deleted, unless the UIDL has a Progress entry. A listed UIDL is no
// longer absent. It returns how many records it pruned. An account the store
// has never seen is left alone.
//
// Both conditions matter: a server such as Gmail lists only a window of the
// newest messages, and a record pruned while its message is still in the
// mailbox means downloading it again if it ever reappears in the window.
//
// The stored poll count stops at minPolls (it only has to reach it), so in the
// steady state, with most records long unlisted, a poll writes only what
// changed instead of rewriting every absence entry.
func (s *Store) NoteListing(key AccountKey, listed []string, now time.Time, minPolls int, minAge time.Duration) (pruned int, err error) {
	switch {
	case now.IsZero():
		return 0, s.wrap("note listing", key, errors.New("zero time"))
	case minPolls < 0 || minAge < 0:
		return 0, s.wrap("note listing", key, fmt.Errorf("negative minimum: %d polls, %v", minPolls, minAge))
	}
	maxStored := uint32(min(max(minPolls, 1), math.MaxUint32))
	inListing := make(map[string]struct{}, len(listed))
	for _, uidl := range listed {
		inListing[uidl] = struct{}{}
	}
	err = s.update("note listing", key, func(tx *bbolt.Tx) error {
		acct, err := account(tx, key)
		if err != nil || acct == nil {
			return err
		}
		uidls := acct.Bucket(bucketUIDLs)
		if uidls == nil {
			return nil
		}
		absent, err := acct.CreateBucketIfNotExists(bucketAbsent)
		if err != nil {
			return err
		}
		progress := acct.Bucket(bucketProgress)
		// Plan in one merged pass over the two buckets, both sorted by UIDL;
		// then write (changing a bucket under its cursor skips keys).
		var puts [][2][]byte
		var clear, prune [][]byte
		ac := absent.Cursor()
		ak, av := ac.First()
		rc := uidls.Cursor()
		for rk, _ := rc.First(); rk != nil; rk, _ = rc.Next() {
			for ak != nil && bytes.Compare(ak, rk) < 0 {
				clear = append(clear, ak) // an orphan: its record is gone
				ak, av = ac.Next()
			}
			var a absence
			if ak != nil && bytes.Equal(ak, rk) {
				if a, err = decodeAbsence(av); err != nil {
					return fmt.Errorf("uidl %q: %w", rk, err)
				}
				ak, av = ac.Next()
			}
			if _, ok := inListing[string(rk)]; ok {
				if a.Polls != 0 {
					clear = append(clear, rk)
				}
				continue
			}
			if a.Polls == 0 {
				a.Since = now
			}
			if int64(a.Polls)+1 >= int64(minPolls) && now.Sub(a.Since) >= minAge &&
				(progress == nil || progress.Get(rk) == nil) {
				prune = append(prune, rk)
				continue
			}
			if a.Polls < maxStored {
				a.Polls++
				v, err := encodeAbsence(a)
				if err != nil {
					return fmt.Errorf("uidl %q: %w", rk, err)
				}
				puts = append(puts, [2][]byte{rk, v})
			}
		}
		for ; ak != nil; ak, _ = ac.Next() {
			clear = append(clear, ak)
		}
		pruned = len(prune)
		return applyListing(uidls, absent, puts, clear, prune)
	})
	if err != nil {
		return 0, err
	}
	return pruned, nil
}

// applyListing writes what NoteListing planned. Keys from a cursor stay valid
// for the transaction, but must be copied before the pages under them change.
func applyListing(uidls, absent *bbolt.Bucket, puts [][2][]byte, clear, prune [][]byte) error {
	// The puts come in key order, and an entry never grows: full pages halve
	// the pages written when many records go missing at once.
	absent.FillPercent = 1.0
	for _, kv := range puts {
		if err := absent.Put(bytes.Clone(kv[0]), kv[1]); err != nil {
			return fmt.Errorf("uidl %q: %w", kv[0], err)
		}
	}
	for _, k := range append(clear, prune...) {
		if err := absent.Delete(bytes.Clone(k)); err != nil {
			return fmt.Errorf("uidl %q: %w", k, err)
		}
	}
	for _, k := range prune {
		if err := uidls.Delete(bytes.Clone(k)); err != nil {
			return fmt.Errorf("uidl %q: %w", k, err)
		}
	}
	return nil
}
