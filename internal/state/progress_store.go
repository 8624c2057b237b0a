package state

import (
	"fmt"

	"go.etcd.io/bbolt"
)

// progressBucket returns the account's progress bucket, or nil if the account
// has none (it is created by the first SetProgress).
func progressBucket(tx *bbolt.Tx, key AccountKey) (*bbolt.Bucket, error) {
	return accountBucket(tx, key, bucketProgress)
}

// accountBucket returns the account's bucket of that name; nil (and no
// error) when the account or the bucket does not exist yet.
func accountBucket(tx *bbolt.Tx, key AccountKey, name []byte) (*bbolt.Bucket, error) {
	acct, err := account(tx, key)
	if err != nil || acct == nil {
		return nil, err
	}
	return acct.Bucket(name), nil
}

// putUIDL stores v under uidl in the account's bucket of that name,
// creating the account and the bucket as needed.
func putUIDL(tx *bbolt.Tx, key AccountKey, name []byte, uidl string, v []byte) error {
	acct, err := ensureAccount(tx, key)
	if err != nil {
		return err
	}
	b, err := acct.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	return b.Put([]byte(uidl), v)
}

// forEachProgress decodes every progress entry of the bucket. A value that
// cannot be decoded is an error naming its UIDL, never skipped: a skipped
// entry would deliver again to targets that already accepted.
func forEachProgress(b *bbolt.Bucket, fn func(uidl string, p Progress) error) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		p, err := decodeProgress(v)
		if err != nil {
			return fmt.Errorf("uidl %q: %w", k, err)
		}
		return fn(string(k), p)
	})
}

// Progress returns the account's progress entries by UIDL: an empty map if
// it has none. A corrupt entry is an error wrapping ErrCorrupt and naming the
// account and the UIDL.
func (s *Store) Progress(key AccountKey) (map[string]Progress, error) {
	all := map[string]Progress{}
	err := s.view("progress", key, func(tx *bbolt.Tx) error {
		b, err := progressBucket(tx, key)
		if err != nil {
			return err
		}
		return forEachProgress(b, func(uidl string, p Progress) error {
			all[uidl] = p
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// SetProgress replaces the progress entry of uidl in one committed, fsynced
// transaction. Call it as soon as a target accepts, before the next target
// starts: a retry skips every target in p.Done. p.Reason is stored cut to
// MaxReasonLen bytes; target ids and Spool must be valid UTF-8, and Failed
// needs FailedAt.
func (s *Store) SetProgress(key AccountKey, uidl string, p Progress) error {
	if err := checkUIDL(uidl); err != nil {
		return s.wrap("set progress", key, err)
	}
	v, err := encodeProgress(p)
	if err != nil {
		return s.wrap("set progress", key, fmt.Errorf("uidl %q: %w", uidl, err))
	}
	return s.update("set progress", key, func(tx *bbolt.Tx) error {
		return putUIDL(tx, key, bucketProgress, uidl, v)
	})
}

// ClearProgress deletes the progress entries of uidls in one commit, e.g. for
// messages the server no longer lists. UIDLs without an entry are ignored. The
// caller removes the spool files first: their paths are gone afterwards.
func (s *Store) ClearProgress(key AccountKey, uidls []string) error {
	if len(uidls) == 0 {
		return nil
	}
	return s.update("clear progress", key, func(tx *bbolt.Tx) error {
		b, err := progressBucket(tx, key)
		if err != nil || b == nil {
			return err
		}
		return deleteUIDLs(b, uidls)
	})
}

// deleteUIDLs deletes the entries of uidls from b; missing ones are ignored.
func deleteUIDLs(b *bbolt.Bucket, uidls []string) error {
	for _, uidl := range uidls {
		if uidl == "" {
			continue
		}
		if err := b.Delete([]byte(uidl)); err != nil {
			return fmt.Errorf("uidl %q: %w", uidl, err)
		}
	}
	return nil
}

// ResetFailed is `fetchd retry`: it sets Failed to false on every entry of the
// account, in one commit, and returns how many were failed. Everything else
// (Done, Reason, FailedAt, Attempts, Quarantined) is kept, so targets that
// accepted are still skipped and a message is quarantined at most once.
func (s *Store) ResetFailed(key AccountKey) (n int, err error) {
	err = s.update("reset failed", key, func(tx *bbolt.Tx) error {
		b, err := progressBucket(tx, key)
		if err != nil || b == nil {
			return err
		}
		// Collect first: bbolt forbids changing a bucket inside its ForEach.
		reset := map[string][]byte{}
		err = forEachProgress(b, func(uidl string, p Progress) error {
			if !p.Failed {
				return nil
			}
			p.Failed = false
			v, err := encodeProgress(p)
			if err != nil {
				return fmt.Errorf("uidl %q: %w", uidl, err)
			}
			reset[uidl] = v
			return nil
		})
		if err != nil {
			return err
		}
		for uidl, v := range reset {
			if err := b.Put([]byte(uidl), v); err != nil {
				return fmt.Errorf("uidl %q: %w", uidl, err)
			}
		}
		n = len(reset)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// FailedCount returns how many of the account's messages are held after a
// permanent failure, for status output.
func (s *Store) FailedCount(key AccountKey) (int, error) {
	n := 0
	err := s.view("failed count", key, func(tx *bbolt.Tx) error {
		b, err := progressBucket(tx, key)
		if err != nil {
			return err
		}
		return forEachProgress(b, func(_ string, p Progress) error {
			if p.Failed {
				n++
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// SetProgressBatch replaces the progress entries of several messages in one
// committed, fsynced transaction: the intent records of a batch of maildir
// deliveries cost one commit. Each entry is checked as SetProgress checks
// it; if one is invalid, nothing is written.
func (s *Store) SetProgressBatch(key AccountKey, progress map[string]Progress) error {
	return s.RecordBatch(key, nil, progress)
}

// RecordBatch is MarkDeliveredBatch(key, delivered) and
// SetProgressBatch(key, progress) in one committed, fsynced transaction: a
// pipeline of batches records one batch as delivered and the intent of the
// next in a single commit. A UIDL may not be in both. If one entry is
// invalid, nothing is written.
func (s *Store) RecordBatch(key AccountKey, delivered map[string]Record, progress map[string]Progress) error {
	if len(delivered) == 0 && len(progress) == 0 {
		return nil
	}
	enc := make(map[string][]byte, len(progress))
	for uidl, p := range progress {
		if err := checkUIDL(uidl); err != nil {
			return s.wrap("set progress", key, err)
		}
		if _, both := delivered[uidl]; both {
			return s.wrap("set progress", key, fmt.Errorf("uidl %q: both delivered and in progress", uidl))
		}
		v, err := encodeProgress(p)
		if err != nil {
			return s.wrap("set progress", key, fmt.Errorf("uidl %q: %w", uidl, err))
		}
		enc[uidl] = v
	}
	recs := make(map[string][]byte, len(delivered))
	for uidl, r := range delivered {
		if err := checkUIDL(uidl); err != nil {
			return s.wrap("mark delivered", key, err)
		}
		v, err := encodeRecord(r)
		if err != nil {
			return s.wrap("mark delivered", key, fmt.Errorf("uidl %q: %w", uidl, err))
		}
		recs[uidl] = v
	}
	return s.update("record batch", key, func(tx *bbolt.Tx) error {
		acct, err := ensureAccount(tx, key)
		if err != nil {
			return err
		}
		b, err := acct.CreateBucketIfNotExists(bucketProgress)
		if err != nil {
			return err
		}
		uidls := acct.Bucket(bucketUIDLs)
		for uidl, v := range recs {
			if err := uidls.Put([]byte(uidl), v); err != nil {
				return fmt.Errorf("uidl %q: %w", uidl, err)
			}
			if err := b.Delete([]byte(uidl)); err != nil {
				return fmt.Errorf("uidl %q: %w", uidl, err)
			}
		}
		for uidl, v := range enc {
			if err := b.Put([]byte(uidl), v); err != nil {
				return fmt.Errorf("uidl %q: %w", uidl, err)
			}
		}
		return nil
	})
}
