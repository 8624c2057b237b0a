package state

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOversizeCodec(t *testing.T) {
	tests := []struct {
		name    string
		in      OversizeNote
		want    string // the exact bytes; "" when encoding fails
		wantErr string
	}{
		{"Reported", OversizeNote{Size: 30 << 20, Reported: t2}, "\x01\x00\x00\x00\x00\x01\xe0\x00\x00\x18\x16\xc4\x2c\x14\x88\x80\x00", ""},
		{"OtherZone", OversizeNote{Size: 0, Reported: t2.In(cet)}, "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x18\x16\xc4\x2c\x14\x88\x80\x00", ""},
		{"NegativeSize", OversizeNote{Size: -1, Reported: t2}, "", "negative size"},
		{"ZeroTime", OversizeNote{Size: 1}, "", "zero report time"},
		{"Epoch", OversizeNote{Size: 1, Reported: time.Unix(0, 0)}, "", "Unix epoch"},
		{"Year2300", OversizeNote{Size: 1, Reported: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, "", "outside the years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeOversize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("encodeOversize = %q, %v; want an error containing %q", b, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(b) != tt.want {
				t.Fatalf("encodeOversize = %q, %v; want %q", b, err, tt.want)
			}
			got, err := decodeOversize(b)
			if err != nil || got.Size != tt.in.Size || !got.Reported.Equal(tt.in.Reported) {
				t.Errorf("decodeOversize(%q) = %+v, %v; want %+v", b, got, err, tt.in)
			}
		})
	}
}

// FuzzDecodeOversize: decode never panics, every error wraps ErrCorrupt, and
// whatever it accepts encodes back to the same bytes.
func FuzzDecodeOversize(f *testing.F) {
	for _, n := range []OversizeNote{{Size: 1, Reported: t1}, {Size: 1<<63 - 1, Reported: t2}} {
		b, _ := encodeOversize(n)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeOversize(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeOversize(%x): error %v does not wrap ErrCorrupt", b, err)
			}
			return
		}
		again, err := encodeOversize(n)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decodeOversize(%x) = %+v, which encodes as %x, %v", b, n, again, err)
		}
	})
}

// Notes are kept per account, replaced, cleared, and survive a reopen.
func TestStore_OversizeNotes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Oversize(keyWork); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Oversize of an unknown account = %v, %v; want an empty map", got, err)
	}
	for uidl, n := range map[string]OversizeNote{"big": {Size: 100, Reported: t1}, "huge": {Size: 200, Reported: t1}} {
		if err := s.NoteOversize(keyWork, uidl, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.NoteOversize(keyWork, "big", OversizeNote{Size: 150, Reported: t2}); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteOversize(keyOther, "big", OversizeNote{Size: 1, Reported: t1}); err != nil {
		t.Fatal(err)
	}
	if err := s.NoteOversize(keyWork, "", OversizeNote{Size: 1, Reported: t1}); err == nil {
		t.Error("NoteOversize with an empty UIDL succeeded")
	}
	if err := s.NoteOversize(keyWork, "bad", OversizeNote{Size: 1}); err == nil {
		t.Error("NoteOversize with a zero time succeeded")
	}
	s.Close()
	if s, err = Open(path, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Oversize(keyWork)
	if err != nil || len(got) != 2 || got["big"].Size != 150 || !got["big"].Reported.Equal(t2) || got["huge"].Size != 200 {
		t.Fatalf("Oversize = %+v, %v; want big (150, t2) and huge (200)", got, err)
	}
	if err := s.ClearOversize(keyWork, []string{"big", "absent", ""}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Oversize(keyWork); len(got) != 1 || got["huge"].Size != 200 {
		t.Errorf("after ClearOversize: %+v, want only huge", got)
	}
	if got, _ := s.Oversize(keyOther); len(got) != 1 {
		t.Errorf("other account's notes = %+v, want its one note untouched", got)
	}
	if err := s.ClearOversize(AccountKey{Server: "x", Port: 1, User: "nobody"}, []string{"a"}); err != nil {
		t.Errorf("ClearOversize of an unknown account: %v", err)
	}
}

// The bucket came to schema 3 without a bump: every golden store reads as
// having no notes, takes notes without a migration, and everything else in
// it still reads as before.
func TestGolden_OversizeWithoutBump(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "v*.db"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden stores: %v, %v", files, err)
	}
	for _, golden := range files {
		t.Run(filepath.Base(golden), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			copyFile(t, golden, path)
			s, err := Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, err := s.Oversize(goldenWork); err != nil || len(got) != 0 {
				t.Fatalf("Oversize = %v, %v; want none", got, err)
			}
			if err := s.NoteOversize(goldenWork, "UID-9", OversizeNote{Size: 1 << 30, Reported: goldenT2}); err != nil {
				t.Fatal(err)
			}
			if v := storedVersion(t, s); v != schemaVersion {
				t.Errorf("schema version %d after a note, want %d", v, schemaVersion)
			}
			checkSeen(t, s, goldenWork, goldenSeen[goldenWork])
			accts, err := s.Accounts()
			if err != nil || len(accts) != len(goldenSeen) {
				t.Errorf("Accounts = %d, %v; want %d", len(accts), err, len(goldenSeen))
			}
		})
	}
}

// LearnSizes fills in only sizes that are unknown, of records that exist.
func TestStore_LearnSizes(t *testing.T) {
	s := openTemp(t)
	recs := map[string]Record{
		"imported": {State: Delivered, Delivered: t1},
		"known":    {State: Delivered, Delivered: t1, Size: 10},
		"deleted":  {State: Deleted, Delivered: t1, Deleted: t2},
	}
	if err := s.MarkDeliveredBatch(keyWork, recs); err != nil {
		t.Fatal(err)
	}
	n, err := s.LearnSizes(keyWork, map[string]int64{"imported": 99, "known": 20, "deleted": 30, "absent": 40, "": 1})
	if err != nil || n != 2 {
		t.Fatalf("LearnSizes = %d, %v; want 2", n, err)
	}
	checkSeen(t, s, keyWork, map[string]Record{
		"imported": {State: Delivered, Delivered: t1, Size: 99},
		"known":    {State: Delivered, Delivered: t1, Size: 10},
		"deleted":  {State: Deleted, Delivered: t1, Deleted: t2, Size: 30},
	})
	if n, err := s.LearnSizes(keyOther, map[string]int64{"imported": 1}); n != 0 || err != nil {
		t.Errorf("LearnSizes of an unknown account = %d, %v; want 0, nil", n, err)
	}
}
