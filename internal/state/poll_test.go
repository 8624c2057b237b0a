package state

import (
	"testing"
	"time"
)

func TestPolls_HistoryCappedNewestFirst(t *testing.T) {
	s := openTemp(t)
	const recorded = maxPolls + 5
	for i := range recorded {
		p := Poll{Start: t1.Add(time.Duration(i) * time.Minute), End: t1.Add(time.Duration(i)*time.Minute + time.Second), Fetched: i}
		if i%10 == 0 {
			p.Err = "connect: connection refused"
		}
		if err := s.RecordPoll(keyWork, p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		n         int
		wantLen   int
		wantFirst int // Fetched of the newest returned
		wantLast  int
	}{
		{1, 1, recorded - 1, recorded - 1},
		{3, 3, recorded - 1, recorded - 3},
		{maxPolls, maxPolls, recorded - 1, recorded - maxPolls},
		{maxPolls + 50, maxPolls, recorded - 1, recorded - maxPolls},
		{0, maxPolls, recorded - 1, recorded - maxPolls},
	}
	for _, tt := range tests {
		got, err := s.LastPolls(keyWork, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.wantLen {
			t.Fatalf("LastPolls(%d): got %d polls, want %d", tt.n, len(got), tt.wantLen)
		}
		if got[0].Fetched != tt.wantFirst || got[len(got)-1].Fetched != tt.wantLast {
			t.Errorf("LastPolls(%d): got Fetched %d..%d, want %d..%d",
				tt.n, got[0].Fetched, got[len(got)-1].Fetched, tt.wantFirst, tt.wantLast)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Fetched != got[i-1].Fetched-1 {
				t.Fatalf("LastPolls(%d): not newest first at %d: %d after %d", tt.n, i, got[i].Fetched, got[i-1].Fetched)
			}
		}
	}
	newest, _ := s.LastPolls(keyWork, 1)
	if want := t1.Add((recorded - 1) * time.Minute); !newest[0].Start.Equal(want) {
		t.Errorf("newest Start = %v, want %v", newest[0].Start, want)
	}
	if got, _ := s.LastPolls(keyWork, 1000); got[recorded-1-100].Err == "" {
		// Fetched 100 is a multiple of 10 and kept.
		t.Errorf("poll 100 lost its Err")
	}
	accts, err := s.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 1 || accts[0].LastPoll == nil || accts[0].LastPoll.Fetched != recorded-1 {
		t.Errorf("Accounts() = %+v, want one account whose last poll fetched %d", accts, recorded-1)
	}
}

func TestPolls_UnknownAccount(t *testing.T) {
	s := openTemp(t)
	got, err := s.LastPolls(keyWork, 5)
	if err != nil || len(got) != 0 {
		t.Fatalf("LastPolls = %v, %v; want none and no error", got, err)
	}
	if has, _ := s.HasAccount(keyWork); has {
		t.Error("LastPolls created the account")
	}
}
