package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// On-disk schema, version 3. All integers are big-endian.
//
//	meta/                          bucket
//	    schema_version             uint32; 3
//	    created                    int64 Unix nanoseconds when the store was created
//	accounts/                      bucket
//	    <AccountKey.String()>/     bucket per account, e.g. "pop3://me%40x.com@pop.x.com:995"
//	        name                   the account's display name from the config (informational)
//	        paused                 added to version 3 without a bump (see History), written
//	                               by SetPause, absent when the account is not paused;
//	                               value = 1 byte pause format (1), then a JSON object
//	                               (see pause.go)
//	        uidls/                 bucket; key = UIDL bytes, value = record (see record.go:
//	                               1 byte record format, 1 byte state, int64 delivered
//	                               nanos, int64 size, int64 deleted nanos)
//	        polls/                 bucket; key = uint64 bucket sequence, value = JSON Poll
//	                               (poll.go); only the newest maxPolls are kept
//	        progress/              bucket, since version 2, created by the first
//	                               SetProgress; key = UIDL bytes of a message not yet
//	                               fully delivered, value = 1 byte progress format, then a
//	                               JSON object (see progress.go). MarkDelivered deletes
//	                               the entry in the transaction that writes the record.
//	        absent/                bucket, since version 3, created by the first
//	                               NoteListing that finds a record unlisted; key = UIDL
//	                               bytes of a record (uidls/) the server's last listing
//	                               lacked, value = 1 byte absence format (1), int64
//	                               nanos absent since, uint32 polls absent (absence.go).
//	                               Deleted with the record, or when the UIDL is listed.
//	        oversize/              added to version 3 without a bump (see History), created
//	                               by the first NoteOversize; key = UIDL bytes of a message
//	                               over max_message_size that was reported (log,
//	                               notify_command) and left on the server, value = 1 byte
//	                               oversize format (1), int64 listed size, int64 nanos
//	                               reported (oversize.go). Cleared when the server no
//	                               longer lists the UIDL or the message was delivered.
//
// History:
//
//	1  uidls, polls, name.
//	2  progress/ per account: per-target delivery progress and permanent
//	   failures (issue 3). The migration from 1 writes nothing but the version:
//	   the bucket is created lazily and absent means empty. The bump is still
//	   needed: a fetchd that reads only version 1 would ignore progress and
//	   deliver again to targets that already accepted, or retry a held message,
//	   so it must refuse the store (ErrNewerSchema) instead.
//	3  absent/ per account: how long each record has been missing from the
//	   server's listing, so NoteListing prunes only records absent for N polls
//	   and D days (issue 4). Progress values gain format 2 ("planned" maildir
//	   paths, "spool_size"); format 1 values are read as they are. As for 2,
//	   the migration writes nothing but the version (buckets are lazy, absent
//	   means empty), and the bump makes a fetchd that reads only version 2
//	   refuse the store: it would keep absence entries of pruned records
//	   forever and could not read format 2 progress.
//	   Added later to version 3, with no bump: paused in the account's
//	   bucket, so that an account paused after repeated rejected logins
//	   stays paused across a restart. A fetchd that does not know the key
//	   ignores it (its readers take only the keys and buckets they name) and
//	   logs in again, which is what it always did after a restart: nothing
//	   is delivered twice or lost, and a bump would only stop that fetchd
//	   from opening the store at all. The one leftover is harmless: a pause
//	   that an older fetchd outlived (it logged in fine) is still there when
//	   a newer one runs again, which then stays paused (it logs in less, not
//	   more) until it sees other credentials than Proof was made from, or
//	   `fetchd resume` clears it.
//	   Also added later to version 3, with no bump: oversize/ per account,
//	   so that a message left on the server for being over max_message_size
//	   is reported once rather than on every poll. A fetchd that does not
//	   know the bucket ignores it (it reports no such thing at all), and
//	   leaves the notes of messages that went away: a few small entries,
//	   cleared by the next newer fetchd that lists the account.
//
// An empty or new file is initialised as the current version. A bbolt file with
// buckets but no meta bucket is refused as not a fetchd state store, and a store
// with a newer schema version is refused rather than misread (a downgrade).
//
// Changing the format: bump schemaVersion, append the migration from the old
// version to migrations, run `go test -run TestGolden -update` to write
// testdata/vN.db for the new version, and keep every older testdata/v*.db: the
// golden test opens each of them, so a change that can no longer read (or
// migrate) an old store fails. A key or bucket that a fetchd reading only the
// current version would ignore without harm is added without a bump (as
// paused was): note it in the History under the current version.
const schemaVersion uint32 = 3

var (
	bucketMeta     = []byte("meta")
	bucketAccounts = []byte("accounts")
	bucketUIDLs    = []byte("uidls")
	bucketPolls    = []byte("polls")
	bucketProgress = []byte("progress")
	bucketAbsent   = []byte("absent")
	bucketOversize = []byte("oversize")
	keyVersion     = []byte("schema_version")
	keyCreated     = []byte("created")
	keyName        = []byte("name")
	keyPaused      = []byte("paused")
)

// migrations[v] upgrades a store from schema version v to v+1. Version 1 is the
// first, and no store was ever written with version 0, so migrations[0] is nil.
// All migrations needed run in the one transaction that Open commits, so a
// failed migration leaves the store as it was.
var migrations = []func(tx *bbolt.Tx) error{
	0: nil,
	1: migrateV1ToV2,
	2: migrateV2ToV3,
}

// migrateV1ToV2 adds the per-account progress buckets, lazily: a version 1
// account has no progress, which is what a missing bucket means, so there is
// nothing to write (see the History above for why the version still changes).
// It checks only that the accounts bucket a version 1 store always has is
// there, so a damaged store is not stamped as version 2.
func migrateV1ToV2(tx *bbolt.Tx) error {
	_, err := accountsBucket(tx)
	return err
}

// migrateV2ToV3 adds the per-account absent buckets and progress format 2,
// both lazily: a version 2 store has no absence data (every record counts as
// listed until a NoteListing says otherwise) and only format 1 progress, which
// is still read. Like migrateV1ToV2 it checks only the accounts bucket.
func migrateV2ToV3(tx *bbolt.Tx) error {
	_, err := accountsBucket(tx)
	return err
}

// Errors from Open about the file's contents; they are wrapped with the path.
var (
	ErrNotStateStore = errors.New("not a fetchd state store")
	ErrNewerSchema   = errors.New("state store written by a newer fetchd")
)

// readSchema returns the store's schema version; fresh is true for a file with
// no buckets at all, which Open initialises.
func readSchema(tx *bbolt.Tx) (version uint32, fresh bool, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
		if empty {
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("%w: it has data but no meta bucket", ErrNotStateStore)
	}
	v := meta.Get(keyVersion)
	if len(v) != 4 {
		return 0, false, fmt.Errorf("%w: meta bucket has no valid schema_version", ErrNotStateStore)
	}
	version = binary.BigEndian.Uint32(v)
	switch {
	case version > schemaVersion:
		return 0, false, fmt.Errorf("%w: schema version %d, this fetchd reads up to %d; "+
			"upgrade fetchd (a downgrade cannot read it) or use another state file", ErrNewerSchema, version, schemaVersion)
	case version == 0:
		return 0, false, fmt.Errorf("%w: unknown schema version %d", ErrNotStateStore, version)
	}
	return version, false, nil
}

// initSchema writes the current, empty schema into a fresh file.
func initSchema(tx *bbolt.Tx, now time.Time) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketAccounts); err != nil {
		return err
	}
	if err := meta.Put(keyCreated, binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))); err != nil {
		return err
	}
	return putVersion(tx, schemaVersion)
}

func putVersion(tx *bbolt.Tx, v uint32) error {
	return tx.Bucket(bucketMeta).Put(keyVersion, binary.BigEndian.AppendUint32(nil, v))
}

// migrate runs table[from], table[from+1], … up to version to, recording each
// step's version so the bookkeeping is the same whether one or many steps run.
func migrate(tx *bbolt.Tx, from, to uint32, table []func(*bbolt.Tx) error) error {
	for v := from; v < to; v++ {
		if int(v) >= len(table) || table[v] == nil {
			return fmt.Errorf("no migration from schema version %d", v)
		}
		if err := table[v](tx); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", v, v+1, err)
		}
		if err := putVersion(tx, v+1); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", v, v+1, err)
		}
	}
	return nil
}
