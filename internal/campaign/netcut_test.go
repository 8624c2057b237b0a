package campaign

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// The network-cut campaign (issue 4): fetchd polls a Dovecot mailbox through
// a proxy that cuts each session at a chosen byte: at random offsets of the
// plain and the TLS stream, inside RETR bodies and at their very end, between
// DELE and QUIT, inside QUIT's reply, or stalls there instead of closing.
// Pass: every message delivered exactly once, the mailbox empty at the end,
// and every fetchd run over within its timeout + 5 s of the cut.
//
//	go test ./internal/campaign -run TestNetCutCampaign -v [-campaign.size=full] [-campaign.report]

var netcutSeed = flag.Uint64("netcut.seed", 0, "seed of the network-cut campaign's choices (0: from the clock); logged, to replay a run")

const (
	netcutTimeout = 3 * time.Second
	netcutSlack   = 5 * time.Second
)

// netcutSession is one fetchd run and where its cut landed.
type netcutSession struct {
	N       int
	Plan    cutPlan
	Event   *cutEvent
	Phase   string
	Code    int
	Elapsed time.Duration
	After   time.Duration // from the cut to fetchd's exit (the whole run if not cut)
	Stderr  string
}

func (s *netcutSession) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "session %d: plan %+v\n", s.N, s.Plan)
	if ev := s.Event; ev != nil {
		dir := "server→client"
		if ev.C2S {
			dir = "client→server"
		}
		fmt.Fprintf(&b, "  cut=%t %s after %d bytes (verb %q #%d, %d bytes into its reply); forwarded %d c→s, %d s→c; phase %s\n",
			ev.Cut, dir, ev.Offset, ev.Verb, ev.NthVerb, ev.InReply, ev.C2SN, ev.S2C, s.Phase)
		fmt.Fprintf(&b, "  commands: %s\n", strings.Join(ev.Verbs, " "))
	}
	fmt.Fprintf(&b, "  fetchd exit %d after %v (%v after the cut)\n  fetchd log (tail):\n%s\n",
		s.Code, s.Elapsed.Round(time.Millisecond), s.After.Round(time.Millisecond), netcutIndent(testharness.Tail(s.Stderr, 25)))
	return b.String()
}

func netcutEvOr(ev *cutEvent) *cutEvent {
	if ev == nil {
		return &cutEvent{}
	}
	return ev
}

func netcutIndent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// netcutServerScan reads the server's maildir, hashing each file once; Dovecot
// renames files (new/ → cur/, flags after ':'), so the cache is keyed by the
// part of the name before ':'.
type netcutServerScan struct {
	dir   string
	cache map[string]netcutServerFile
}

type netcutServerFile struct {
	sum  [32]byte
	wire int64 // bytes of its RETR body on the wire (CRLF line ends)
}

func (s *netcutServerScan) scan(t *testing.T) map[string]netcutServerFile {
	t.Helper()
	if s.cache == nil {
		s.cache = map[string]netcutServerFile{}
	}
	out := map[string]netcutServerFile{}
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(s.dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			base, _, _ := strings.Cut(e.Name(), ":")
			f, ok := s.cache[base]
			if !ok {
				data, err := os.ReadFile(filepath.Join(s.dir, sub, e.Name()))
				if errors.Is(err, fs.ErrNotExist) {
					continue // renamed or expunged under us
				}
				if err != nil {
					t.Fatal(err)
				}
				f = netcutServerFile{sum: sha256.Sum256(testcorpus.Expected(testcorpus.Message{Data: data})),
					wire: int64(len(data) + bytes.Count(data, []byte("\n")))}
				s.cache[base] = f
			}
			out[base] = f
		}
	}
	return out
}

// netcutTally is what the report says.
type netcutTally struct {
	Sessions, Cut, Uncut, TLSSessions int
	Seeds, Seeded                     int
	ByPhase                           map[string]*[4]int // plain close, plain stall, TLS close, TLS stall
	ByKind                            map[string]int
	Codes                             map[int]int
	MaxSession, MaxAfterCut           time.Duration
	MaxAfterStall                     time.Duration
	Over                              []string // sessions over the bound
	Anomalies                         []string // exit status not what the cut implies
	Dups, Lost, Unknown               int
	Repros                            []string
}

func TestNetCutCampaign(t *testing.T) {
	d := testharness.NeedDovecot(t)
	messages, wantCuts := 40, 100
	if testharness.Full(t) {
		messages, wantCuts = 150, 500
	}
	seed := *netcutSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -netcut.seed=%d); %d messages per batch, %d cut sessions", seed, seed, messages, wantCuts)
	r := rand.New(rand.NewPCG(seed, 4))
	testharness.Binary(t)

	b := testharness.NewBox(t, d)
	p, err := newCutProxy(d.POP3, d.POP3S)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	host, port := testharness.SplitAddr(p.Addr())
	// Both configs name the same server, port and user, so they are one
	// account in the state store: plain and TLS sessions share the mailbox.
	acct := testharness.Account{Server: host, Port: port, TLS: "none", AllowInsecure: true,
		Password: d.Password, Timeout: netcutTimeout.String()}
	plainCfg := netcutRenameConfig(t, b.Config(t, acct), "plain.toml")
	acct.TLS, acct.AllowInsecure = "implicit", false
	tlsCfg := netcutRenameConfig(t, b.Config(t, acct), "tls.toml")

	want, names := testharness.Multiset{}, map[[32]byte]string{}
	tally := &netcutTally{ByPhase: map[string]*[4]int{}, ByKind: map[string]int{}, Codes: map[int]int{}}
	for _, ph := range netcutPhases {
		tally.ByPhase[ph] = &[4]int{}
	}
	seedBatch := func() {
		ms := testcorpus.Mixed(messages, seed%1_000_000*1000+uint64(tally.Seeds))
		w, n := testharness.Want(ms, testcorpus.Expected)
		for h, c := range w {
			if want[h] > 0 {
				t.Fatalf("batch %d repeats message %s", tally.Seeds, n[h])
			}
			want[h], names[h] = c, n[h]
		}
		b.Seed(t, ms)
		tally.Seeds++
		tally.Seeded += len(ms)
	}

	srv := &netcutServerScan{dir: b.Mailbox}
	out := &testharness.Scanner{Maildir: b.Out}
	got := testharness.Multiset{}
	lost := map[[32]byte]bool{}
	var recent []*netcutSession // the last few, for reproductions

	// check compares what was delivered with what the server still holds
	// after session s, and records the first session that shows a problem.
	check := func(s *netcutSession) {
		now, problems := out.Scan(t)
		for _, pr := range problems {
			t.Errorf("delivered file unreadable: %s", pr)
		}
		var found []string
		for h, n := range now {
			if want[h] == 0 {
				if got[h] < n {
					tally.Unknown += n - got[h]
					found = append(found, fmt.Sprintf("%d delivered file(s) match no message (truncated or altered)", n-got[h]))
				}
			} else if n > want[h] && n > got[h] {
				tally.Dups += n - max(got[h], want[h])
				found = append(found, fmt.Sprintf("message %s delivered %d times", names[h], n))
			}
		}
		got = now
		on := map[[32]byte]bool{}
		for _, f := range srv.scan(t) {
			on[f.sum] = true
		}
		var missing [][32]byte
		for h := range want {
			if got[h] == 0 && !on[h] && !lost[h] {
				missing = append(missing, h)
			}
		}
		if len(missing) > 0 {
			// Dovecot may be renaming a file between our two ReadDirs: look again.
			time.Sleep(300 * time.Millisecond)
			got, _ = out.Scan(t)
			on = map[[32]byte]bool{}
			for _, f := range srv.scan(t) {
				on[f.sum] = true
			}
			for _, h := range missing {
				if got[h] == 0 && !on[h] {
					lost[h] = true
					tally.Lost++
					found = append(found, fmt.Sprintf("message %s gone from the server, never delivered", names[h]))
				}
			}
		}
		if len(found) > 0 && len(tally.Repros) < 5 {
			var rb strings.Builder
			fmt.Fprintf(&rb, "after session %d: %s\n", s.N, strings.Join(found, "; "))
			for _, prev := range recent {
				rb.WriteString(prev.describe())
			}
			tally.Repros = append(tally.Repros, rb.String())
			t.Errorf("%s", rb.String())
		}
	}

	run := func(plan cutPlan) *netcutSession {
		cfg := plainCfg
		if plan.TLS {
			cfg = tlsCfg
		}
		p.setPlan(plan)
		start := time.Now()
		res := b.Once(t, cfg, testharness.RunOptions{Timeout: time.Minute})
		end := start.Add(res.Elapsed)
		s := &netcutSession{N: tally.Sessions + 1, Plan: plan, Code: res.Code, Elapsed: res.Elapsed, After: res.Elapsed, Stderr: res.Stderr}
		evs := p.take(10 * time.Second)
		if len(evs) != 1 {
			t.Errorf("session %d: the proxy saw %d connections, want 1\n%s", s.N, len(evs), testharness.Tail(res.Stderr, 20))
		}
		if len(evs) > 0 {
			s.Event = evs[0]
		}
		tally.Sessions++
		tally.Codes[res.Code]++
		tally.MaxSession = max(tally.MaxSession, res.Elapsed)
		if s.Event != nil && s.Event.Cut {
			s.After = end.Sub(s.Event.At)
			tally.Cut++
			tally.ByKind[plan.Kind]++
			if plan.TLS {
				s.Phase = netcutPhaseFromLog(res.Stderr)
			} else {
				s.Phase = netcutPhaseOf(s.Event)
			}
			col := 0
			if plan.Stall {
				col++
				tally.MaxAfterStall = max(tally.MaxAfterStall, s.After)
			} else {
				tally.MaxAfterCut = max(tally.MaxAfterCut, s.After)
			}
			if plan.TLS {
				col += 2
				tally.TLSSessions++
			}
			tally.ByPhase[s.Phase][col]++
			if res.Code == 0 {
				tally.Anomalies = append(tally.Anomalies, fmt.Sprintf("session %d exited 0 although cut (%s)", s.N, s.Phase))
			}
		} else {
			s.Phase = "none"
			tally.Uncut++
			if res.Code != 0 {
				tally.Anomalies = append(tally.Anomalies, fmt.Sprintf("session %d exited %d without a cut:\n%s", s.N, res.Code, netcutIndent(testharness.Tail(res.Stderr, 8))))
			}
		}
		// The bound is on how long a cut or stall can keep fetchd: an uncut
		// session takes as long as its transfer does (the timeout is per read).
		if s.Event != nil && s.Event.Cut && s.After > netcutTimeout+netcutSlack {
			tally.Over = append(tally.Over, s.describe())
			t.Errorf("session %d ended %v after its cut, more than timeout %v + %v\n%s", s.N, s.After, netcutTimeout, netcutSlack, s.describe())
		}
		stall := ""
		if plan.Stall {
			stall = " (stall)"
		}
		t.Logf("session %d: %s%s: %s; exit %d after %v, %v after the cut; %d c→s, %d s→c bytes; %s",
			s.N, plan.Kind, stall, s.Phase, s.Code, s.Elapsed.Round(time.Millisecond), s.After.Round(time.Millisecond),
			netcutEvOr(s.Event).C2SN, netcutEvOr(s.Event).S2C, netcutPollError(res.Stderr))
		recent = append(recent, s)
		if len(recent) > 3 {
			recent = recent[1:]
		}
		check(s)
		return s
	}

	for tally.Cut < wantCuts {
		if b.Left(t) == 0 {
			seedBatch()
		}
		var m netcutMailbox
		for _, f := range srv.scan(t) {
			m.Count++
			if got[f.sum] == 0 {
				m.Pending++
				m.Wire += f.wire + 40
			}
		}
		run(netcutChoosePlan(r, m))
		if tally.Sessions > 4*wantCuts {
			t.Fatalf("%d sessions for %d cuts: the plans miss", tally.Sessions, tally.Cut)
		}
	}
	// Drain: clean sessions until the mailbox is empty.
	for i := 0; i < 5 && b.Left(t) > 0; i++ {
		s := run(netcutNoCut)
		if s.Code != 0 {
			t.Errorf("clean session %d exited %d:\n%s", s.N, s.Code, testharness.Tail(s.Stderr, 20))
		}
	}
	left := b.Left(t)
	if left != 0 {
		t.Errorf("the server still holds %d messages after the clean sessions", left)
	}
	diff := testharness.Compare(want, names, got)
	if len(diff.Lost) > 0 || diff.Duplicates > 0 || diff.Unknown > 0 {
		t.Errorf("delivered vs seeded: %d lost %v, %d duplicates (at most %d copies), %d unknown files",
			len(diff.Lost), diff.Lost[:min(len(diff.Lost), 10)], diff.Duplicates, diff.DupMax, diff.Unknown)
	}
	if p.backendErrs.Load() > 0 {
		t.Errorf("the proxy could not reach Dovecot %d times", p.backendErrs.Load())
	}
	tally.Lost = max(tally.Lost, len(diff.Lost))
	tally.Dups = max(tally.Dups, diff.Duplicates)
	tally.Unknown = max(tally.Unknown, diff.Unknown)

	report := netcutReport(tally, messages, left, seed)
	t.Logf("\n%s", report)
	for _, a := range tally.Anomalies {
		t.Logf("anomaly: %s", a)
	}
	if testharness.Report() && !t.Failed() {
		path := testharness.ReportPath(t)
		if err := UpdateSection(path, "netcut", report); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote the netcut section of %s", path)
	} else if testharness.Report() {
		t.Logf("the campaign failed: %s not updated", "docs/RELIABILITY.md")
	}
}

// netcutRenameConfig moves the config Box.Config wrote to name in the same directory.
func netcutRenameConfig(t *testing.T, path, name string) string {
	t.Helper()
	to := filepath.Join(filepath.Dir(path), name)
	if err := os.Rename(path, to); err != nil {
		t.Fatal(err)
	}
	return to
}

func netcutReport(tl *netcutTally, messages, left int, seed uint64) string {
	var b strings.Builder
	verdict := "PASS"
	if tl.Lost > 0 || tl.Dups > 0 || tl.Unknown > 0 || len(tl.Over) > 0 || left > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "## Network cuts (issue 4): %s\n\n", verdict)
	fmt.Fprintf(&b, "`go test ./internal/campaign -run TestNetCutCampaign -campaign.size=%s -netcut.seed=%d`, %s, %s, Dovecot %s.\n\n",
		testharness.Size(), seed, time.Now().UTC().Format("2006-01-02"), Machine(), netcutDovecotVersion())
	fmt.Fprintf(&b, "fetchd polled one Dovecot mailbox (delete mode, maildir target, `timeout = %q`) through a proxy\n", netcutTimeout.String())
	b.WriteString("that cut each session at a chosen byte, closing both sides or stalling (forwarding nothing,\n")
	b.WriteString("sockets left open); plain sessions aimed at phases by reading the command stream, TLS\n")
	b.WriteString("sessions (implicit TLS port, same account) at random offsets of the encrypted stream.\n")
	fmt.Fprintf(&b, "The mailbox was re-seeded with %d new messages whenever it was empty (%d batches, %d messages).\n\n",
		messages, tl.Seeds, tl.Seeded)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| sessions | %d (%d cut, %d not cut: the plan's byte never came) |\n", tl.Sessions, tl.Cut, tl.Uncut)
	fmt.Fprintf(&b, "| lost | %d |\n| duplicates | %d |\n| delivered files matching no message | %d |\n", tl.Lost, tl.Dups, tl.Unknown)
	fmt.Fprintf(&b, "| mailbox empty at the end | %t |\n", left == 0)
	fmt.Fprintf(&b, "| longest session | %v |\n", tl.MaxSession.Round(time.Millisecond))
	fmt.Fprintf(&b, "| longest from close to exit | %v |\n", tl.MaxAfterCut.Round(time.Millisecond))
	fmt.Fprintf(&b, "| longest from stall to exit | %v (bound: timeout + 5 s = %v) |\n", tl.MaxAfterStall.Round(time.Millisecond), netcutTimeout+netcutSlack)
	fmt.Fprintf(&b, "| sessions over the bound | %d |\n\n", len(tl.Over))
	b.WriteString("Cuts by phase (TLS phases from the operation fetchd's error names):\n\n")
	b.WriteString("| phase | plain, closed | plain, stalled | TLS, closed | TLS, stalled | total |\n|---|---:|---:|---:|---:|---:|\n")
	var cols [4]int
	for _, ph := range netcutPhases {
		c := tl.ByPhase[ph]
		n := c[0] + c[1] + c[2] + c[3]
		if n == 0 && ph == netcutPhaseUnknown {
			continue
		}
		for i := range cols {
			cols[i] += c[i]
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", ph, c[0], c[1], c[2], c[3], n)
	}
	fmt.Fprintf(&b, "| all | %d | %d | %d | %d | %d |\n\n", cols[0], cols[1], cols[2], cols[3], cols[0]+cols[1]+cols[2]+cols[3])
	kinds := make([]string, 0, len(tl.ByKind))
	for k := range tl.ByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	b.WriteString("Cuts by what the plan aimed at: ")
	for i, k := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, tl.ByKind[k])
	}
	b.WriteString(".\n")
	return b.String()
}

func netcutDovecotVersion() string {
	out, err := exec.Command("dovecot", "--version").Output()
	if err != nil {
		return "(unknown version)"
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	return v
}
