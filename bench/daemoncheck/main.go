// Command daemoncheck reads the poll history that `fetchd status --json` prints
// after a `fetchd run` of bench/daemon1000.sh, and says whether every account
// was polled on time: its first poll within one interval (plus the lateness
// allowance and slack) of the daemon's start, never a longer gap between two
// poll starts, its last poll recent at the end, and no poll failed. It prints
// a markdown list. It exits 1 when a poll failed, or an account was never
// polled or paused; 3 when every poll worked but an account was polled late.
//
//	daemoncheck -status STATUS.json -start UNIX -end UNIX -interval 30s -allow 5s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"
)

type poll struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Fetched int       `json:"fetched"`
	Err     string    `json:"err"`
}

type account struct {
	Account string          `json:"account"`
	Paused  json.RawMessage `json:"paused"`
	Polls   []poll          `json:"polls"`
}

func main() {
	statusPath := flag.String("status", "", "output of `fetchd status --json` (no daemon running)")
	start := flag.Int64("start", 0, "when the daemon started, Unix seconds")
	end := flag.Int64("end", 0, "when it was stopped, Unix seconds")
	interval := flag.Duration("interval", 30*time.Second, "the accounts' schedule")
	allow := flag.Duration("allow", 5*time.Second, "lateness allowed beyond the interval (start-up, scheduling)")
	flag.Parse()
	data, err := os.ReadFile(*statusPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemoncheck:", err)
		os.Exit(2)
	}
	var accts []account
	if err := json.Unmarshal(data, &accts); err != nil {
		fmt.Fprintln(os.Stderr, "daemoncheck:", err)
		os.Exit(2)
	}
	t0, t1 := time.Unix(*start, 0), time.Unix(*end, 0)
	limit := *interval + *allow
	var counts []int
	var maxFirst, maxBetween, maxTail, maxDur time.Duration
	var late, failed, paused, never []string
	var durations []time.Duration
	for _, a := range accts {
		var starts []time.Time
		for _, p := range a.Polls {
			if p.Start.Before(t0) {
				continue // an earlier run on the same store
			}
			starts = append(starts, p.Start)
			durations = append(durations, p.End.Sub(p.Start))
			maxDur = max(maxDur, p.End.Sub(p.Start))
			if p.Err != "" && len(failed) < 5 {
				failed = append(failed, a.Account+": "+p.Err)
			}
		}
		if len(a.Paused) > 0 && string(a.Paused) != "null" {
			paused = append(paused, a.Account)
		}
		counts = append(counts, len(starts))
		if len(starts) == 0 {
			never = append(never, a.Account)
			continue
		}
		slices.SortFunc(starts, func(x, y time.Time) int { return x.Compare(y) })
		first := starts[0].Sub(t0)
		maxFirst = max(maxFirst, first)
		gap := first
		for i := 1; i < len(starts); i++ {
			gap = max(gap, starts[i].Sub(starts[i-1]))
			maxBetween = max(maxBetween, starts[i].Sub(starts[i-1]))
		}
		tail := t1.Sub(starts[len(starts)-1])
		maxTail = max(maxTail, tail)
		gap = max(gap, tail)
		if gap > limit {
			late = append(late, fmt.Sprintf("%s (gap %s)", a.Account, gap.Round(time.Millisecond)))
		}
	}
	slices.Sort(counts)
	slices.Sort(durations)
	med := func(v []time.Duration) time.Duration {
		if len(v) == 0 {
			return 0
		}
		return v[len(v)/2]
	}
	broken := len(failed) > 0 || len(paused) > 0 || len(never) > 0
	fmt.Printf("- Accounts: %d; ran %s; schedule every %s; on time means no gap over %s between the start, each poll start and the end.\n",
		len(accts), t1.Sub(t0).Round(time.Second), *interval, limit)
	if len(counts) > 0 {
		fmt.Printf("- Polls per account: min %d, median %d, max %d. The first round (every account once, at start) took %s; then the longest gap between two polls of one account was %s, and at the end the oldest last poll had started %s before.\n",
			counts[0], counts[len(counts)/2], counts[len(counts)-1], maxFirst.Round(time.Millisecond), maxBetween.Round(time.Millisecond), maxTail.Round(time.Millisecond))
	}
	fmt.Printf("- Poll duration: median %s, max %s.\n", med(durations).Round(time.Millisecond), maxDur.Round(time.Millisecond))
	switch {
	case broken:
		fmt.Printf("- **FAILED**: %d never polled %v, %d paused, polls failed: %v; %d late %v.\n",
			len(never), head(never), len(paused), failed, len(late), head(late))
		os.Exit(1)
	case len(late) > 0:
		fmt.Printf("- **NOT on time**: %d of %d accounts had a gap over %s (%v); no poll failed.\n", len(late), len(accts), limit, head(late))
		os.Exit(3)
	default:
		fmt.Println("- **Every account was polled on time**, and no poll failed.")
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}
