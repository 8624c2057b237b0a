package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

// A read-only store reads what Open wrote, refuses every write, and leaves
// the file byte for byte as it was, with its modification time.
func TestOpenReadOnly_ReadsAndNeverWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Record{"a": {State: Delivered, Delivered: t1, Size: 5}}
	if err := s.MarkDeliveredBatch(keyWork, want); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteOversize(keyWork, "big", OversizeNote{Size: 9, Reported: t1}); err != nil {
		t.Fatal(err)
	}
	created := s.Created()
	s.Close()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	ro, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkSeen(t, ro, keyWork, want)
	if n, err := ro.Oversize(keyWork); err != nil || n["big"].Size != 9 {
		t.Errorf("Oversize = %v, %v", n, err)
	}
	if !ro.Created().Equal(created) || ro.IsFresh() {
		t.Errorf("Created %v, IsFresh %v; want %v, false", ro.Created(), ro.IsFresh(), created)
	}
	writes := map[string]error{
		"MarkDelivered": ro.MarkDelivered(keyWork, "b", 1, t2),
		"MarkDeleted":   ro.MarkDeleted(keyWork, []string{"a"}, t2),
		"RecordPoll":    ro.RecordPoll(keyWork, Poll{Start: t1, End: t2}),
		"NoteOversize":  ro.NoteOversize(keyWork, "c", OversizeNote{Size: 1, Reported: t2}),
		"SetProgress":   ro.SetProgress(keyWork, "d", Progress{Attempts: 1}),
	}
	_, err = ro.NoteListing(keyWork, nil, t2, 0, 0)
	writes["NoteListing"] = err
	for op, err := range writes {
		if !errors.Is(err, berrors.ErrDatabaseReadOnly) {
			t.Errorf("%s on a read-only store: %v, want ErrDatabaseReadOnly", op, err)
		}
	}
	// A second reader shares the lock; a writer waits for it.
	ro2, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatalf("second read-only open: %v", err)
	}
	ro2.Close()
	if w, err := Open(path, 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		if w != nil {
			w.Close()
		}
		t.Errorf("Open while a reader holds the store: %v, want ErrLocked", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}

	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || !fi.ModTime().Equal(old) {
		t.Errorf("the file changed: %d → %d bytes, equal %v, mtime %v (was %v)", len(before), len(after), bytes.Equal(before, after), fi.ModTime(), old)
	}
}

func TestOpenReadOnly_Refuses(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked.db")
	w, err := Open(locked, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tests := []struct {
		name, path string
		want       error
	}{
		{"missing", filepath.Join(dir, "nope", "state.db"), ErrNoStore},
		{"empty", empty, ErrNoStore},
		{"junk", junk, ErrNotStateStore},
		{"held by a writer", locked, ErrLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenReadOnly(tt.path, 100*time.Millisecond)
			if !errors.Is(err, tt.want) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("OpenReadOnly = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenReadOnly created the missing file's directory: %v", err)
	}
}

// An older store is read as it is, not migrated: its schema version stays.
func TestOpenReadOnly_OldSchemaNotMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	copyFile(t, filepath.Join("testdata", "v1.db"), path)
	before, _ := os.ReadFile(path)
	s, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkSeen(t, s, goldenWork, goldenSeen[goldenWork])
	checkProgress(t, s, goldenWork, map[string]Progress{})
	if v := storedVersion(t, s); v != 1 {
		t.Errorf("schema version %d, want 1 (not migrated)", v)
	}
	s.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a read-only open changed an old store")
	}
}
