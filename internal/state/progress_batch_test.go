package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// lastTxID returns the id of the store's last committed transaction: each
// Update that commits adds one.
func lastTxID(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// manyProgress returns n valid entries u0…u(n-1), each different.
func manyProgress(n int) map[string]Progress {
	out := make(map[string]Progress, n)
	for i := range n {
		out[fmt.Sprintf("u%d", i)] = Progress{
			Planned:  map[string]string{"maildir /m": fmt.Sprintf("/m/new/%d.M%dP1.host,S=%d", 1700000000+i, i, 100+i)},
			Attempts: i % 3, FailedAt: t2.Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// SetProgressBatch writes every entry in one commit, replaces what was
// there, leaves other UIDLs and other accounts alone, and is on disk when it
// returns.
func TestSetProgressBatch_Writes(t *testing.T) {
	intent := func(name string) Progress {
		return Progress{Planned: map[string]string{"maildir /m": "/m/new/" + name}}
	}
	many := manyProgress(200)
	tests := []struct {
		name   string
		before map[string]Progress // set one by one with SetProgress first
		batch  map[string]Progress
		want   map[string]Progress
	}{
		{"OneEntry", nil, map[string]Progress{"a": intent("a")}, map[string]Progress{"a": intent("a")}},
		{"SeveralEntries", nil,
			map[string]Progress{"a": intent("a"), "b": partial, "c": failed, "d": {}},
			map[string]Progress{"a": intent("a"), "b": partial, "c": failed, "d": {}}},
		{"ManyEntries", nil, many, many},
		{"ReplacesExisting",
			map[string]Progress{"a": failed, "b": partial},
			map[string]Progress{"a": intent("a"), "b": {}},
			map[string]Progress{"a": intent("a"), "b": {}}},
		{"KeepsOtherUIDLs",
			map[string]Progress{"old": partial, "a": failed},
			map[string]Progress{"a": intent("a"), "new": intent("new")},
			map[string]Progress{"old": partial, "a": intent("a"), "new": intent("new")}},
		{"KeepsEarlierAttempts",
			// The batch path carries an earlier failure over into the intent.
			map[string]Progress{"a": {Reason: "disk full", FailedAt: t1, Attempts: 2}},
			map[string]Progress{"a": {Reason: "disk full", FailedAt: t1, Attempts: 2, Planned: map[string]string{"maildir /m": "/m/new/a"}}},
			map[string]Progress{"a": {Reason: "disk full", FailedAt: t1, Attempts: 2, Planned: map[string]string{"maildir /m": "/m/new/a"}}}},
		{"ReasonTruncated", nil,
			map[string]Progress{"a": {Reason: strings.Repeat("r", 3000), FailedAt: t2}},
			map[string]Progress{"a": {Reason: strings.Repeat("r", MaxReasonLen), FailedAt: t2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			for uidl, p := range tt.before {
				if err := s.SetProgress(keyWork, uidl, p); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.SetProgress(keyOther, "a", failed); err != nil {
				t.Fatal(err)
			}
			before := lastTxID(t, s)
			if err := s.SetProgressBatch(keyWork, tt.batch); err != nil {
				t.Fatalf("SetProgressBatch: %v", err)
			}
			if commits := lastTxID(t, s) - before; commits != 1 {
				t.Errorf("SetProgressBatch of %d entries took %d commits, want 1", len(tt.batch), commits)
			}
			checkProgress(t, s, keyWork, tt.want)
			checkProgress(t, s, keyOther, map[string]Progress{"a": failed})
			checkSeen(t, s, keyWork, map[string]Record{})

			// On disk: it survives a reopen.
			s.Close()
			s2, err := Open(s.Path(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			checkProgress(t, s2, keyWork, tt.want)
			checkProgress(t, s2, keyOther, map[string]Progress{"a": failed})
		})
	}
}

// One invalid entry, wherever map order puts it, and nothing of the batch is
// written: no commit at all, the earlier entries unchanged, no account
// created.
func TestSetProgressBatch_InvalidWritesNothing(t *testing.T) {
	tests := []struct {
		name    string
		key     AccountKey
		uidl    string
		p       Progress
		wantErr string
	}{
		{"EmptyUIDL", keyWork, "", partial, "empty uidl"},
		{"UIDLTooLong", keyWork, strings.Repeat("u", MaxUIDLLen+1), partial, "longer than"},
		{"FailedWithoutTime", keyWork, "bad", Progress{Failed: true, Attempts: 1}, `uidl "bad": failed without a failure time`},
		{"NegativeAttempts", keyWork, "bad", Progress{Attempts: -1}, "negative attempts"},
		{"EmptyTargetID", keyWork, "bad", Progress{Done: map[string]time.Time{"": t1}}, "empty target id"},
		{"PlannedPathRelative", keyWork, "bad", Progress{Planned: map[string]string{"maildir /m": "new/x"}}, "not absolute"},
		{"PlannedPathNotUTF8", keyWork, "bad", Progress{Planned: map[string]string{"maildir /m": "/m/new/\xff"}}, "not valid UTF-8"},
		{"BadKey", AccountKey{Server: "h", User: "u"}, "fine", partial, "port 0"},
	}
	for _, tt := range tests {
		for _, existing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/existing=%v", tt.name, existing), func(t *testing.T) {
				s := openTemp(t)
				want := map[string]Progress{}
				if existing {
					// The entries the batch would replace stay as they were.
					want = map[string]Progress{"u0": failed, "u7": partial, "keep": partial}
					for uidl, p := range want {
						if err := s.SetProgress(keyWork, uidl, p); err != nil {
							t.Fatal(err)
						}
					}
				}
				batch := manyProgress(20)
				batch[tt.uidl] = tt.p
				before := lastTxID(t, s)
				err := s.SetProgressBatch(tt.key, batch)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SetProgressBatch = %v, want an error containing %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), s.Path()) {
					t.Errorf("error %q does not name the store path", err)
				}
				if commits := lastTxID(t, s) - before; commits != 0 {
					t.Errorf("a failed SetProgressBatch committed %d transactions, want none", commits)
				}
				checkProgress(t, s, keyWork, want)
				if has, _ := s.HasAccount(keyWork); has != existing {
					t.Errorf("HasAccount = %v after a failed SetProgressBatch, want %v", has, existing)
				}
			})
		}
	}
}

// SetProgressBatch accepts exactly what SetProgress accepts: the batch path
// must not store an entry the one-at-a-time path would refuse, nor refuse
// one it would store.
func TestSetProgressBatch_ChecksAsSetProgress(t *testing.T) {
	entries := []struct {
		uidl string
		p    Progress
	}{
		{"a", partial},
		{"a", failed},
		{"a b", Progress{}}, // the store does not judge UIDL characters
		{strings.Repeat("u", MaxUIDLLen), Progress{}},
		{strings.Repeat("u", MaxUIDLLen+1), Progress{}},
		{"", Progress{}},
		{"a", Progress{Failed: true}},
		{"a", Progress{Failed: true, FailedAt: t1}},
		{"a", Progress{Attempts: -1}},
		{"a", Progress{Spool: "/s", SpoolSize: -1}},
		{"a", Progress{SpoolSize: 5}},
		{"a", Progress{Done: map[string]time.Time{"x": {}}}},
		{"a", Progress{FailedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"a", Progress{Planned: map[string]string{"": "/m/new/a"}}},
		{"a", Progress{Reason: "bad \xff byte", FailedAt: t1}},
	}
	for i, e := range entries {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			one, batch := openTemp(t), openTemp(t)
			errOne := one.SetProgress(keyWork, e.uidl, e.p)
			errBatch := batch.SetProgressBatch(keyWork, map[string]Progress{e.uidl: e.p})
			if (errOne == nil) != (errBatch == nil) {
				t.Fatalf("uidl %q, %+v: SetProgress = %v, SetProgressBatch = %v; want both to agree", e.uidl, e.p, errOne, errBatch)
			}
			if errOne != nil {
				return
			}
			got1, err1 := one.Progress(keyWork)
			got2, err2 := batch.Progress(keyWork)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			if !progressEqual(got1[e.uidl], got2[e.uidl]) {
				t.Errorf("SetProgress stored %+v, SetProgressBatch %+v", got1[e.uidl], got2[e.uidl])
			}
		})
	}
}

// An empty or nil batch writes nothing: no commit, no account.
func TestSetProgressBatch_EmptyIsNoop(t *testing.T) {
	for _, batch := range []map[string]Progress{nil, {}} {
		s := openTemp(t)
		before := lastTxID(t, s)
		if err := s.SetProgressBatch(keyWork, batch); err != nil {
			t.Errorf("SetProgressBatch(%v) = %v, want nil", batch, err)
		}
		if commits := lastTxID(t, s) - before; commits != 0 {
			t.Errorf("empty SetProgressBatch committed %d transactions, want none", commits)
		}
		if has, _ := s.HasAccount(keyWork); has {
			t.Error("empty SetProgressBatch created the account")
		}
		checkProgress(t, s, keyWork, map[string]Progress{})
	}
}

// The batch path's protocol: the intents of a batch in one commit, then the
// delivery records of the messages that made it in one commit, which clears
// their intents and only theirs.
func TestSetProgressBatch_ThenMarkDeliveredBatch(t *testing.T) {
	s := openTemp(t)
	if err := s.SetProgress(keyWork, "older", partial); err != nil {
		t.Fatal(err)
	}
	intents := manyProgress(64)
	start := lastTxID(t, s)
	if err := s.SetProgressBatch(keyWork, intents); err != nil {
		t.Fatal(err)
	}
	recs := map[string]Record{}
	want := map[string]Progress{"older": partial}
	for uidl, p := range intents {
		if uidl == "u5" || uidl == "u17" { // their link failed: intents stay
			want[uidl] = p
			continue
		}
		recs[uidl] = Record{State: Delivered, Delivered: t2, Size: 100}
	}
	if err := s.MarkDeliveredBatch(keyWork, recs); err != nil {
		t.Fatal(err)
	}
	if commits := lastTxID(t, s) - start; commits != 2 {
		t.Errorf("a batch of %d took %d commits, want 2", len(intents), commits)
	}
	checkProgress(t, s, keyWork, want)
	checkSeen(t, s, keyWork, recs)
}
