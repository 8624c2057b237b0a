package state

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkSeen100k(b *testing.B) {
	s := openTemp(b)
	const n, batch = 100_000, 10_000
	for i := 0; i < n; i += batch {
		recs := make(map[string]Record, batch)
		for j := i; j < i+batch; j++ {
			recs[fmt.Sprintf("%08x-UIDL-0123456789abcdef0123456789", j)] = Record{State: Delivered, Delivered: t1, Size: int64(j)}
		}
		if err := s.MarkDeliveredBatch(keyWork, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		seen, err := s.Seen(keyWork)
		if err != nil || len(seen) != n {
			b.Fatalf("Seen: %d records, %v", len(seen), err)
		}
	}
}

// Each call is one fsynced commit: this measures the disk as much as the code.
func BenchmarkMarkDelivered(b *testing.B) {
	s := openTemp(b)
	i := 0
	for b.Loop() {
		if err := s.MarkDelivered(keyWork, fmt.Sprint("uidl-", i), 1000, t1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// populate100k writes 100k records in batches, as BenchmarkSeen100k does.
func populate100k(b *testing.B, s *Store) []string {
	const n, batch = 100_000, 10_000
	uidls := make([]string, 0, n)
	for i := 0; i < n; i += batch {
		recs := make(map[string]Record, batch)
		for j := i; j < i+batch; j++ {
			u := fmt.Sprintf("%08x-UIDL-0123456789abcdef0123456789", j)
			recs[u] = Record{State: Delivered, Delivered: t1, Size: int64(j)}
			uidls = append(uidls, u)
		}
		if err := s.MarkDeliveredBatch(keyWork, recs); err != nil {
			b.Fatal(err)
		}
	}
	return uidls
}

// NoteListing runs every poll. Window: a Gmail-like listing of the newest 250
// of 100k records, in the steady state (every absence entry has reached
// minPolls: a read-only pass). AllListed: the server lists all of them.
// FirstAbsence: 99,750 records go missing at once (every entry is written).
func BenchmarkNoteListing100k(b *testing.B) {
	for _, tc := range []struct {
		name   string
		listed func(all []string) []string
		reset  bool
	}{
		{"Window", func(all []string) []string { return all[len(all)-250:] }, false},
		{"AllListed", func(all []string) []string { return all }, false},
		{"FirstAbsence", func(all []string) []string { return all[len(all)-250:] }, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := openTemp(b)
			all := populate100k(b, s)
			listed := tc.listed(all)
			now := t1
			for range 3 { // reach the steady state
				now = now.Add(time.Minute)
				if _, err := s.NoteListing(keyWork, listed, now, 3, 1000*time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if tc.reset {
					b.StopTimer()
					if _, err := s.NoteListing(keyWork, all, now, 3, time.Hour); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				now = now.Add(time.Minute)
				if n, err := s.NoteListing(keyWork, listed, now, 3, 1000*time.Hour); n != 0 || err != nil {
					b.Fatalf("NoteListing = %d, %v", n, err)
				}
			}
		})
	}
}

// BenchmarkOpen100k is the cost of the whole-file check at every Open.
func BenchmarkOpen100k(b *testing.B) {
	s := openTemp(b)
	populate100k(b, s)
	if _, err := s.NoteListing(keyWork, nil, t1, 3, time.Hour); err != nil {
		b.Fatal(err)
	}
	path := s.Path()
	s.Close()
	for b.Loop() {
		s, err := Open(path, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkRecordBatch64 is the batch path's one commit per batch: the
// records of 64 messages and the intents of the next 64. Reported per
// message (ns/op ÷ 64), to set beside BenchmarkMarkDelivered's one commit
// per message.
func BenchmarkRecordBatch64(b *testing.B) {
	s := openTemp(b)
	const batch = 64
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		recs := make(map[string]Record, batch)
		intents := make(map[string]Progress, batch)
		for j := 0; j < batch; j++ {
			recs[fmt.Sprintf("uidl-%d", i+j)] = Record{State: Delivered, Delivered: t1, Size: 1000}
			intents[fmt.Sprintf("uidl-%d", i+batch+j)] = Progress{Planned: map[string]string{"maildir /m": fmt.Sprintf("/m/new/%d", i+batch+j)}}
		}
		if err := s.RecordBatch(keyWork, recs, intents); err != nil {
			b.Fatal(err)
		}
		i += batch
	}
}
