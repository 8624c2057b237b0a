package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// populated returns the path of a closed store with n records of keyWork, a
// progress entry and absence entries: several pages of every kind.
func populated(t *testing.T, n int) string {
	t.Helper()
	s := openTemp(t)
	recs := make(map[string]Record, n)
	for i := range n {
		recs[fmt.Sprintf("%08x-UIDL-0123456789abcdef", i)] = Record{State: Delivered, Delivered: t1, Size: int64(i)}
	}
	if err := errors.Join(s.MarkDeliveredBatch(keyWork, recs), s.SetProgress(keyWork, "p", partial),
		s.RecordPoll(keyWork, Poll{Start: t1, End: t2, Fetched: n})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NoteListing(keyWork, nil, t1, 5, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s.Path()
}

// withBytes returns a copy of the file at path with b written at off.
func withBytes(t *testing.T, path string, off int64, b []byte) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copy(data[off:], b)
	out := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(out, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// usedPages returns the ids of the branch and leaf pages in use.
func usedPages(t *testing.T, path string) (ids []int, pageSize int) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for id := 2; ; {
			info, err := tx.Page(id)
			if info == nil || err != nil {
				return err
			}
			if info.Type == "branch" || info.Type == "leaf" {
				ids = append(ids, id)
			}
			id += 1 + info.OverflowCount
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, db.Info().PageSize
}

// checkRecovered asserts that OpenOrRecover replaced the file at path with a
// fresh, working store and kept the old bytes at movedAside.
func checkRecovered(t *testing.T, path string, old []byte, s *Store, movedAside string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("OpenOrRecover: %v", err)
	}
	defer s.Close()
	if !strings.HasPrefix(movedAside, path+".corrupt-") || !s.IsFresh() {
		t.Errorf("movedAside = %q, IsFresh = %v; want %s.corrupt-… and true", movedAside, s.IsFresh(), path)
	}
	if got, err := os.ReadFile(movedAside); err != nil || !bytes.Equal(got, old) {
		t.Errorf("moved-aside file: %d bytes, %v; want the %d original bytes", len(got), err, len(old))
	}
	if err := s.MarkDelivered(keyWork, "new", 1, t1); err != nil {
		t.Fatal(err)
	}
	checkSeen(t, s, keyWork, map[string]Record{"new": {State: Delivered, Delivered: t1, Size: 1}})
}

func TestOpenOrRecover_Damaged(t *testing.T) {
	good := populated(t, 3000)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	ids, ps := usedPages(t, good)
	if len(ids) < 20 {
		t.Fatalf("only %d pages in use; the test wants a bigger store", len(ids))
	}
	type tc struct {
		name    string
		path    string
		wantErr error // what Open says
	}
	tests := []tc{
		{"Garbage", withBytes(t, good, 0, bytes.Repeat([]byte("From: x\r\n"), 2000)), ErrNotStateStore},
		{"ZeroedMetaPages", withBytes(t, good, 0, make([]byte, 2*ps)), ErrNotStateStore},
		{"OtherBboltDatabase", craft(t, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("w")); return err }), ErrNotStateStore},
		{"NoSchemaVersion", craft(t, withMeta(nil)), ErrNotStateStore},
	}
	hwm := (ids[len(ids)-1] + 1) * ps // the file may have free pages after it
	for _, size := range []int{100, ps + 10, 2*ps + 100, 3 * ps, hwm / 2, hwm - ps} {
		p := filepath.Join(t.TempDir(), "state.db")
		if err := os.WriteFile(p, data[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		want := ErrDamaged
		if size < ps {
			want = ErrNotStateStore
		}
		tests = append(tests, tc{fmt.Sprint("TruncatedTo", size), p, want})
	}
	// Random element headers in pages in use (24 spread over the file, with
	// the first and last), and a zeroed page.
	for i := range 24 {
		id := ids[i*(len(ids)-1)/23]
		off := int64(id*ps) + 16
		tests = append(tests, tc{fmt.Sprintf("RandomPage%d", id), withBytes(t, good, off, randomBytes(uint64(i), 256)), ErrDamaged})
	}
	tests = append(tests, tc{"ZeroedPage", withBytes(t, good, int64(ids[len(ids)/2]*ps), make([]byte, ps)), ErrDamaged})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, err := os.ReadFile(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if s, err := Open(tt.path, time.Second); !errors.Is(err, tt.wantErr) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open: got %v, want %v", err, tt.wantErr)
			}
			if after, _ := os.ReadFile(tt.path); !bytes.Equal(after, old) {
				t.Fatal("a failed Open changed the file")
			}
			s, movedAside, err := OpenOrRecover(tt.path, time.Second)
			checkRecovered(t, tt.path, old, s, movedAside, err)
		})
	}
}

// Random bytes anywhere in a real store (including free space, which no check
// can fault) never make a panic escape: the store is moved aside, or it opens
// and reads back, or a read fails with ErrCorrupt.
func TestOpenOrRecover_RandomDamageNeverPanics(t *testing.T) {
	good := populated(t, 1500)
	fi, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 1))
		off := int64(4096 + r.IntN(int(fi.Size())-4096))
		path := withBytes(t, good, off, randomBytes(seed, 1+r.IntN(64)))
		s, movedAside, err := OpenOrRecover(path, time.Second)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if movedAside == "" {
			if _, err := s.Seen(keyWork); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Errorf("seed %d: opened, then Seen: %v", seed, err)
			}
		}
		s.Close()
	}
}

func TestOpenOrRecover_NotMoved(t *testing.T) {
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	tests := []struct {
		name    string
		setup   func(t *testing.T) (path string, cleanup func())
		wantErr error // nil: opens
		fresh   bool
	}{
		{"NewFile", func(t *testing.T) (string, func()) { return filepath.Join(t.TempDir(), "d", "state.db"), nil }, nil, true},
		{"EmptyFile", func(t *testing.T) (string, func()) {
			p := filepath.Join(t.TempDir(), "state.db")
			return p, func() { os.WriteFile(p, nil, 0o600) }
		}, nil, true},
		{"ExistingStore", func(t *testing.T) (string, func()) { return populated(t, 10), nil }, nil, false},
		{"Locked", func(t *testing.T) (string, func()) {
			s := openTemp(t)
			return s.Path(), nil
		}, ErrLocked, false},
		{"NewerSchema", func(t *testing.T) (string, func()) {
			return craft(t, withMeta(u32(schemaVersion+1))), nil
		}, ErrNewerSchema, false},
		{"PathIsDirectory", func(t *testing.T) (string, func()) {
			p := filepath.Join(t.TempDir(), "state.db")
			return p, func() { os.Mkdir(p, 0o700) }
		}, errAny, false},
		{"Unreadable", func(t *testing.T) (string, func()) {
			if os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			p := populated(t, 1)
			return p, func() { os.Chmod(p, 0) }
		}, errAny, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, cleanup := tt.setup(t)
			if cleanup != nil {
				cleanup()
			}
			dir := filepath.Dir(path)
			before, _ := os.ReadDir(dir)
			s, movedAside, err := OpenOrRecover(path, 100*time.Millisecond)
			if movedAside != "" {
				t.Errorf("moved the file to %s", movedAside)
			}
			after, _ := os.ReadDir(dir)
			if tt.wantErr != nil {
				if err == nil {
					s.Close()
					t.Fatalf("opened, want %v", tt.wantErr)
				}
				if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Errorf("got %v, want %v", err, tt.wantErr)
				}
				if !slices.EqualFunc(before, after, func(a, b os.DirEntry) bool { return a.Name() == b.Name() }) {
					t.Errorf("directory changed from %v to %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.IsFresh() != tt.fresh || s.Created().IsZero() {
				t.Errorf("IsFresh = %v, Created = %v; want %v and set", s.IsFresh(), s.Created(), tt.fresh)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestMoveAside_NeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	var got []string
	for i := range 3 {
		if err := os.WriteFile(path, []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		to, err := moveAside(path, t1)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(to))
	}
	want := []string{"state.db.corrupt-20250102T030405Z", "state.db.corrupt-20250102T030405Z-2", "state.db.corrupt-20250102T030405Z-3"}
	if !slices.Equal(got, want) {
		t.Errorf("moved to %q, want %q", got, want)
	}
	for i, name := range want {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(b, []byte{byte(i)}) {
			t.Errorf("%s holds %q, want %q", name, b, []byte{byte(i)})
		}
	}
}
