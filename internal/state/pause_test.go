package state

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

var (
	testSalt  = []byte("0123456789abcdef")
	testProof = bytes.Repeat([]byte{0xa5, 0x00, 0xff}, 11)
	testPause = Pause{Since: t1, Reason: "the server rejected the password 3 times", Salt: testSalt, Proof: testProof}
)

func pauseEqual(a, b Pause) bool {
	return a.Since.Equal(b.Since) && a.Reason == b.Reason && bytes.Equal(a.Salt, b.Salt) && bytes.Equal(a.Proof, b.Proof)
}

func TestPauseCodec(t *testing.T) {
	long := strings.Repeat("x", 2000)
	euro := strings.Repeat("€", 400) // 3 bytes each: 1024 would split one
	with := func(f func(p *Pause)) Pause { p := testPause; f(&p); return p }
	tests := []struct {
		name    string
		in      Pause
		want    *Pause // what decodes; nil: same as in
		wantErr string // encoding fails
	}{
		{"Plain", testPause, nil, ""},
		{"OtherZone", with(func(p *Pause) { p.Since = t1.In(lmt) }), nil, ""},
		{"EmptyReason", with(func(p *Pause) { p.Reason = "" }), nil, ""},
		{"ReasonTruncated", with(func(p *Pause) { p.Reason = long }), ptr(with(func(p *Pause) { p.Reason = long[:MaxReasonLen] })), ""},
		{"ReasonTruncatedAtCharacter", with(func(p *Pause) { p.Reason = euro }), ptr(with(func(p *Pause) { p.Reason = euro[:1023] })), ""},
		{"ReasonInvalidUTF8", with(func(p *Pause) { p.Reason = "bad \xff" }), ptr(with(func(p *Pause) { p.Reason = "bad \uFFFD" })), ""},
		{"LongestProof", with(func(p *Pause) { p.Proof = make([]byte, maxPauseBytes) }), nil, ""},
		{"ZeroSince", with(func(p *Pause) { p.Since = time.Time{} }), nil, "zero pause time"},
		{"Year10000", with(func(p *Pause) { p.Since = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), nil, "outside the years"},
		{"NoSalt", with(func(p *Pause) { p.Salt = nil }), nil, "no salt"},
		{"NoProof", with(func(p *Pause) { p.Proof = []byte{} }), nil, "no proof"},
		{"LongSalt", with(func(p *Pause) { p.Salt = make([]byte, maxPauseBytes+1) }), nil, "salt of 1025 bytes"},
		{"LongProof", with(func(p *Pause) { p.Proof = make([]byte, maxPauseBytes+1) }), nil, "proof of 1025 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodePause(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("encodePause = %q, %v; want an error containing %q", b, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("encodePause: %v", err)
			}
			want := tt.in
			if tt.want != nil {
				want = *tt.want
			}
			got, err := decodePause(b)
			if err != nil || !pauseEqual(got, want) {
				t.Errorf("decodePause(%q) = %+v, %v; want %+v", b, got, err, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The stored bytes are the on-disk format: this must not change without a
// new pause format.
func TestPauseCodec_Format1(t *testing.T) {
	b, err := encodePause(Pause{Since: t1.In(cet), Reason: "rejected", Salt: []byte{1, 2, 3}, Proof: []byte{4, 5, 6}})
	want := "\x01" + `{"since":"2025-01-02T03:04:05.000000006Z","reason":"rejected","salt":"AQID","proof":"BAUG"}`
	if err != nil || string(b) != want {
		t.Errorf("encodePause = %q, %v; want %q", b, err, want)
	}
}

func TestDecodePause_Corrupt(t *testing.T) {
	const ok = `"since":"2025-01-02T03:04:05Z","reason":"r","salt":"AQID","proof":"BAUG"`
	tests := []struct {
		name, in, wantErr string
	}{
		{"Empty", "", "empty pause value"},
		{"Format0", "\x00{" + ok + "}", "unknown pause format 0"},
		{"Format2", "\x02{" + ok + "}", "unknown pause format 2"},
		{"FormatOnly", "\x01", "not a JSON object"},
		{"Null", "\x01null", "not a JSON object"},
		{"Truncated", "\x01{" + ok, "unexpected EOF"},
		{"TrailingData", "\x01{" + ok + "}{}", "data after the JSON object"},
		{"UnknownField", "\x01{" + ok + `,"until":"2025-01-03T00:00:00Z"}`, `unknown field "until"`},
		{"BadBase64", "\x01" + `{"since":"2025-01-02T03:04:05Z","salt":"!!","proof":"BAUG"}`, "illegal base64"},
		{"BadTime", "\x01" + `{"since":"yesterday","salt":"AQID","proof":"BAUG"}`, "cannot parse"},
		{"NoSince", "\x01" + `{"reason":"r","salt":"AQID","proof":"BAUG"}`, "zero pause time"},
		{"NullSalt", "\x01" + `{"since":"2025-01-02T03:04:05Z","salt":null,"proof":"BAUG"}`, "no salt"},
		{"NoProof", "\x01" + `{"since":"2025-01-02T03:04:05Z","salt":"AQID"}`, "no proof"},
		{"ReasonTooLong", "\x01" + `{"since":"2025-01-02T03:04:05Z","reason":"` + strings.Repeat("x", MaxReasonLen+1) + `","salt":"AQID","proof":"BAUG"}`, "longer than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodePause([]byte(tt.in))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("decodePause(%q) = %+v, %v; want ErrCorrupt containing %q", tt.in, p, err, tt.wantErr)
			}
		})
	}
}

// FuzzDecodePause: decode never panics, every error wraps ErrCorrupt, and
// whatever it accepts encodes to a value that decodes to the same Pause and
// encodes to the same bytes again (JSON has many spellings of one value).
func FuzzDecodePause(f *testing.F) {
	for _, p := range []Pause{testPause, {Since: t2.In(lmt), Salt: []byte{0}, Proof: []byte{1}}} {
		b, _ := encodePause(p)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\x01null"))
	f.Add([]byte("\x01" + `{"Since":"2025-01-02T03:04:05+01:00","SALT":"AQID","proof":"BAUG","reason":"\u00e9"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePause(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodePause(%q): error %v does not wrap ErrCorrupt", b, err)
			}
			return
		}
		enc, err := encodePause(p)
		if err != nil {
			t.Fatalf("decodePause(%q) = %+v, which encodePause rejects: %v", b, p, err)
		}
		p2, err := decodePause(enc)
		if err != nil {
			t.Fatalf("decodePause(%q) = %+v, which encodes as %q, which does not decode: %v", b, p, enc, err)
		}
		if !pauseEqual(p, p2) {
			t.Fatalf("decodePause(%q) = %+v, which round-trips as %+v", b, p, p2)
		}
		if again, err := encodePause(p2); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("encoding %+v is not stable: %q, then %q, %v", p, enc, again, err)
		}
	})
}

// checkPause compares the account's pause with want (nil: not paused).
func checkPause(t *testing.T, s *Store, key AccountKey, want *Pause) {
	t.Helper()
	got, err := s.Pause(key)
	switch {
	case err != nil:
		t.Errorf("Pause(%s): %v", key, err)
	case (got == nil) != (want == nil):
		t.Errorf("Pause(%s) = %+v, want %+v", key, got, want)
	case got != nil && !pauseEqual(*got, *want):
		t.Errorf("Pause(%s) = %+v, want %+v", key, *got, *want)
	}
}

func txID(s *Store) (id int) {
	s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil })
	return id
}

func TestSetPause(t *testing.T) {
	other := Pause{Since: t2, Reason: "-ERR [AUTH] invalid credentials", Salt: []byte("salt2"), Proof: []byte("proof2")}
	tests := []struct {
		name        string
		calls       []*Pause // SetPause on keyWork, in order
		want        *Pause
		wantAccount bool // keyWork exists afterwards
		wantWrites  int  // committed transactions
	}{
		{"Set", []*Pause{&testPause}, &testPause, true, 1},
		{"Replace", []*Pause{&testPause, &other}, &other, true, 2},
		{"Clear", []*Pause{&testPause, nil}, nil, true, 2},
		{"ClearTwice", []*Pause{&testPause, nil, nil}, nil, true, 2},
		{"ClearWhenNone", []*Pause{nil}, nil, false, 0},
		{"SetAfterClear", []*Pause{&testPause, nil, &other}, &other, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			before := txID(s)
			for i, p := range tt.calls {
				if err := s.SetPause(keyWork, p); err != nil {
					t.Fatalf("call %d: SetPause(%+v): %v", i, p, err)
				}
			}
			checkPause(t, s, keyWork, tt.want)
			if has, err := s.HasAccount(keyWork); has != tt.wantAccount || err != nil {
				t.Errorf("HasAccount = %v, %v; want %v", has, err, tt.wantAccount)
			}
			if n := txID(s) - before; n != tt.wantWrites {
				t.Errorf("%d transactions committed, want %d", n, tt.wantWrites)
			}
			checkPause(t, s, keyOther, nil) // other accounts are not touched
		})
	}
}

func TestPause_UnknownAccount(t *testing.T) {
	s := openTemp(t)
	if err := s.SetAccountName(keyOther, "other"); err != nil {
		t.Fatal(err)
	}
	p, err := s.Pause(keyWork)
	if p != nil || err != nil {
		t.Errorf("Pause(unknown account) = %+v, %v; want nil, nil", p, err)
	}
	checkPause(t, s, keyOther, nil) // known, never paused
}

func TestSetPause_Rejects(t *testing.T) {
	s := openTemp(t)
	if err := s.SetPause(keyWork, &testPause); err != nil {
		t.Fatal(err)
	}
	noProof := testPause
	noProof.Proof = nil
	tests := []struct {
		name    string
		key     AccountKey
		p       *Pause
		wantErr string
	}{
		{"NoProof", keyWork, &noProof, "no proof"},
		{"NoUser", AccountKey{Server: "x", Port: 110}, &testPause, "no user"},
		{"NoUserClear", AccountKey{Server: "x", Port: 110}, nil, "no user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetPause(tt.key, tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), s.Path()) {
				t.Errorf("SetPause = %v; want an error naming the store and containing %q", err, tt.wantErr)
			}
		})
	}
	checkPause(t, s, keyWork, &testPause) // a rejected pause leaves the old one
	if _, err := s.Pause(AccountKey{Server: "x", Port: 110}); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("Pause(invalid key) = %v, want an error", err)
	}
}

// A corrupt value is an error naming the account, never "not paused"; it can
// still be cleared (`fetchd resume` must work on it).
func TestPause_CorruptValue(t *testing.T) {
	for _, v := range []string{"", "\x01", "\x01{", "\x07{}", "\x01{\"since\":1}", "\x01null"} {
		s := openTemp(t)
		if err := s.SetAccountName(keyWork, "work"); err != nil {
			t.Fatal(err)
		}
		err := s.db.Update(func(tx *bbolt.Tx) error {
			acct, err := account(tx, keyWork)
			if err != nil {
				return err
			}
			return acct.Put(keyPaused, []byte(v))
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Pause(keyWork)
		if p != nil || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Pause with value %q = %+v, %v; want nil and ErrCorrupt", v, p, err)
		}
		for _, want := range []string{s.Path(), keyWork.String(), "paused"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		if err := s.SetPause(keyWork, nil); err != nil {
			t.Errorf("clearing a corrupt pause: %v", err)
		}
		checkPause(t, s, keyWork, nil)
	}
}

func TestPause_SurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPause(keyWork, &testPause); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, time.Second); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	checkPause(t, s, keyWork, &testPause)
	if err := s.SetPause(keyWork, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path, time.Second); err != nil {
		t.Fatalf("second reopen: %v", err)
	}
	defer s.Close()
	checkPause(t, s, keyWork, nil)
}

// paused is an addition to schema version 3, not a new version: a v3 store
// with a pause still opens (verify, tx.Check, no migration), and every reader
// that predates the key, which is what an older fetchd runs, reads the golden
// content as before. A store without the key reads as not paused.
func TestGolden_V3WithPause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	copyFile(t, filepath.Join("testdata", "v3.db"), path)
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for key := range goldenSeen {
		checkPause(t, s, key, nil)
	}
	if err := s.SetPause(goldenWork, &testPause); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, time.Second)
	if err != nil {
		t.Fatalf("Open a v3 store with a pause: %v", err)
	}
	defer s.Close()
	if got := storedVersion(t, s); got != 3 {
		t.Errorf("schema version %d, want 3", got)
	}
	checkPause(t, s, goldenWork, &testPause)
	checkPause(t, s, goldenLocal, nil)
	verifyGolden(t, s, 3)
	if n, err := s.NoteListing(goldenWork, []string{"UID-1"}, goldenT2.Add(30*24*time.Hour), 1, 0); n != 2 || err != nil {
		t.Errorf("NoteListing = %d, %v; want 2 pruned", n, err)
	}
	if err := s.RecordPoll(goldenWork, Poll{Start: goldenT2, End: goldenT2}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAccountName(goldenWork, "renamed"); err != nil {
		t.Fatal(err)
	}
	checkPause(t, s, goldenWork, &testPause)
}

// SetPause on an account the store has never seen creates it; the other
// readers see an account without name, messages, polls or progress.
func TestSetPause_NewAccount(t *testing.T) {
	s := openTemp(t)
	if err := s.SetPause(keyWork, &testPause); err != nil {
		t.Fatal(err)
	}
	accts, err := s.Accounts()
	if err != nil || len(accts) != 1 {
		t.Fatalf("Accounts = %+v, %v; want 1", accts, err)
	}
	if a := accts[0]; a.Key != keyWork.String() || a.Name != "" || a.Messages != 0 || a.LastPoll != nil {
		t.Errorf("Accounts()[0] = %+v, want %s without name, messages or polls", a, keyWork)
	}
	checkSeen(t, s, keyWork, map[string]Record{})
	checkProgress(t, s, keyWork, map[string]Progress{})
	if polls, err := s.LastPolls(keyWork, 0); len(polls) != 0 || err != nil {
		t.Errorf("LastPolls = %+v, %v; want none", polls, err)
	}
	if n, err := s.FailedCount(keyWork); n != 0 || err != nil {
		t.Errorf("FailedCount = %d, %v; want 0", n, err)
	}
	// Writes next to the pause leave it alone.
	if err := s.MarkDelivered(keyWork, "u1", 10, t2); err != nil {
		t.Fatal(err)
	}
	if n, err := s.NoteListing(keyWork, nil, t2, 1, 0); n != 1 || err != nil {
		t.Fatalf("NoteListing = %d, %v; want 1 pruned", n, err)
	}
	checkSeen(t, s, keyWork, map[string]Record{})
	checkPause(t, s, keyWork, &testPause)
}
