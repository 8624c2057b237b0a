package state

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"
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
	// Progress exists from schema version 2 on; older stores have none.
	goldenProgressSince uint32 = 2
	goldenProgress             = map[AccountKey]map[string]Progress{
		goldenWork: {
			"UID-3": { // partly delivered, temporary failure
				Done: map[string]time.Time{
					"maildir /home/me/Mail":                       goldenT1,
					"lmtp /run/dovecot/lmtp\x00alice@example.com": goldenT1.Add(time.Second),
				},
				Spool: "/var/lib/fetchd/spool/UID-3", Reason: "lmtp bob@example.com: 452 4.2.2 mailbox full",
				FailedAt: goldenT2, Attempts: 2,
			},
			"UID-4": { // permanent failure, quarantined
				Failed: true, Reason: "mda /usr/bin/procmail: exit status 1", FailedAt: goldenT2, Attempts: 1, Quarantined: true,
			},
		},
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
	for key, progress := range goldenProgress {
		for uidl, p := range progress {
			if err := s.SetProgress(key, uidl, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeGoldenV3(t, s)
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
			var version uint32
			if _, err := fmt.Sscanf(filepath.Base(golden), "v%d.db", &version); err != nil {
				t.Fatalf("golden store name %s: %v", golden, err)
			}
			// Open writes when it migrates: never touch the committed file.
			path := filepath.Join(t.TempDir(), "state.db")
			copyFile(t, golden, path)
			s, err := Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := storedVersion(t, s); got != schemaVersion {
				t.Errorf("after Open: schema version %d, want %d", got, schemaVersion)
			}
			verifyGolden(t, s, version)

			// It stays readable and writable after a reopen, and delivery
			// clears progress.
			if err := s.SetProgress(goldenWork, "new", Progress{Done: map[string]time.Time{"x": goldenT1}}); err != nil {
				t.Fatal(err)
			}
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
			checkProgress(t, s, goldenWork, wantGoldenProgress(goldenWork, version))
		})
	}
}

func wantGoldenProgress(key AccountKey, version uint32) map[string]Progress {
	want := map[string]Progress{}
	if version >= goldenProgressSince {
		maps.Copy(want, goldenProgress[key])
	}
	if version >= goldenV3Since {
		maps.Copy(want, goldenProgressV3[key])
	}
	return want
}

func storedVersion(t *testing.T, s *Store) (v uint32) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		v, _, err = readSchema(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func verifyGolden(t *testing.T, s *Store, version uint32) {
	t.Helper()
	for key, want := range goldenSeen {
		checkSeen(t, s, key, want)
		if has, err := s.HasAccount(key); !has || err != nil {
			t.Errorf("HasAccount(%s) = %v, %v", key, has, err)
		}
		wantProgress := wantGoldenProgress(key, version)
		checkProgress(t, s, key, wantProgress)
		checkAbsence(t, s, key, wantGoldenAbsence(key, version))
		wantFailed := 0
		for _, p := range wantProgress {
			if p.Failed {
				wantFailed++
			}
		}
		if n, err := s.FailedCount(key); n != wantFailed || err != nil {
			t.Errorf("FailedCount(%s) = %d, %v; want %d", key, n, err, wantFailed)
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
