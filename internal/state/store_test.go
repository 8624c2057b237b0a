package state

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestOpen_CreatesPrivateDirAndFile(t *testing.T) {
	s := openTemp(t)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("file mode %v, want no group/other access", perm)
	}
	di, err := os.Stat(filepath.Dir(s.Path()))
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("dir mode %v, want no group/other access", perm)
	}
}

// The store's promise rests on every commit being fsynced.
func TestOpen_Durable(t *testing.T) {
	s := openTemp(t)
	if s.db.NoSync || s.db.NoGrowSync || s.db.NoFreelistSync {
		t.Errorf("NoSync=%v NoGrowSync=%v NoFreelistSync=%v, want all false",
			s.db.NoSync, s.db.NoGrowSync, s.db.NoFreelistSync)
	}
}

func TestOpen_Locked(t *testing.T) {
	s := openTemp(t)
	start := time.Now()
	s2, err := Open(s.Path(), 200*time.Millisecond)
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
	for _, want := range []string{s.Path(), "in use by another fetchd", "stop it or use another state file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("second Open returned after %v, want about 200ms", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(s.Path(), 200*time.Millisecond)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s3.Close()
}

// Opening a current store must not write: a read-only status command should
// not churn the file.
func TestOpen_CurrentStoreIsNotWritten(t *testing.T) {
	s := openTemp(t)
	path := s.Path()
	txID := func(s *Store) (id int) {
		s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	before := txID(s)
	s.Close()
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if after := txID(s); after != before {
		t.Errorf("reopen moved the transaction id from %d to %d", before, after)
	}
}

// craft writes a bbolt file directly, bypassing Open.
func craft(t *testing.T, fn func(tx *bbolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func withMeta(version []byte) func(tx *bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketAccounts); err != nil {
			return err
		}
		if version == nil {
			return nil
		}
		return meta.Put(keyVersion, version)
	}
}

func TestOpen_Schema(t *testing.T) {
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	tests := []struct {
		name    string
		file    func(t *testing.T) string
		wantErr error // nil: opens
		wantMsg string
	}{
		{"NewFile", func(t *testing.T) string { return filepath.Join(t.TempDir(), "a", "b", "state.db") }, nil, ""},
		{"EmptyFile", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil, ""},
		{"EmptyBboltFile", func(t *testing.T) string {
			return craft(t, func(*bbolt.Tx) error { return nil })
		}, nil, ""},
		{"CurrentVersion", func(t *testing.T) string { return craft(t, withMeta(u32(schemaVersion))) }, nil, ""},
		{"NewerVersion", func(t *testing.T) string { return craft(t, withMeta(u32(schemaVersion+1))) },
			ErrNewerSchema, "schema version 4, this fetchd reads up to 3"},
		{"VersionZero", func(t *testing.T) string { return craft(t, withMeta(u32(0))) },
			ErrNotStateStore, "unknown schema version 0"},
		{"VersionMissing", func(t *testing.T) string { return craft(t, withMeta(nil)) },
			ErrNotStateStore, "no valid schema_version"},
		{"VersionWrongLength", func(t *testing.T) string { return craft(t, withMeta([]byte{1})) },
			ErrNotStateStore, "no valid schema_version"},
		{"OtherBboltDatabase", func(t *testing.T) string {
			return craft(t, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
		}, ErrNotStateStore, "no meta bucket"},
		{"NotBbolt", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(p, []byte(strings.Repeat("From: someone\r\n", 2000)), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrNotStateStore, "not a bbolt database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file(t)
			s, err := Open(path, time.Second)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer s.Close()
				if err := s.MarkDelivered(keyWork, "a", 1, t1); err != nil {
					t.Fatal(err)
				}
				checkSeen(t, s, keyWork, map[string]Record{"a": {State: Delivered, Delivered: t1, Size: 1}})
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want %v", tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
			for _, want := range []string{tt.wantMsg, path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
