package state

import (
	"maps"
	"path/filepath"
	"testing"
	"time"
)

var (
	keyWork  = AccountKey{Server: "pop.example.com", Port: 995, User: "me@example.com"}
	keyOther = AccountKey{Server: "mail.example.org", Port: 110, User: "alice"}
	t1       = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	t2       = time.Date(2025, 1, 2, 4, 0, 0, 0, time.UTC)
)

// openTemp opens a new store in a directory that does not exist yet.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sub", "state.db"), time.Second)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func recordEqual(a, b Record) bool {
	return a.State == b.State && a.Size == b.Size && a.Delivered.Equal(b.Delivered) && a.Deleted.Equal(b.Deleted)
}

func checkSeen(t *testing.T, s *Store, key AccountKey, want map[string]Record) {
	t.Helper()
	got, err := s.Seen(key)
	if err != nil {
		t.Fatalf("Seen(%s): %v", key, err)
	}
	if got == nil {
		t.Fatalf("Seen(%s) = nil map, want non-nil", key)
	}
	if len(got) != len(want) {
		t.Errorf("Seen(%s) has %d records, want %d: %v", key, len(got), len(want), got)
	}
	for uidl, w := range want {
		g, ok := got[uidl]
		if !ok {
			t.Errorf("Seen(%s)[%q] missing, want %+v", key, uidl, w)
		} else if !recordEqual(g, w) {
			t.Errorf("Seen(%s)[%q] = %+v, want %+v", key, uidl, g, w)
		}
	}
}

// progressEqual reports whether a and b hold the same information; times are
// compared as instants and a nil Done equals an empty one.
func progressEqual(a, b Progress) bool {
	return maps.EqualFunc(a.Done, b.Done, time.Time.Equal) &&
		a.Spool == b.Spool && a.Failed == b.Failed && a.Reason == b.Reason &&
		a.FailedAt.Equal(b.FailedAt) && a.Attempts == b.Attempts && a.Quarantined == b.Quarantined &&
		maps.Equal(a.Planned, b.Planned) && a.SpoolSize == b.SpoolSize
}

func checkProgress(t *testing.T, s *Store, key AccountKey, want map[string]Progress) {
	t.Helper()
	got, err := s.Progress(key)
	if err != nil {
		t.Fatalf("Progress(%s): %v", key, err)
	}
	if got == nil {
		t.Fatalf("Progress(%s) = nil map, want non-nil", key)
	}
	if len(got) != len(want) {
		t.Errorf("Progress(%s) has %d entries, want %d: %+v", key, len(got), len(want), got)
	}
	for uidl, w := range want {
		g, ok := got[uidl]
		switch {
		case !ok:
			t.Errorf("Progress(%s)[%q] missing, want %+v", key, uidl, w)
		case g.Done == nil || g.Planned == nil:
			t.Errorf("Progress(%s)[%q]: Done or Planned is nil, want non-nil", key, uidl)
		case !progressEqual(g, w):
			t.Errorf("Progress(%s)[%q] = %+v, want %+v", key, uidl, g, w)
		}
	}
}
