package campaign

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// killReport is the "kill" section of docs/RELIABILITY.md.
func killReport(results []*killResult, ms []testcorpus.Message) string {
	var b strings.Builder
	var total int64
	lo, hi := len(ms[0].Data), 0
	for _, m := range ms {
		total += int64(len(m.Data))
		lo, hi = min(lo, len(m.Data)), max(hi, len(m.Data))
	}
	fmt.Fprintf(&b, "## kill -9 (`scripts/campaign.sh kill`)\n\n")
	fmt.Fprintf(&b, "Measured %s, size `%s`, on %s. Per round a %d-message mailbox (%.1f MB, %d B–%.1f MB per message: dot lines, 8-bit, NUL, bare CR, no final newline; testcorpus.Reliability) in the real Dovecot; fetchd killed with SIGKILL, half of the time at a crash point (`FETCHD_CRASH_AT`), half by a timer, and restarted until a run ends clean with the mailbox empty; when the mailbox empties before enough kills, the next round seeds a fresh batch of distinct messages into it.\n\n",
		time.Now().UTC().Format("2006-01-02"), testharness.Size(), Machine(), len(ms), float64(total)/1e6, lo, float64(hi)/1e6)
	b.WriteString("| target | messages (rounds) | runs | kills (points + timer) | lost | duplicates (max per kill) | left on server | tx.Check | time |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		check := "clean"
		if len(r.txCheck) > 0 {
			check = fmt.Sprintf("%d errors", len(r.txCheck))
		}
		fmt.Fprintf(&b, "| %s | %d (%d) | %d | %d (%d + %d) | %d | %d (%d) | %d | %s | %v |\n",
			r.target, r.messages, r.rounds, r.runs, r.kills(), r.kills()-r.timerKills, r.timerKills, len(r.lost), r.duplicates,
			r.maxDupPerKill, r.left, check, r.elapsed.Round(time.Second))
	}
	b.WriteString("\nKills per crash point:\n\n| point |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", r.target)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(results)) + "\n")
	points := map[string]bool{}
	for _, r := range results {
		for p := range r.pointKills {
			points[p] = true
		}
	}
	for _, p := range slices.Sorted(maps.Keys(points)) {
		fmt.Fprintf(&b, "| `%s` |", p)
		for _, r := range results {
			fmt.Fprintf(&b, " %d |", r.pointKills[p])
		}
		b.WriteString("\n")
	}
	for _, r := range results {
		if len(r.unreached) > 0 {
			fmt.Fprintf(&b, "\n%s: armed but never reached: `%s`.\n", r.target, strings.Join(r.unreached, "`, `"))
		}
	}
	b.WriteString("\nPass criteria: 0 lost; 0 duplicates for maildir, at most 1 per kill for MDA and LMTP; mailbox empty; bbolt `tx.Check` clean.\n")
	return b.String()
}
