package schedule

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// TestSpread_EveryIsPhased: an "@every" schedule activates exactly every
// interval, at a place in it fixed by the account's name, and 1,000 accounts
// on one interval are spread over all of it rather than bunched at its start.
func TestSpread_EveryIsPhased(t *testing.T) {
	every, err := parseSchedule("@every 30s")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var buckets [10]int
	for i := range 1000 {
		name := "a" + string(rune('0'+i%10)) + time.Duration(i).String()
		s := spread(name, every, 30*time.Second)
		first := s.Next(start)
		if d := first.Sub(start); d <= 0 || d > 30*time.Second {
			t.Fatalf("%s: first activation %v after start, want within one interval", name, d)
		}
		next := first
		for range 5 {
			n := s.Next(next)
			if gap := n.Sub(next); gap != 30*time.Second {
				t.Fatalf("%s: gap %v, want exactly 30s", name, gap)
			}
			next = n
		}
		if again := spread(name, every, 30*time.Second).Next(start); !again.Equal(first) {
			t.Fatalf("%s: phase not stable: %v then %v", name, first, again)
		}
		buckets[int(first.Sub(start)/(3*time.Second))%10]++
	}
	for i, n := range buckets {
		if n < 50 || n > 150 {
			t.Errorf("3 s slice %d of the interval has %d of 1000 first activations, want about 100: %v", i, n, buckets)
		}
	}
}

// TestSpread_TimeOfDayKeepsJitter: a cron time-of-day schedule is not moved,
// only jittered (at most a tenth of its interval).
func TestSpread_TimeOfDayKeepsJitter(t *testing.T) {
	sched, err := parseSchedule("*/15 7-23 * * *")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := spread("a", sched, 30*time.Second).(*jittered); !ok {
		t.Errorf("time-of-day schedule not jittered")
	}
	every, _ := parseSchedule("@every 5m")
	if _, ok := spread("a", every, 0).(*jittered); !ok {
		t.Errorf(`jitter = "0s" must leave an "@every" schedule as it is`)
	}
	var _ cron.Schedule = phased{}
}
