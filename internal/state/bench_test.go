package state

import (
	"fmt"
	"testing"
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
