package campaign

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// TestKillCampaign is the kill -9 campaign (issue 4): a mailbox in the real
// Dovecot, fetchd killed again and again, half of the time at a named point
// of the durability protocol (FETCHD_CRASH_AT), half by a timer, and
// restarted until it reports a clean, complete run. For each target kind:
// nothing is lost, a maildir gets no duplicate, an MDA or an LMTP server at
// most one per kill, the mailbox ends empty and the state store passes
// bbolt's consistency check.
//
//	go test ./internal/campaign -run TestKillCampaign -v -campaign.size=full -campaign.report
func TestKillCampaign(t *testing.T) {
	d := testharness.NeedDovecot(t)
	testharness.Binary(t)
	size := killSize{messages: 60, kills: 25}
	if testharness.Full(t) {
		size = killSize{messages: 300, kills: 200, full: true}
	}
	var results []*killResult
	for _, tg := range killTargets {
		t.Run(tg.name, func(t *testing.T) {
			r := runKillCampaign(t, d, tg, size)
			results = append(results, r)
			r.check(t, tg)
		})
	}
	if testharness.Report() && !t.Failed() {
		path := testharness.ReportPath(t)
		if err := UpdateSection(path, "kill", killReport(results, killBatch(size.messages, 0, size.full))); err != nil {
			t.Fatal(err)
		}
		t.Logf("figures written to %s", path)
	}
}

// campaignSize and campaignReport are the flags every campaign of this
// package reads (-campaign.size, -campaign.report), registered once by
// testharness so that no two campaign files define them.
var campaignSize, campaignReport = testharness.CampaignSize, testharness.CampaignReport

type killSize struct {
	messages, kills int
	full            bool
}

// killTarget is one target kind under test.
type killTarget struct {
	name string
	// setup returns the [[account.deliver]] table and what reads the deliveries.
	setup func(t *testing.T, d *testharness.Dovecot, b *testharness.Box) (deliver string, sc *testharness.Scanner)
	want  func(testcorpus.Message) []byte
	// settle: after a kill, wait for the target's tmp/ to empty: an MDA runs
	// in a process group of its own and finishes the delivery after fetchd died.
	settle bool
	// dupsPerKill is the most duplicates one kill may cause.
	dupsPerKill int
	// only lists the crash points of this target kind; points of other kinds
	// (their prefix is in another target's only) are never reached here.
	only []string
}

var killTargets = []killTarget{
	{
		name: "maildir",
		setup: func(t *testing.T, d *testharness.Dovecot, b *testharness.Box) (string, *testharness.Scanner) {
			return fmt.Sprintf("[[account.deliver]]\nmaildir = %q\n", b.Out), &testharness.Scanner{Maildir: b.Out}
		},
		want:        testcorpus.Expected,
		dupsPerKill: 0,
		only:        []string{"maildir.", "store.intent"},
	},
	{
		name: "mda",
		setup: func(t *testing.T, d *testharness.Dovecot, b *testharness.Box) (string, *testharness.Scanner) {
			dir := filepath.Join(b.Dir, "mda")
			for _, sub := range []string{"tmp", "new"} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// Each run of the MDA writes a file of its own, so that a message
			// delivered twice shows as two files; tmp/ then rename, so that a
			// file in new/ is always complete.
			sh := fmt.Sprintf(`f=$(mktemp %s/tmp/m.XXXXXXXX) && cat >"$f" && mv "$f" %s/new/`, dir, dir)
			return fmt.Sprintf("[[account.deliver]]\nmda_shell = %q\n", sh), &testharness.Scanner{Maildir: dir}
		},
		want:        testcorpus.Expected,
		settle:      true,
		dupsPerKill: 1,
		only:        []string{"mda."},
	},
	{
		name: "lmtp",
		setup: func(t *testing.T, d *testharness.Dovecot, b *testharness.Box) (string, *testharness.Scanner) {
			if d.LMTP == "" {
				t.Skip("no FETCHD_DOVECOT_LMTP")
			}
			user, maildir := testharness.LMTPUser(t, d)
			return fmt.Sprintf("[[account.deliver]]\nlmtp = %q\nrecipients = [%q]\n", d.LMTP, user),
				&testharness.Scanner{Maildir: maildir, Strip: testharness.LMTPFields}
		},
		want:        testharness.RelayExpected,
		dupsPerKill: 1,
		only:        []string{"lmtp."},
	},
}

// reachable reports whether target tg can reach the crash point p.
func (tg killTarget) reachable(p string) bool {
	for _, other := range killTargets {
		for _, prefix := range other.only {
			if strings.HasPrefix(p, prefix) {
				return other.name == tg.name
			}
		}
	}
	return true
}

// killResult is one target's figures.
type killResult struct {
	target        string
	messages      int // in all rounds
	rounds        int // mailboxes seeded (see runKillCampaign)
	bytes         int64
	runs          int
	pointKills    map[string]int // kills by crash point
	timerKills    int
	unreached     []string // crash points tried but never reached
	failedRuns    []string // runs that ended neither killed nor with exit 0
	lost          []string
	duplicates    int
	maxDupPerKill int
	unknown       int
	problems      []string // delivered files whose top is not as expected
	left          int      // messages left on the server at the end
	tmpLeft       int      // files left in the target's tmp/
	txCheck       []string // errors of bbolt's tx.Check
	elapsed       time.Duration
}

func (r *killResult) kills() int {
	n := r.timerKills
	for _, k := range r.pointKills {
		n += k
	}
	return n
}
