package state

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestMigrations_Table(t *testing.T) {
	if len(migrations) != int(schemaVersion) {
		t.Fatalf("len(migrations) = %d, want schemaVersion %d: migrations[v] upgrades v to v+1", len(migrations), schemaVersion)
	}
	if migrations[0] != nil {
		t.Error("migrations[0] is set, but no store has schema version 0")
	}
	for v := 1; v < len(migrations); v++ {
		if migrations[v] == nil {
			t.Errorf("migrations[%d] is nil", v)
		}
	}
}

// The migration mechanism, exercised with a fake table until a real migration
// exists.
func TestMigrate(t *testing.T) {
	step := func(name string, fail bool) func(*bbolt.Tx) error {
		return func(tx *bbolt.Tx) error {
			if fail {
				return errors.New("boom")
			}
			_, err := tx.CreateBucket([]byte(name))
			return err
		}
	}
	tests := []struct {
		name        string
		table       []func(*bbolt.Tx) error
		from, to    uint32
		wantErr     string
		wantVersion uint32
		wantBuckets []string
	}{
		{"NothingToDo", nil, 1, 1, "", 1, nil},
		{"TwoSteps", []func(*bbolt.Tx) error{nil, step("m1", false), step("m2", false)}, 1, 3, "", 3, []string{"m1", "m2"}},
		{"FromMiddle", []func(*bbolt.Tx) error{nil, step("m1", false), step("m2", false)}, 2, 3, "", 3, []string{"m2"}},
		{"FailureRollsBack", []func(*bbolt.Tx) error{nil, step("m1", false), step("m2", true)}, 1, 3,
			"migrate schema version 2 to 3: boom", 1, nil},
		{"MissingStep", []func(*bbolt.Tx) error{nil, step("m1", false)}, 1, 3,
			"no migration from schema version 2", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := craft(t, withMeta(binary.BigEndian.AppendUint32(nil, tt.from)))
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.Update(func(tx *bbolt.Tx) error { return migrate(tx, tt.from, tt.to, tt.table) })
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Fatalf("got error %v, want %q", err, tt.wantErr)
			}
			db.View(func(tx *bbolt.Tx) error {
				if got := binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(keyVersion)); got != tt.wantVersion {
					t.Errorf("schema_version = %d, want %d", got, tt.wantVersion)
				}
				for _, name := range []string{"m1", "m2"} {
					want := strings.Contains(strings.Join(tt.wantBuckets, ","), name)
					if got := tx.Bucket([]byte(name)) != nil; got != want {
						t.Errorf("bucket %s exists = %v, want %v", name, got, want)
					}
				}
				return nil
			})
		})
	}
}

// migrations[1], v1 → v2, on crafted stores; the golden test runs it on a real
// v1 store (testdata/v1.db).
func TestMigrate_V1ToV2(t *testing.T) {
	v1 := binary.BigEndian.AppendUint32(nil, 1)
	tests := []struct {
		name        string
		file        func(tx *bbolt.Tx) error
		wantErr     error // nil: opens
		wantVersion uint32
		wantSeen    map[string]Record
	}{
		{"EmptyV1", withMeta(v1), nil, schemaVersion, map[string]Record{}},
		{"V1WithAccount", func(tx *bbolt.Tx) error {
			if err := withMeta(v1)(tx); err != nil {
				return err
			}
			acct, err := tx.Bucket(bucketAccounts).CreateBucket([]byte(keyWork.String()))
			if err != nil {
				return err
			}
			uidls, err := acct.CreateBucket(bucketUIDLs)
			if err != nil {
				return err
			}
			v, _ := encodeRecord(Record{State: Delivered, Delivered: t1, Size: 7})
			return uidls.Put([]byte("old"), v)
		}, nil, schemaVersion, map[string]Record{"old": {State: Delivered, Delivered: t1, Size: 7}}},
		{"V1WithoutAccountsBucket", func(tx *bbolt.Tx) error {
			meta, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			return meta.Put(keyVersion, v1)
		}, ErrNotStateStore, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := craft(t, tt.file)
			s, err := Open(path, time.Second)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open: got %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				if got := storedVersion(t, s); got != tt.wantVersion {
					t.Errorf("schema version %d, want %d", got, tt.wantVersion)
				}
				checkSeen(t, s, keyWork, tt.wantSeen)
				checkProgress(t, s, keyWork, map[string]Progress{})
				if err := s.SetProgress(keyWork, "new", partial); err != nil {
					t.Fatal(err)
				}
				checkProgress(t, s, keyWork, map[string]Progress{"new": partial})
				s.Close()
				return
			}
			// A failed migration leaves the file as it was.
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.View(func(tx *bbolt.Tx) error {
				if got := binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(keyVersion)); got != tt.wantVersion {
					t.Errorf("schema version %d after a failed migration, want %d", got, tt.wantVersion)
				}
				return nil
			})
		})
	}
}
