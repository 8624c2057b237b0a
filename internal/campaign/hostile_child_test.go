package campaign

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runChild runs heavy case c in a child process (this test binary, told by
// childEnv which case to run) and checks the child's peak RSS: all of it,
// fetchd's buffers and the server's, the runtime and the test framework.
func runChild(t *testing.T, c *hcase, st *stats) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileCampaign$", "-test.timeout=2m", "-test.v",
		"-campaign.size="+*campaignSize)
	cmd.Env = append(os.Environ(), childEnv+"="+c.id())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("child: %v\n%s", err, clipOut(out.String()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatalf("no rusage on %s", runtime.GOOS)
	}
	rss := ru.Maxrss * 1024 // Linux: KiB
	t.Logf("peak RSS %.1f MiB", float64(rss)/(1<<20))
	if rss > maxRSS {
		t.Errorf("peak RSS %.1f MiB, more than %d MiB", float64(rss)/(1<<20), maxRSS>>20)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rss[c.id()] = rss
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "hostile-poll-took "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && time.Duration(n) > st.maxPoll {
				st.maxPoll, st.maxPollC = time.Duration(n), c.id()
			}
		}
	}
}

func clipOut(s string) string {
	if len(s) > 30000 {
		return s[:15000] + "\n…\n" + s[len(s)-15000:]
	}
	return s
}

// vmHWM is this process's peak RSS, from /proc; -1 if unknown.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n * 1024
				}
			}
		}
	}
	return -1
}

// report is the "hostile" section of docs/RELIABILITY.md.
func (st *stats) report(n int, took time.Duration) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "## Hostile POP3 servers (issue 4)\n\n")
	fmt.Fprintf(&b, "`go test ./internal/campaign -run TestHostileCampaign -campaign.size=%s -campaign.report`, %s, %s.\n\n",
		*campaignSize, time.Now().UTC().Format("2006-01-02"), Machine())
	fmt.Fprintf(&b, "Each case: hostile poll(s) against a scripted server (reply timeout %s), then a poll against a well-behaved server "+
		"holding the same mailbox. Pass: no panic, each poll within %s (%s for heavy cases), goroutines and fds back to baseline, "+
		"every DELE'd message in the maildir byte-exact, nothing partial delivered, then every message delivered exactly once; "+
		"heavy cases run each in a child process whose peak RSS must stay ≤ %d MiB.\n\n",
		replyTimeout, pollBound, heavyBound, maxRSS>>20)
	b.WriteString("| category | cases | passed |\n|---|---:|---:|\n")
	total, passed := 0, 0
	cats := make([]string, 0, len(st.cases))
	for k := range st.cases {
		cats = append(cats, k)
	}
	slices.Sort(cats)
	for _, cat := range cats {
		v := st.cases[cat]
		total += v[0]
		passed += v[1]
		fmt.Fprintf(&b, "| %s | %d | %d |\n", cat, v[0], v[1])
	}
	fmt.Fprintf(&b, "| **all** | **%d** | **%d** |\n\n", total, passed)
	var peak int64
	var peakC string
	for c, r := range st.rss {
		if r > peak {
			peak, peakC = r, c
		}
	}
	fmt.Fprintf(&b, "- campaign time: %s for %d cases\n", took.Round(time.Second), n)
	fmt.Fprintf(&b, "- slowest hostile poll: %s (`%s`)\n", st.maxPoll.Round(time.Millisecond), st.maxPollC)
	fmt.Fprintf(&b, "- peak RSS of a heavy case's process: %.1f MiB (`%s`; %d heavy cases)\n", float64(peak)/(1<<20), peakC, len(st.rss))
	fmt.Fprintf(&b, "- peak RSS of the in-process campaign (all light cases): %.1f MiB\n", float64(vmHWM())/(1<<20))
	if len(st.failed) > 0 {
		b.WriteString("\nFailing cases:\n\n")
		for _, f := range st.failed {
			fmt.Fprintf(&b, "- `%s`\n", f)
		}
	}
	return b.String()
}
