package state

import (
	"fmt"

	"go.etcd.io/bbolt"
)

// AccountInfo summarises one account in the store, for status output.
type AccountInfo struct {
	Key      string // AccountKey.String(); ParseAccountKey gives the fields back
	Name     string // display name last set by SetAccountName; may be stale
	Messages int    // UIDL records, delivered and deleted
	LastPoll *Poll  // nil if the account was never polled
}

// SetAccountName remembers the account's display name from the config. It is
// informational only: records are keyed by AccountKey, so a rename loses
// nothing.
func (s *Store) SetAccountName(key AccountKey, name string) error {
	return s.update("set account name", key, func(tx *bbolt.Tx) error {
		acct, err := ensureAccount(tx, key)
		if err != nil {
			return err
		}
		if string(acct.Get(keyName)) == name {
			return nil
		}
		return acct.Put(keyName, []byte(name))
	})
}

// Accounts lists every account in the store, sorted by key.
func (s *Store) Accounts() ([]AccountInfo, error) {
	var infos []AccountInfo
	err := s.db.View(func(tx *bbolt.Tx) error {
		accts, err := accountsBucket(tx)
		if err != nil {
			return err
		}
		return accts.ForEachBucket(func(k []byte) error {
			acct := accts.Bucket(k)
			info := AccountInfo{Key: string(k), Name: string(acct.Get(keyName))}
			if b := acct.Bucket(bucketUIDLs); b != nil {
				info.Messages = b.Stats().KeyN
			}
			if b := acct.Bucket(bucketPolls); b != nil {
				if pk, pv := b.Cursor().Last(); pk != nil {
					p, err := decodePoll(pk, pv)
					if err != nil {
						return fmt.Errorf("account %s: %w", k, err)
					}
					info.LastPoll = &p
				}
			}
			infos = append(infos, info)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("state store %s: accounts: %w", s.path, err)
	}
	return infos, nil
}
