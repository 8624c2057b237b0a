package state

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestRecords(t *testing.T) {
	longUIDL := strings.Repeat("x", 512)
	oddUIDL := "a b\x7f~!@#$%^&*()<>\"'\\ z"
	tests := []struct {
		name string
		do   func(s *Store) error
		want map[string]Record
	}{
		{
			name: "NewAccountIsEmpty",
			do:   func(s *Store) error { return nil },
			want: map[string]Record{},
		},
		{
			name: "Delivered",
			do: func(s *Store) error {
				return errors.Join(
					s.MarkDelivered(keyWork, "a", 10, t1),
					s.MarkDelivered(keyWork, "b", 0, t2),
				)
			},
			want: map[string]Record{
				"a": {State: Delivered, Delivered: t1, Size: 10},
				"b": {State: Delivered, Delivered: t2, Size: 0},
			},
		},
		{
			name: "DeletedKeepsDeliveryTime",
			do: func(s *Store) error {
				return errors.Join(
					s.MarkDelivered(keyWork, "a", 10, t1),
					s.MarkDelivered(keyWork, "b", 20, t1),
					s.MarkDeleted(keyWork, []string{"a"}, t2),
				)
			},
			want: map[string]Record{
				"a": {State: Deleted, Delivered: t1, Size: 10, Deleted: t2},
				"b": {State: Delivered, Delivered: t1, Size: 20},
			},
		},
		{
			name: "DeletedTwiceKeepsFirstTime",
			do: func(s *Store) error {
				return errors.Join(
					s.MarkDelivered(keyWork, "a", 10, t1),
					s.MarkDeleted(keyWork, []string{"a"}, t1.Add(time.Minute)),
					s.MarkDeleted(keyWork, []string{"a"}, t2),
				)
			},
			want: map[string]Record{"a": {State: Deleted, Delivered: t1, Size: 10, Deleted: t1.Add(time.Minute)}},
		},
		{
			name: "DeletedWithoutDelivery",
			do:   func(s *Store) error { return s.MarkDeleted(keyWork, []string{"never"}, t2) },
			want: map[string]Record{"never": {State: Deleted, Deleted: t2}},
		},
		{
			name: "RedeliveryReplaces",
			do: func(s *Store) error {
				return errors.Join(
					s.MarkDelivered(keyWork, "a", 10, t1),
					s.MarkDelivered(keyWork, "a", 11, t2),
				)
			},
			want: map[string]Record{"a": {State: Delivered, Delivered: t2, Size: 11}},
		},
		{
			name: "Forget",
			do: func(s *Store) error {
				return errors.Join(
					s.MarkDelivered(keyWork, "a", 10, t1),
					s.MarkDelivered(keyWork, "b", 20, t1),
					s.Forget(keyWork, []string{"a", "unknown", ""}),
					s.Forget(keyOther, []string{"b"}), // other account: no effect
				)
			},
			want: map[string]Record{"b": {State: Delivered, Delivered: t1, Size: 20}},
		},
		{
			name: "Batch",
			do: func(s *Store) error {
				return s.MarkDeliveredBatch(keyWork, map[string]Record{
					"a": {State: Delivered, Delivered: t1, Size: 1},
					"b": {State: Deleted, Delivered: t1, Size: 2, Deleted: t2},
				})
			},
			want: map[string]Record{
				"a": {State: Delivered, Delivered: t1, Size: 1},
				"b": {State: Deleted, Delivered: t1, Size: 2, Deleted: t2},
			},
		},
		{
			name: "OddAndLongUIDLs",
			do: func(s *Store) error {
				return errors.Join(
					s.MarkDelivered(keyWork, longUIDL, 1, t1),
					s.MarkDelivered(keyWork, oddUIDL, 2, t1),
				)
			},
			want: map[string]Record{
				longUIDL: {State: Delivered, Delivered: t1, Size: 1},
				oddUIDL:  {State: Delivered, Delivered: t1, Size: 2},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if err := tt.do(s); err != nil {
				t.Fatal(err)
			}
			checkSeen(t, s, keyWork, tt.want)

			// Everything must survive a reopen, i.e. be on disk.
			path := s.Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			checkSeen(t, s2, keyWork, tt.want)
		})
	}
}

func TestRecords_Invalid(t *testing.T) {
	tests := []struct {
		name    string
		do      func(s *Store) error
		wantErr string
	}{
		{"EmptyUIDL", func(s *Store) error { return s.MarkDelivered(keyWork, "", 1, t1) }, "empty uidl"},
		{"UIDLTooLong", func(s *Store) error {
			return s.MarkDelivered(keyWork, strings.Repeat("u", MaxUIDLLen+1), 1, t1)
		}, "longer than"},
		{"NegativeSize", func(s *Store) error { return s.MarkDelivered(keyWork, "a", -1, t1) }, "negative size"},
		{"ZeroDeliveryTime", func(s *Store) error { return s.MarkDelivered(keyWork, "a", 1, time.Time{}) }, "zero delivery time"},
		{"ZeroDeletionTime", func(s *Store) error { return s.MarkDeleted(keyWork, []string{"a"}, time.Time{}) }, "zero deletion time"},
		{"EpochTime", func(s *Store) error { return s.MarkDelivered(keyWork, "a", 1, time.Unix(0, 0)) }, "epoch"},
		{"TimeOutOfRange", func(s *Store) error {
			return s.MarkDelivered(keyWork, "a", 1, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))
		}, "outside the years"},
		{"NoServer", func(s *Store) error { return s.MarkDelivered(AccountKey{Port: 1, User: "u"}, "a", 1, t1) }, "no server"},
		{"NoUser", func(s *Store) error { return s.MarkDelivered(AccountKey{Server: "h", Port: 1}, "a", 1, t1) }, "no user"},
		{"BadPort", func(s *Store) error { return s.MarkDelivered(AccountKey{Server: "h", User: "u"}, "a", 1, t1) }, "port 0"},
		{"BadKeyOnRead", func(s *Store) error { _, err := s.Seen(AccountKey{}); return err }, "no server"},
		{"BatchWithOneBadRecordWritesNone", func(s *Store) error {
			return s.MarkDeliveredBatch(keyWork, map[string]Record{
				"good": {State: Delivered, Delivered: t1, Size: 1},
				"bad":  {Delivered: t1, Size: 1}, // no state
			})
		}, "unknown state 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			err := tt.do(s)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), s.Path()) {
				t.Errorf("error %q does not name the store path", err)
			}
			checkSeen(t, s, keyWork, map[string]Record{})
		})
	}
}

func TestHasAccount(t *testing.T) {
	s := openTemp(t)
	for _, step := range []struct {
		do   func() error
		want bool
	}{
		{func() error { return nil }, false},
		{func() error { return s.MarkDelivered(keyWork, "a", 1, t1) }, true},
		{func() error { return s.Forget(keyWork, []string{"a"}) }, true},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		got, err := s.HasAccount(keyWork)
		if err != nil || got != step.want {
			t.Fatalf("HasAccount = %v, %v, want %v", got, err, step.want)
		}
	}
}

func TestSeen_CorruptRecord(t *testing.T) {
	valid, err := encodeRecord(Record{State: Delivered, Delivered: t1, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		value []byte
	}{
		{"Empty", []byte{}},
		{"Short", valid[:10]},
		{"TrailingByte", append(append([]byte{}, valid...), 0)},
		{"UnknownFormat", append([]byte{9}, valid[1:]...)},
		{"UnknownState", append([]byte{1, 7}, valid[2:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if err := s.MarkDelivered(keyWork, "good", 1, t1); err != nil {
				t.Fatal(err)
			}
			err := s.db.Update(func(tx *bbolt.Tx) error {
				acct, _ := account(tx, keyWork)
				return acct.Bucket(bucketUIDLs).Put([]byte("bad-uidl"), tt.value)
			})
			if err != nil {
				t.Fatal(err)
			}
			for name, do := range map[string]func() error{
				"Seen":        func() error { _, err := s.Seen(keyWork); return err },
				"MarkDeleted": func() error { return s.MarkDeleted(keyWork, []string{"bad-uidl"}, t2) },
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
		})
	}
}

func TestConcurrentAccounts(t *testing.T) {
	s := openTemp(t)
	const accounts, msgs = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, accounts*(msgs+1))
	for a := range accounts {
		key := AccountKey{Server: "pop.example.com", Port: 995, User: fmt.Sprint("user", a)}
		wg.Go(func() {
			for m := range msgs {
				errs <- s.MarkDelivered(key, fmt.Sprint("uidl", m), int64(m), t1)
			}
			errs <- s.RecordPoll(key, Poll{Start: t1, End: t2, Fetched: msgs})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	accts, err := s.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != accounts {
		t.Fatalf("got %d accounts, want %d", len(accts), accounts)
	}
	for _, a := range accts {
		if a.Messages != msgs || a.LastPoll == nil || a.LastPoll.Fetched != msgs {
			t.Errorf("account %s: got %d messages, last poll %+v; want %d", a.Key, a.Messages, a.LastPoll, msgs)
		}
	}
}
