package state

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

var (
	partial = Progress{Done: map[string]time.Time{"maildir /m": t1, lmtpAlice: t1.Add(time.Second)},
		Spool: "/spool/a", Reason: "lmtp bob: 452 mailbox full", FailedAt: t2, Attempts: 1}
	failed = Progress{Done: map[string]time.Time{}, Failed: true, Reason: "550 5.1.1 no such user",
		FailedAt: t2, Attempts: 2, Quarantined: true}
)

func TestProgress_Store(t *testing.T) {
	set := func(s *Store, key AccountKey, uidl string, p Progress) error { return s.SetProgress(key, uidl, p) }
	tests := []struct {
		name     string
		do       func(s *Store) error
		want     map[string]Progress
		wantSeen map[string]Record
	}{
		{"NewAccountIsEmpty", func(s *Store) error { return nil }, map[string]Progress{}, map[string]Record{}},
		{"SetAndRead", func(s *Store) error {
			return errors.Join(set(s, keyWork, "a", partial), set(s, keyWork, "b", failed), set(s, keyWork, "c", Progress{}))
		}, map[string]Progress{"a": partial, "b": failed, "c": {}}, map[string]Record{}},
		{"SetReplaces", func(s *Store) error {
			return errors.Join(set(s, keyWork, "a", failed), set(s, keyWork, "a", partial))
		}, map[string]Progress{"a": partial}, map[string]Record{}},
		{"ReasonTruncated", func(s *Store) error {
			return set(s, keyWork, "a", Progress{Reason: strings.Repeat("r", 5000), FailedAt: t2})
		}, map[string]Progress{"a": {Reason: strings.Repeat("r", MaxReasonLen), FailedAt: t2}}, map[string]Record{}},
		{"MarkDeliveredClears", func(s *Store) error {
			return errors.Join(set(s, keyWork, "a", partial), set(s, keyWork, "b", failed),
				s.MarkDelivered(keyWork, "a", 10, t2))
		}, map[string]Progress{"b": failed}, map[string]Record{"a": {State: Delivered, Delivered: t2, Size: 10}}},
		{"MarkDeliveredBatchClears", func(s *Store) error {
			return errors.Join(set(s, keyWork, "a", partial), set(s, keyWork, "b", failed), set(s, keyWork, "c", partial),
				s.MarkDeliveredBatch(keyWork, map[string]Record{
					"a": {State: Delivered, Delivered: t2, Size: 1},
					"b": {State: Deleted, Delivered: t2, Size: 2, Deleted: t2},
				}))
		}, map[string]Progress{"c": partial}, map[string]Record{
			"a": {State: Delivered, Delivered: t2, Size: 1},
			"b": {State: Deleted, Delivered: t2, Size: 2, Deleted: t2},
		}},
		{"ClearProgress", func(s *Store) error {
			return errors.Join(set(s, keyWork, "a", partial), set(s, keyWork, "b", failed), set(s, keyWork, "c", partial),
				s.ClearProgress(keyWork, []string{"a", "unknown", ""}),
				s.ClearProgress(keyOther, []string{"b"}), // other account: no effect
				s.ClearProgress(keyWork, nil))
		}, map[string]Progress{"b": failed, "c": partial}, map[string]Record{}},
		{"OtherAccount", func(s *Store) error {
			return errors.Join(set(s, keyOther, "a", failed), s.MarkDelivered(keyWork, "a", 1, t1))
		}, map[string]Progress{}, map[string]Record{"a": {State: Delivered, Delivered: t1, Size: 1}}},
		{"MarkDeletedKeepsProgress", func(s *Store) error {
			return errors.Join(set(s, keyWork, "a", partial), s.MarkDeleted(keyWork, []string{"a"}, t2))
		}, map[string]Progress{"a": partial}, map[string]Record{"a": {State: Deleted, Deleted: t2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if err := tt.do(s); err != nil {
				t.Fatal(err)
			}
			checkProgress(t, s, keyWork, tt.want)
			checkSeen(t, s, keyWork, tt.wantSeen)

			// Everything must survive a reopen, i.e. be on disk.
			s.Close()
			s2, err := Open(s.Path(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			checkProgress(t, s2, keyWork, tt.want)
			checkSeen(t, s2, keyWork, tt.wantSeen)
		})
	}
}

// MarkDelivered writes the record and drops the progress in one commit: a
// crash can leave one state or the other, never a delivered record beside
// stale progress, nor progress gone without the record.
func TestMarkDelivered_ClearsProgressAtomically(t *testing.T) {
	s := openTemp(t)
	if err := s.SetProgress(keyWork, "a", partial); err != nil {
		t.Fatal(err)
	}
	err := s.MarkDeliveredBatch(keyWork, map[string]Record{
		"a":   {State: Delivered, Delivered: t2, Size: 1},
		"bad": {Delivered: t2}, // no state: the whole batch fails
	})
	if err == nil {
		t.Fatal("MarkDeliveredBatch with a bad record succeeded")
	}
	checkProgress(t, s, keyWork, map[string]Progress{"a": partial})
	checkSeen(t, s, keyWork, map[string]Record{})

	txID := func() (id int) {
		s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	before := txID()
	if err := s.MarkDelivered(keyWork, "a", 1, t2); err != nil {
		t.Fatal(err)
	}
	if commits := txID() - before; commits != 1 {
		t.Errorf("MarkDelivered took %d commits, want 1", commits)
	}
	checkProgress(t, s, keyWork, map[string]Progress{})
	checkSeen(t, s, keyWork, map[string]Record{"a": {State: Delivered, Delivered: t2, Size: 1}})
}

func TestResetFailed(t *testing.T) {
	failed2 := failed
	failed2.Done = map[string]time.Time{"maildir /m": t1}
	tests := []struct {
		name    string
		entries map[string]Progress
		wantN   int
	}{
		{"NoAccount", nil, 0},
		{"NoneFailed", map[string]Progress{"a": partial, "b": {}}, 0},
		{"SomeFailed", map[string]Progress{"a": partial, "b": failed, "c": failed2}, 2},
		{"AllFailed", map[string]Progress{"b": failed}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			for uidl, p := range tt.entries {
				if err := s.SetProgress(keyWork, uidl, p); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.SetProgress(keyOther, "x", failed); err != nil {
				t.Fatal(err)
			}
			if n, err := s.FailedCount(keyWork); n != tt.wantN || err != nil {
				t.Errorf("FailedCount before = %d, %v; want %d", n, err, tt.wantN)
			}
			if n, err := s.ResetFailed(keyWork); n != tt.wantN || err != nil {
				t.Errorf("ResetFailed = %d, %v; want %d", n, err, tt.wantN)
			}
			if n, err := s.FailedCount(keyWork); n != 0 || err != nil {
				t.Errorf("FailedCount after = %d, %v; want 0", n, err)
			}
			// Only Failed changes: targets that accepted are still skipped.
			want := map[string]Progress{}
			for uidl, p := range tt.entries {
				p.Failed = false
				want[uidl] = p
			}
			checkProgress(t, s, keyWork, want)
			if n, err := s.FailedCount(keyOther); n != 1 || err != nil {
				t.Errorf("FailedCount(other account) = %d, %v; want 1", n, err)
			}
			if n, err := s.ResetFailed(keyWork); n != 0 || err != nil {
				t.Errorf("second ResetFailed = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestSetProgress_Invalid(t *testing.T) {
	tests := []struct {
		name    string
		key     AccountKey
		uidl    string
		p       Progress
		wantErr string
	}{
		{"EmptyUIDL", keyWork, "", partial, "empty uidl"},
		{"UIDLTooLong", keyWork, strings.Repeat("u", MaxUIDLLen+1), partial, "longer than"},
		{"BadKey", AccountKey{Server: "h", User: "u"}, "a", partial, "port 0"},
		{"EmptyTargetID", keyWork, "a", Progress{Done: map[string]time.Time{"": t1}}, `uidl "a": empty target id`},
		{"FailedWithoutTime", keyWork, "a", Progress{Failed: true}, "failed without a failure time"},
		{"NegativeAttempts", keyWork, "a", Progress{Attempts: -2}, "negative attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			err := s.SetProgress(tt.key, tt.uidl, tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), s.Path()) {
				t.Errorf("error %q does not name the store path", err)
			}
			if has, _ := s.HasAccount(keyWork); has {
				t.Error("a failed SetProgress created the account")
			}
		})
	}
}

func TestProgress_Corrupt(t *testing.T) {
	for _, value := range []string{"", "\x07{}", "\x01{", "\x01" + `{"failed":true}`} {
		t.Run(strings.ToValidUTF8(value, "?"), func(t *testing.T) {
			s := openTemp(t)
			if err := s.SetProgress(keyWork, "good", failed); err != nil {
				t.Fatal(err)
			}
			err := s.db.Update(func(tx *bbolt.Tx) error {
				b, _ := progressBucket(tx, keyWork)
				return b.Put([]byte("bad-uidl"), []byte(value))
			})
			if err != nil {
				t.Fatal(err)
			}
			for name, do := range map[string]func() error{
				"Progress":    func() error { _, err := s.Progress(keyWork); return err },
				"FailedCount": func() error { _, err := s.FailedCount(keyWork); return err },
				"ResetFailed": func() error { _, err := s.ResetFailed(keyWork); return err },
			} {
				err := do()
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: got %v, want ErrCorrupt", name, err)
				}
				for _, want := range []string{`"bad-uidl"`, keyWork.String()} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q does not name %s", name, err, want)
					}
				}
			}
			// A failed ResetFailed changed nothing; clearing the entry recovers.
			if err := s.ClearProgress(keyWork, []string{"bad-uidl"}); err != nil {
				t.Fatal(err)
			}
			checkProgress(t, s, keyWork, map[string]Progress{"good": failed})
		})
	}
}
