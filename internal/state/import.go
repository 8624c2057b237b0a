package state

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Imported is one message another program (fetchmail, mpop, getmail)
// recorded as fetched, for ImportSeen.
type Imported struct {
	UIDL string
	// At is when the other program fetched it; zero when it does not
	// record that (fetchmail, mpop).
	At time.Time
}

// ImportSeen records uidls as delivered, in one committed transaction, so
// that the account's next poll does not fetch them: what a user switching
// from another program wants for the mail it left on the server.
//
// A UIDL the store already knows, as a record or as a delivery in progress,
// is counted in known and left alone: fetchd's own records are better than
// another program's word. A new record gets state Delivered, Size 0 (the
// other programs record no sizes: 0 is what mayDelete in internal/fetch reads as unknown)
// and Delivered = At, or now where At is zero, later than now or outside
// what a record can hold, so that a delete_after period starts at the other
// program's fetch when it recorded one. A UIDL listed twice counts once,
// with its earliest time. Importing the same list again adds nothing.
//
// A UIDL that is empty or longer than MaxUIDLLen is an error, and nothing is
// written.
func (s *Store) ImportSeen(key AccountKey, uidls []Imported, now time.Time) (added, known int, err error) {
	return s.importSeen(key, uidls, now, true)
}

// PreviewImport counts what ImportSeen would add and what the store
// already knows, writing nothing (`fetchd import-state --dry-run`).
func (s *Store) PreviewImport(key AccountKey, uidls []Imported) (added, known int, err error) {
	return s.importSeen(key, uidls, time.Now(), false)
}

func (s *Store) importSeen(key AccountKey, uidls []Imported, now time.Time, write bool) (added, known int, err error) {
	if now.IsZero() {
		return 0, 0, s.wrap("import", key, fmt.Errorf("zero import time"))
	}
	recs, err := importRecords(uidls, now)
	if err != nil {
		return 0, 0, s.wrap("import", key, err)
	}
	fn := func(tx *bbolt.Tx) error {
		var acct *bbolt.Bucket
		var err error
		if write {
			acct, err = ensureAccount(tx, key)
		} else {
			acct, err = account(tx, key)
		}
		if err != nil {
			return err
		}
		var uidlB, progress *bbolt.Bucket
		if acct != nil {
			uidlB, progress = acct.Bucket(bucketUIDLs), acct.Bucket(bucketProgress)
		}
		for _, r := range recs {
			k := []byte(r.uidl)
			if (uidlB != nil && uidlB.Get(k) != nil) || (progress != nil && progress.Get(k) != nil) {
				known++
				continue
			}
			added++
			if !write {
				continue
			}
			v, err := encodeRecord(Record{State: Delivered, Delivered: r.at})
			if err != nil {
				return fmt.Errorf("uidl %q: %w", r.uidl, err)
			}
			if err := uidlB.Put(k, v); err != nil {
				return fmt.Errorf("uidl %q: %w", r.uidl, err)
			}
		}
		return nil
	}
	if write {
		err = s.update("import", key, fn)
	} else {
		err = s.view("preview import", key, fn)
	}
	if err != nil {
		return 0, 0, err
	}
	return added, known, nil
}

type importRecord struct {
	uidl string
	at   time.Time
}

// importRecords checks and de-duplicates uidls, sorted by UIDL: bbolt
// writes sorted keys into pages it has just filled instead of splitting
// older ones.
func importRecords(uidls []Imported, now time.Time) ([]importRecord, error) {
	recs := make([]importRecord, 0, len(uidls))
	for _, u := range uidls {
		if err := checkUIDL(u.UIDL); err != nil {
			return nil, err
		}
		at := u.At
		if at.IsZero() || at.After(now) || checkTime(at) != nil {
			at = now
		}
		recs = append(recs, importRecord{u.UIDL, at})
	}
	slices.SortFunc(recs, func(a, b importRecord) int {
		if c := strings.Compare(a.uidl, b.uidl); c != 0 {
			return c
		}
		return a.at.Compare(b.at)
	})
	// Sorted by time within a UIDL: the first of each run is the earliest.
	return slices.CompactFunc(recs, func(a, b importRecord) bool { return a.uidl == b.uidl }), nil
}
