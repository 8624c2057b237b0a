package campaign

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"fetchd/internal/crashpoint"
	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// perSession are the crash points passed at most once per run: only N = 1
// can reach them.
var perSession = map[string]bool{"quit.sent": true, "store.deleted": true}

// runKillCampaign seeds a fresh mailbox with ms and runs fetchd once, again
// and again, until size.kills kills happened and a run ended with exit 0 and
// the mailbox empty; then one more, clean run. When the mailbox empties
// before enough kills (a run armed at a point it did not reach goes through),
// the next round seeds the same mailbox with a fresh batch of distinct
// messages. After every run it rescans the target, so that each duplicate is
// charged to the kill before it.
func runKillCampaign(t *testing.T, d *testharness.Dovecot, tg killTarget, size killSize) *killResult {
	start := time.Now()
	b := testharness.NewBox(t, d)
	deliver, sc := tg.setup(t, d, b)
	a := b.ImplicitTLS()
	a.Deliver = deliver
	cfg := b.Config(t, a)
	want, names := testharness.Multiset{}, map[[32]byte]string{}

	r := &killResult{target: tg.name, pointKills: map[string]int{}}
	var points []string
	for _, p := range crashpoint.Points {
		if tg.reachable(p) {
			points = append(points, p)
		}
	}
	tries := map[string]int{} // runs armed at a point that was never reached
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	base, perMsg := 300*time.Millisecond, 20*time.Millisecond // refined from the runs
	prevDups, lastKilled, pending := 0, false, 0
	maxRuns := 8*size.kills + 40
	for {
		left := b.Left(t)
		kills := r.kills()
		if kills >= size.kills && left == 0 && !lastKilled {
			break
		}
		if left == 0 && kills < size.kills {
			ms := killBatch(size.messages, r.rounds, size.full)
			r.rounds++
			b.Seed(t, ms)
			w, n := testharness.Want(ms, tg.want)
			for h, k := range w {
				want[h] += k
				names[h] = n[h]
			}
			r.messages += len(ms)
			for _, m := range ms {
				r.bytes += int64(len(m.Data))
			}
			left = len(ms)
			pending += len(ms)
		}
		if r.runs >= maxRuns {
			t.Fatalf("no end after %d runs (%d kills, %d messages left)", r.runs, kills, left)
		}
		// Spread the kills over the messages not yet delivered (a killed run
		// leaves every message on the server: its DELEs never commit).
		quota := max(1, 2*pending/max(1, size.kills-kills))
		var opt testharness.RunOptions
		armed, what := "", "plain"
		if kills < size.kills && left > 0 {
			if rng.IntN(2) == 0 && len(points) > 0 {
				armed = points[rng.IntN(len(points))]
				n := 1
				if !perSession[armed] {
					n = 1 + rng.IntN(quota)
				}
				opt.Env = []string{fmt.Sprintf("%s=%s:%d", crashpoint.EnvVar, armed, n)}
				what = opt.Env[0]
			} else {
				span := base + time.Duration(2*quota)*perMsg
				opt.KillAfter = time.Duration(rng.Int64N(int64(span))) + 1
				what = "kill after " + opt.KillAfter.Round(time.Millisecond).String()
			}
		}
		res := b.Once(t, cfg, opt)
		r.runs++
		after := b.Left(t)
		done := left - after
		switch {
		case res.Killed():
		case done > 0:
			perMsg = (perMsg + max(0, res.Elapsed-base)/time.Duration(done)) / 2
		case res.Code == 0:
			base = (base + res.Elapsed) / 2
		}
		lastKilled = res.Killed()
		switch {
		case res.Killed() && armed != "":
			r.pointKills[armed]++
		case res.Killed():
			r.timerKills++
		case armed != "":
			// The point was not reached (the run ended before the N-th pass).
			if tries[armed]++; tries[armed] >= 3 && r.pointKills[armed] == 0 {
				points = slices.DeleteFunc(points, func(p string) bool { return p == armed })
				r.unreached = append(r.unreached, armed)
			}
		}
		if !res.Killed() && res.Code != 0 {
			r.failedRuns = append(r.failedRuns, fmt.Sprintf("run %d: exit %d: %s", r.runs, res.Code, testharness.Tail(res.Stderr, 3)))
			if len(r.failedRuns) > 10 {
				t.Fatalf("more than 10 runs failed; the last:\n%s", testharness.Tail(res.Stderr, 30))
			}
		}
		if tg.settle && res.Killed() {
			settle(filepath.Join(sc.Maildir, "tmp"), 10*time.Second)
		}
		got, _ := sc.Scan(t)
		diff := testharness.Compare(want, names, got)
		dups := diff.Duplicates
		pending = len(diff.Lost)
		r.maxDupPerKill = max(r.maxDupPerKill, dups-prevDups)
		if dups > prevDups {
			t.Logf("run %d: %d new duplicates (after %s); its log, without the plain deliveries:\n%s", r.runs, dups-prevDups, what,
				testharness.Tail(grepOut(res.Stderr, "delivered account"), 12))
		}
		prevDups = dups
		if testing.Verbose() {
			t.Logf("run %3d: %-40s exit %2d signal %-7v %6v  left %d → %d, undelivered %d", r.runs, what, res.Code, res.Signal,
				res.Elapsed.Round(time.Millisecond), left, after, pending)
		}
		if res.Elapsed > 5*time.Second {
			t.Logf("run %d took %v; stderr:\n%s", r.runs, res.Elapsed, testharness.Tail(res.Stderr, 15))
		}
	}
	final := b.Once(t, cfg, testharness.RunOptions{})
	if final.Code != 0 {
		r.failedRuns = append(r.failedRuns, fmt.Sprintf("final clean run: exit %d: %s", final.Code, testharness.Tail(final.Stderr, 10)))
	}
	got, problems := sc.Scan(t)
	diff := testharness.Compare(want, names, got)
	r.lost, r.duplicates, r.unknown, r.problems = diff.Lost, diff.Duplicates, diff.Unknown, problems
	r.left = b.Left(t)
	if es, err := os.ReadDir(filepath.Join(sc.Maildir, "tmp")); err == nil {
		r.tmpLeft = len(es)
	}
	r.txCheck = boltCheck(t, b.State)
	r.elapsed = time.Since(start)
	t.Logf("%s: %d runs, %d kills (%d at points, %d by timer), %d lost, %d duplicates (max %d after one kill), %d unknown, %d left, %v",
		tg.name, r.runs, r.kills(), r.kills()-r.timerKills, r.timerKills, len(r.lost), r.duplicates, r.maxDupPerKill,
		r.unknown, r.left, r.elapsed.Round(time.Second))
	return r
}

// settle waits until dir is empty, or for at most max.
func settle(dir string, max time.Duration) {
	// An MDA orphaned by the kill may not have created its tmp file yet
	// when the first look finds tmp/ empty; it would then deliver during
	// the next run and its duplicate count against that run's kill. So
	// tmp/ must stay empty for a while.
	const quiet = 300 * time.Millisecond
	var emptySince time.Time
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if es, err := os.ReadDir(dir); err == nil && len(es) > 0 {
			emptySince = time.Time{}
			continue
		}
		if emptySince.IsZero() {
			emptySince = time.Now()
		} else if time.Since(emptySince) >= quiet {
			return
		}
	}
}

// grepOut drops the lines of s that contain pat.
func grepOut(s, pat string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, pat) }), "\n")
}

// killBatch is the mailbox of round i: distinct messages in every round.
// At CI size it keeps one message over 1 MB per batch, for time.
func killBatch(n, round int, full bool) []testcorpus.Message {
	ms := testcorpus.Reliability(n, uint64(4+round))
	if full {
		return ms
	}
	big := 0
	return slices.DeleteFunc(ms, func(m testcorpus.Message) bool {
		if len(m.Data) > 1<<20 {
			big++
		}
		return len(m.Data) > 1<<20 && big > 1
	})
}

// boltCheck opens the state file read-only and returns what tx.Check finds.
func boltCheck(t *testing.T, path string) []string {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return []string{"open: " + err.Error()}
	}
	defer db.Close()
	var errs []string
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err.Error())
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err.Error())
	}
	return errs
}

// check fails t unless r meets the campaign's pass criteria for tg.
func (r *killResult) check(t *testing.T, tg killTarget) {
	t.Helper()
	if len(r.lost) > 0 {
		t.Errorf("%d messages lost: %v", len(r.lost), r.lost[:min(len(r.lost), 10)])
	}
	if r.duplicates > tg.dupsPerKill*r.kills() {
		t.Errorf("%d duplicates after %d kills, want at most %d per kill", r.duplicates, r.kills(), tg.dupsPerKill)
	}
	if r.maxDupPerKill > tg.dupsPerKill {
		t.Errorf("%d duplicates after a single kill, want at most %d (%d duplicates in all)", r.maxDupPerKill, tg.dupsPerKill, r.duplicates)
	}
	if r.unknown > 0 || len(r.problems) > 0 {
		t.Errorf("%d delivered files match no message; %d have an unexpected top: %v", r.unknown, len(r.problems), r.problems[:min(len(r.problems), 5)])
	}
	if r.left != 0 {
		t.Errorf("%d messages left on the server, want 0", r.left)
	}
	if len(r.txCheck) > 0 {
		t.Errorf("bbolt tx.Check: %v", r.txCheck)
	}
	if len(r.failedRuns) > 0 {
		t.Errorf("%d runs failed without being killed:\n%v", len(r.failedRuns), r.failedRuns)
	}
}
