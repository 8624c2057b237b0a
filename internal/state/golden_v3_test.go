package state

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// Golden content from schema version 3 on: progress with planned maildir
// paths and a spool size, and absence entries.
var (
	goldenV3Since    uint32 = 3
	goldenProgressV3        = map[AccountKey]map[string]Progress{
		goldenWork: {
			"UID-5": { // crashed between planning a maildir file and linking it
				Done: map[string]time.Time{"maildir /home/me/Mail": goldenT1},
				Planned: map[string]string{
					"maildir /home/me/Mail":  "/home/me/Mail/new/1741064767.M8P42Q1.host,S=1234",
					"maildir /home/me/Other": "/home/me/Other/new/1741064768.M9P42Q2.host,S=1234",
				},
				Spool: "/var/lib/fetchd/spool/UID-5", SpoolSize: 1234,
			},
		},
	}
	goldenAbsence = map[AccountKey]map[string]absence{
		goldenWork:  {"UID-2": {Since: goldenT2, Polls: 2}},
		goldenLocal: {"gone": {Since: goldenT2.Add(time.Hour), Polls: 1}},
	}
)

func writeGoldenV3(t *testing.T, s *Store) {
	t.Helper()
	for key, progress := range goldenProgressV3 {
		for uidl, p := range progress {
			if err := s.SetProgress(key, uidl, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	const polls, age = 100, 1000 * time.Hour // nothing is pruned
	listed := []string{"UID-1", "odd uid ~!@#$%^&*()<>?"}
	for _, l := range []struct {
		key    AccountKey
		listed []string
		at     time.Time
	}{
		{goldenWork, listed, goldenT2},
		{goldenWork, listed, goldenT2.Add(time.Hour)},
		{goldenLocal, nil, goldenT2.Add(time.Hour)},
	} {
		if n, err := s.NoteListing(l.key, l.listed, l.at, polls, age); n != 0 || err != nil {
			t.Fatalf("NoteListing = %d, %v", n, err)
		}
	}
}

func wantGoldenAbsence(key AccountKey, version uint32) map[string]absence {
	if version < goldenV3Since || goldenAbsence[key] == nil {
		return map[string]absence{}
	}
	return goldenAbsence[key]
}

// checkAbsence compares the account's absence bucket with want.
func checkAbsence(t *testing.T, s *Store, key AccountKey, want map[string]absence) {
	t.Helper()
	got := map[string]absence{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		acct, err := account(tx, key)
		if err != nil || acct == nil || acct.Bucket(bucketAbsent) == nil {
			return err
		}
		return acct.Bucket(bucketAbsent).ForEach(func(k, v []byte) error {
			a, err := decodeAbsence(v)
			got[string(k)] = a
			return err
		})
	})
	if err != nil {
		t.Fatalf("absence of %s: %v", key, err)
	}
	if len(got) != len(want) {
		t.Errorf("absence of %s: %d entries, want %d: %+v", key, len(got), len(want), got)
	}
	for uidl, w := range want {
		if g, ok := got[uidl]; !ok || !g.Since.Equal(w.Since) || g.Polls != w.Polls {
			t.Errorf("absence of %s [%q] = %+v (%v), want %+v", key, uidl, g, ok, w)
		}
	}
}

// Every golden store, once migrated, prunes by its listing: records absent
// long enough go, the rest and every progress entry stay.
func TestGolden_NoteListingAfterMigration(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "v*.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, golden := range files {
		t.Run(filepath.Base(golden), func(t *testing.T) {
			var version uint32
			if _, err := fmt.Sscanf(filepath.Base(golden), "v%d.db", &version); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "state.db")
			copyFile(t, golden, path)
			s, err := Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.IsFresh() || s.Created().IsZero() {
				t.Errorf("IsFresh = %v, Created = %v; want false and set", s.IsFresh(), s.Created())
			}
			now := goldenT2.Add(30 * 24 * time.Hour)
			n, err := s.NoteListing(goldenWork, []string{"UID-1"}, now, 1, 0)
			if n != 2 || err != nil {
				t.Fatalf("NoteListing = %d, %v; want 2 pruned", n, err)
			}
			checkSeen(t, s, goldenWork, map[string]Record{"UID-1": goldenSeen[goldenWork]["UID-1"]})
			checkAbsence(t, s, goldenWork, map[string]absence{})
			checkProgress(t, s, goldenWork, wantGoldenProgress(goldenWork, version))
			checkSeen(t, s, goldenLocal, goldenSeen[goldenLocal])
		})
	}
}
