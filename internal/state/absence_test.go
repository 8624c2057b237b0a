package state

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestAbsenceCodec(t *testing.T) {
	tests := []struct {
		name    string
		in      absence
		want    string // the exact bytes; "" when encoding fails
		wantErr string
	}{
		{"OnePoll", absence{Since: t2, Polls: 1}, "\x01\x18\x16\xc4\x2c\x14\x88\x80\x00\x00\x00\x00\x01", ""},
		{"OtherZone", absence{Since: t2.In(cet), Polls: 7}, "\x01\x18\x16\xc4\x2c\x14\x88\x80\x00\x00\x00\x00\x07", ""},
		{"ZeroSince", absence{Polls: 1}, "", "zero absent-since"},
		{"ZeroPolls", absence{Since: t2}, "", "0 polls"},
		{"Epoch", absence{Since: time.Unix(0, 0), Polls: 1}, "", "Unix epoch"},
		{"Year2300", absence{Since: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), Polls: 1}, "", "outside the years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeAbsence(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("encodeAbsence = %q, %v; want an error containing %q", b, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(b) != tt.want {
				t.Fatalf("encodeAbsence = %q, %v; want %q", b, err, tt.want)
			}
			got, err := decodeAbsence(b)
			if err != nil || !got.Since.Equal(tt.in.Since) || got.Polls != tt.in.Polls {
				t.Errorf("decodeAbsence(%q) = %+v, %v; want %+v", b, got, err, tt.in)
			}
		})
	}
}

// FuzzDecodeAbsence: decode never panics, every error wraps ErrCorrupt, and
// whatever it accepts encodes back to the same bytes (one encoding per value).
func FuzzDecodeAbsence(f *testing.F) {
	for _, a := range []absence{{Since: t1, Polls: 1}, {Since: t2, Polls: 1<<32 - 1}} {
		b, _ := encodeAbsence(a)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAbsence(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeAbsence(%x): error %v does not wrap ErrCorrupt", b, err)
			}
			return
		}
		again, err := encodeAbsence(a)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decodeAbsence(%x) = %+v, which encodes as %x, %v", b, a, again, err)
		}
	})
}

// listing is one NoteListing call and the number of records it should prune.
type listing struct {
	listed     []string
	after      time.Duration // since t1
	wantPruned int
}

func TestNoteListing(t *testing.T) {
	all := []string{"a", "b", "c"}
	tests := []struct {
		name     string
		minPolls int
		minAge   time.Duration
		progress []string // UIDLs with a Progress entry
		calls    []listing
		wantKept []string
		wantAbs  map[string]absence
	}{
		{"AllListed", 3, 0, nil, []listing{{all, 0, 0}, {all, time.Hour, 0}}, all, nil},
		{"PollsOnly", 3, 0, nil, []listing{{[]string{"a", "c"}, 0, 0}, {[]string{"a"}, time.Minute, 0},
			{[]string{"a"}, 2 * time.Minute, 1}}, []string{"a", "c"}, map[string]absence{"c": {t1.Add(time.Minute), 2}}},
		{"AgeOnly", 0, 24 * time.Hour, nil, []listing{{[]string{"a"}, 0, 0}, {[]string{"a"}, 23 * time.Hour, 0},
			{[]string{"a"}, 24 * time.Hour, 2}}, []string{"a"}, nil},
		{"AgeOnlyFirstPoll", 0, 0, nil, []listing{{[]string{"a"}, 0, 2}}, []string{"a"}, nil},
		{"BothPollsFirst", 2, 24 * time.Hour, nil, []listing{{[]string{"a", "c"}, 0, 0}, {[]string{"a", "c"}, time.Hour, 0},
			{[]string{"a", "c"}, 23 * time.Hour, 0}, {[]string{"a", "c"}, 24 * time.Hour, 1}},
			[]string{"a", "c"}, nil},
		{"BothAgeFirst", 3, time.Hour, nil, []listing{{[]string{"a", "c"}, 0, 0}, {[]string{"a", "c"}, 48 * time.Hour, 0},
			{[]string{"a", "c"}, 49 * time.Hour, 1}}, []string{"a", "c"}, nil},
		{"ReappearingResets", 2, 2 * time.Hour, nil, []listing{{[]string{"a", "c"}, 0, 0}, {[]string{"a", "c"}, time.Hour, 0},
			{all, 2 * time.Hour, 0}, {[]string{"a", "c"}, 3 * time.Hour, 0}, {[]string{"a", "c"}, 4 * time.Hour, 0},
			{[]string{"a", "c"}, 5 * time.Hour, 1}}, []string{"a", "c"}, nil},
		{"ProgressBlocksPruning", 1, 0, []string{"b"}, []listing{{[]string{"a"}, 0, 1}, {[]string{"a"}, time.Hour, 0}},
			[]string{"a", "b"}, map[string]absence{"b": {t1, 1}}},
		{"EmptyListing", 1, 0, nil, []listing{{nil, 0, 3}}, nil, nil},
		{"UnknownUIDLsIgnored", 5, 0, nil, []listing{{[]string{"x", "a", "", "b", "c", "y"}, 0, 0}}, all, nil},
		{"PollCountStopsAtMinPolls", 2, 100 * time.Hour, nil, []listing{{[]string{"a", "b"}, 0, 0},
			{[]string{"a", "b"}, time.Hour, 0}, {[]string{"a", "b"}, 2 * time.Hour, 0}, {[]string{"a", "b"}, 3 * time.Hour, 0}},
			all, map[string]absence{"c": {t1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if err := s.MarkDeliveredBatch(keyWork, map[string]Record{
				"a": {State: Delivered, Delivered: t1, Size: 1},
				"b": {State: Deleted, Delivered: t1, Size: 2, Deleted: t1},
				"c": {State: Deleted, Deleted: t1},
			}); err != nil {
				t.Fatal(err)
			}
			for _, uidl := range tt.progress {
				if err := s.SetProgress(keyWork, uidl, partial); err != nil {
					t.Fatal(err)
				}
			}
			// Another account's identical UIDLs are never touched.
			if err := s.MarkDelivered(keyOther, "b", 1, t1); err != nil {
				t.Fatal(err)
			}
			for i, c := range tt.calls {
				n, err := s.NoteListing(keyWork, c.listed, t1.Add(c.after), tt.minPolls, tt.minAge)
				if n != c.wantPruned || err != nil {
					t.Fatalf("call %d: NoteListing = %d, %v; want %d", i, n, err, c.wantPruned)
				}
			}
			seen, err := s.Seen(keyWork)
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != len(tt.wantKept) {
				t.Errorf("kept %d records (%v), want %v", len(seen), seen, tt.wantKept)
			}
			for _, uidl := range tt.wantKept {
				if _, ok := seen[uidl]; !ok {
					t.Errorf("record %q was pruned", uidl)
				}
			}
			if tt.wantAbs == nil {
				tt.wantAbs = map[string]absence{}
			}
			checkAbsence(t, s, keyWork, tt.wantAbs)
			checkSeen(t, s, keyOther, map[string]Record{"b": {State: Delivered, Delivered: t1, Size: 1}})
			wantProgress := map[string]Progress{}
			for _, uidl := range tt.progress {
				wantProgress[uidl] = partial
			}
			checkProgress(t, s, keyWork, wantProgress)
		})
	}
}

func TestNoteListing_Edges(t *testing.T) {
	s := openTemp(t)
	if n, err := s.NoteListing(keyWork, nil, t1, 1, 0); n != 0 || err != nil {
		t.Fatalf("unknown account: %d, %v", n, err)
	}
	if has, _ := s.HasAccount(keyWork); has {
		t.Error("NoteListing created the account")
	}
	for _, bad := range []struct {
		now      time.Time
		polls    int
		age      time.Duration
		wantErr  string
		accountK AccountKey
	}{
		{time.Time{}, 1, 0, "zero time", keyWork},
		{t1, -1, 0, "negative minimum", keyWork},
		{t1, 1, -time.Hour, "negative minimum", keyWork},
		{t1, 1, 0, "no server", AccountKey{User: "u", Port: 1}},
	} {
		if _, err := s.NoteListing(bad.accountK, nil, bad.now, bad.polls, bad.age); err == nil || !strings.Contains(err.Error(), bad.wantErr) {
			t.Errorf("NoteListing(%v, %d, %v) = %v, want %q", bad.now, bad.polls, bad.age, err, bad.wantErr)
		}
	}

	// Forget drops the absence with the record; an orphan entry is cleaned up;
	// a corrupt one is an error naming its UIDL, and nothing is written.
	if err := s.MarkDeliveredBatch(keyWork, map[string]Record{"a": {State: Delivered, Delivered: t1}, "b": {State: Delivered, Delivered: t1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NoteListing(keyWork, nil, t1, 9, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(keyWork, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	checkAbsence(t, s, keyWork, map[string]absence{"b": {t1, 1}})
	put := func(k, v string) {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			acct, _ := account(tx, keyWork)
			return acct.Bucket(bucketAbsent).Put([]byte(k), []byte(v))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	orphan, _ := encodeAbsence(absence{t1, 3})
	put("0-orphan", string(orphan))
	put("z-orphan", string(orphan))
	if _, err := s.NoteListing(keyWork, nil, t2, 9, 0); err != nil {
		t.Fatal(err)
	}
	checkAbsence(t, s, keyWork, map[string]absence{"b": {t1, 2}})
	put("b", "\x01short")
	if _, err := s.NoteListing(keyWork, []string{"b"}, t2, 9, 0); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("corrupt absence: got %v, want ErrCorrupt naming \"b\"", err)
	}
}
