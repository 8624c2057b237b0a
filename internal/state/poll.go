package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// maxPolls is how many polls RecordPoll keeps per account.
const maxPolls = 100

// Poll is the outcome of one poll of one account. It is stored as JSON with the
// tags below; renaming a Go field must not change them.
type Poll struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Fetched int       `json:"fetched"`
	Deleted int       `json:"deleted"`
	Failed  int       `json:"failed"`
	Err     string    `json:"err,omitempty"` // why the poll failed; empty if it did not
	// Pipelining: the server announced PIPELINING (RFC 2449) in this poll,
	// so the next one may pipeline its first commands.
	Pipelining bool `json:"pipelining,omitempty"`
}

// RecordPoll appends p to the account's poll history and drops all but the
// newest maxPolls entries.
func (s *Store) RecordPoll(key AccountKey, p Poll) error {
	v, err := json.Marshal(p)
	if err != nil {
		return s.wrap("record poll", key, err)
	}
	return s.update("record poll", key, func(tx *bbolt.Tx) error {
		acct, err := ensureAccount(tx, key)
		if err != nil {
			return err
		}
		b := acct.Bucket(bucketPolls)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
		// Collect first: deleting under a bbolt cursor while moving it skips keys.
		var old [][]byte
		c := b.Cursor()
		n := 0
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if n++; n > maxPolls {
				old = append(old, k)
			}
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// LastPolls returns up to n of the account's polls, newest first; n <= 0 means
// all that are kept. An account without history has none, and no error.
func (s *Store) LastPolls(key AccountKey, n int) ([]Poll, error) {
	var polls []Poll
	err := s.view("last polls", key, func(tx *bbolt.Tx) error {
		acct, err := account(tx, key)
		if err != nil || acct == nil {
			return err
		}
		b := acct.Bucket(bucketPolls)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (n <= 0 || len(polls) < n); k, v = c.Prev() {
			p, err := decodePoll(k, v)
			if err != nil {
				return err
			}
			polls = append(polls, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return polls, nil
}

func decodePoll(k, v []byte) (Poll, error) {
	var p Poll
	if err := json.Unmarshal(v, &p); err != nil {
		return Poll{}, fmt.Errorf("poll %x: %w: %v", k, ErrCorrupt, err)
	}
	return p, nil
}
