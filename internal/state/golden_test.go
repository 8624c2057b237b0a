package state

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "write testdata/vN.db for the current schema version")

// The content of every golden store, whatever its schema version. A future
// schema must still read all of it from every older testdata/v*.db.
var (
	goldenWork  = AccountKey{Server: "pop.example.com", Port: 995, User: "me@example.com"}
	goldenLocal = AccountKey{Server: "::1", Port: 110, User: "a:b"}
	goldenT1    = time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	goldenT2    = time.Date(2025, 3, 4, 6, 0, 0, 0, time.UTC)
	goldenSeen  = map[AccountKey]map[string]Record{
		goldenWork: {
			"UID-1":                  {State: Delivered, Delivered: goldenT1, Size: 1234},
			"UID-2":                  {State: Deleted, Delivered: goldenT1, Size: 99, Deleted: goldenT2},
			"odd uid ~!@#$%^&*()<>?": {State: Delivered, Delivered: goldenT2, Size: 0},
		},
		goldenLocal: {
			"gone": {State: Deleted, Deleted: goldenT2},
		},
	}
	goldenNames = map[AccountKey]string{goldenWork: "work", goldenLocal: "local"}
	goldenPolls = []Poll{ // oldest first
		{Start: goldenT1, End: goldenT1.Add(time.Second), Fetched: 2, Deleted: 1},
		{Start: goldenT2, End: goldenT2.Add(time.Second), Failed: 1, Err: "retr 3: connection reset"},
	}
)

func writeGolden(t *testing.T, path string) {
	tmp := filepath.Join(t.TempDir(), "golden.db")
	s, err := Open(tmp, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for key, recs := range goldenSeen {
		if err := s.SetAccountName(key, goldenNames[key]); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDeliveredBatch(key, recs); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range goldenPolls {
		if err := s.RecordPoll(goldenWork, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile(t, tmp, path)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGolden_OpensOldStores opens every store written by a previous (and the
// current) version of the format and checks it reads back in full. Run with
// -update after a schema change to add testdata/vN.db; never delete old ones.
func TestGolden_OpensOldStores(t *testing.T) {
	current := filepath.Join("testdata", fmt.Sprintf("v%d.db", schemaVersion))
	if *update {
		writeGolden(t, current)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "v*.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, current) || !slices.Contains(files, filepath.Join("testdata", "v1.db")) {
		t.Fatalf("golden stores %v lack v1.db or %s; run go test -run TestGolden -update", files, current)
	}
	for _, golden := range files {
		t.Run(filepath.Base(golden), func(t *testing.T) {
			// Open writes when it migrates: never touch the committed file.
			path := filepath.Join(t.TempDir(), "state.db")
			copyFile(t, golden, path)
			s, err := Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			verifyGolden(t, s)

			// It stays readable and writable after a reopen.
			if err := s.MarkDelivered(goldenWork, "new", 1, goldenT2); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if s, err = Open(path, time.Second); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			seen, err := s.Seen(goldenWork)
			if err != nil || len(seen) != len(goldenSeen[goldenWork])+1 {
				t.Fatalf("after reopen: %d records, %v", len(seen), err)
			}
		})
	}
}

func verifyGolden(t *testing.T, s *Store) {
	t.Helper()
	for key, want := range goldenSeen {
		checkSeen(t, s, key, want)
		if has, err := s.HasAccount(key); !has || err != nil {
			t.Errorf("HasAccount(%s) = %v, %v", key, has, err)
		}
	}
	polls, err := s.LastPolls(goldenWork, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(polls) != len(goldenPolls) {
		t.Fatalf("got %d polls, want %d", len(polls), len(goldenPolls))
	}
	for i, got := range polls {
		want := goldenPolls[len(goldenPolls)-1-i]
		if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) ||
			got.Fetched != want.Fetched || got.Deleted != want.Deleted || got.Failed != want.Failed || got.Err != want.Err {
			t.Errorf("poll %d = %+v, want %+v", i, got, want)
		}
	}
	accts, err := s.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != len(goldenSeen) {
		t.Fatalf("got %d accounts, want %d", len(accts), len(goldenSeen))
	}
	for _, a := range accts {
		key, err := ParseAccountKey(a.Key)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != goldenNames[key] || a.Messages != len(goldenSeen[key]) {
			t.Errorf("account %s: name %q, %d messages; want %q, %d", a.Key, a.Name, a.Messages, goldenNames[key], len(goldenSeen[key]))
		}
		if (a.LastPoll != nil) != (key == goldenWork) {
			t.Errorf("account %s: last poll %+v", a.Key, a.LastPoll)
		}
	}
}
