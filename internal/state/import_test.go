package state

import (
	"strings"
	"testing"
	"time"
)

func TestImportSeen(t *testing.T) {
	now := t2
	early := t1.Add(-48 * time.Hour)
	tests := []struct {
		name             string
		before           map[string]Record // records already in the store
		progress         string            // a UIDL with delivery progress
		in               []Imported
		wantAdded, known int
		want             map[string]Record // every record afterwards
	}{
		{
			name:      "fresh account, times kept or now",
			in:        []Imported{{UIDL: "a", At: t1}, {UIDL: "b"}},
			wantAdded: 2,
			want: map[string]Record{
				"a": {State: Delivered, Delivered: t1},
				"b": {State: Delivered, Delivered: now},
			},
		},
		{
			name:   "fetchd's own records win",
			before: map[string]Record{"a": {State: Delivered, Delivered: t1, Size: 123}},
			in:     []Imported{{UIDL: "a", At: early}, {UIDL: "c", At: early}},
			// "a" keeps its size and time: another program's word does not
			// replace what fetchd saw itself.
			wantAdded: 1, known: 1,
			want: map[string]Record{
				"a": {State: Delivered, Delivered: t1, Size: 123},
				"c": {State: Delivered, Delivered: early},
			},
		},
		{
			name:      "delivery in progress is known",
			progress:  "p",
			in:        []Imported{{UIDL: "p", At: t1}},
			wantAdded: 0, known: 1,
			want: map[string]Record{},
		},
		{
			name:      "duplicates count once with the earliest time",
			in:        []Imported{{UIDL: "d", At: t1}, {UIDL: "d", At: early}, {UIDL: "d"}},
			wantAdded: 1,
			want:      map[string]Record{"d": {State: Delivered, Delivered: early}},
		},
		{
			name: "a time in the future or unstorable becomes now",
			in: []Imported{
				{UIDL: "f", At: now.Add(time.Hour)},
				{UIDL: "e", At: time.Unix(0, 0)},
				{UIDL: "o", At: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)},
			},
			wantAdded: 3,
			want: map[string]Record{
				"f": {State: Delivered, Delivered: now},
				"e": {State: Delivered, Delivered: now},
				"o": {State: Delivered, Delivered: now},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if len(tt.before) > 0 {
				if err := s.MarkDeliveredBatch(keyWork, tt.before); err != nil {
					t.Fatal(err)
				}
			}
			if tt.progress != "" {
				if err := s.SetProgress(keyWork, tt.progress, Progress{Done: map[string]time.Time{"t1": t1}}); err != nil {
					t.Fatal(err)
				}
			}
			added, known, err := s.PreviewImport(keyWork, tt.in)
			if err != nil || added != tt.wantAdded || known != tt.known {
				t.Fatalf("PreviewImport: got %d added, %d known, %v; want %d, %d", added, known, err, tt.wantAdded, tt.known)
			}
			want := tt.before
			if want == nil {
				want = map[string]Record{}
			}
			checkSeen(t, s, keyWork, want) // the preview wrote nothing
			added, known, err = s.ImportSeen(keyWork, tt.in, now)
			if err != nil || added != tt.wantAdded || known != tt.known {
				t.Fatalf("ImportSeen: got %d added, %d known, %v; want %d, %d", added, known, err, tt.wantAdded, tt.known)
			}
			checkSeen(t, s, keyWork, tt.want)
			// Idempotent: a second import adds nothing and changes nothing.
			added, known, err = s.ImportSeen(keyWork, tt.in, now.Add(time.Hour))
			if err != nil || added != 0 || known != len(tt.want)+btoi(tt.progress != "") {
				t.Fatalf("second ImportSeen: got %d added, %d known, %v; want 0, %d", added, known, err, len(tt.want))
			}
			checkSeen(t, s, keyWork, tt.want)
			checkSeen(t, s, keyOther, map[string]Record{}) // other accounts untouched
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestImportSeen_BadUIDLWritesNothing(t *testing.T) {
	for _, bad := range []string{"", strings.Repeat("x", MaxUIDLLen+1)} {
		s := openTemp(t)
		_, _, err := s.ImportSeen(keyWork, []Imported{{UIDL: "good"}, {UIDL: bad}}, t1)
		if err == nil {
			t.Fatalf("ImportSeen with a %d-byte UIDL: no error", len(bad))
		}
		checkSeen(t, s, keyWork, map[string]Record{})
	}
}

// An imported record is a record: the account is no longer one fetchd has
// no memory of, which is what the lost-state guard looks for.
func TestImportSeen_AccountHasRecords(t *testing.T) {
	s := openTemp(t)
	if ok, _ := s.HasAccount(keyWork); ok {
		t.Fatal("a fresh store has the account")
	}
	if _, _, err := s.PreviewImport(keyWork, []Imported{{UIDL: "a"}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasAccount(keyWork); ok {
		t.Fatal("PreviewImport created the account")
	}
	if _, _, err := s.ImportSeen(keyWork, []Imported{{UIDL: "a"}}, t1); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.HasAccount(keyWork); !ok || err != nil {
		t.Fatalf("HasAccount after ImportSeen: %v, %v", ok, err)
	}
}
