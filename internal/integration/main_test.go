package integration

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

func TestMain(m *testing.M) {
	if os.Getenv(rssHelperEnv) != "" {
		os.Exit(rssHelper(os.Getenv(rssHelperEnv), os.Args[1:]))
	}
	code := m.Run()
	testharness.RemoveBinary()
	os.Exit(code)
}

// rssHelperEnv, when set, makes the test binary run its arguments as a command
// and write the command's peak RSS (KiB) to the file the variable names.
//
// Why not read the rusage of fetchd started by the test itself: Go starts
// children with clone(CLONE_VM|CLONE_VFORK), and Linux carries the peak RSS of
// the memory the child shared before exec into the child's ru_maxrss: that is
// the test process's peak (over 100 MB after generating the corpus). This
// helper is small when it starts fetchd, so fetchd's ru_maxrss is its own.
const rssHelperEnv = "FETCHD_TEST_MAXRSS_FILE"

func rssHelper(out string, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, rssHelperEnv+"=") })
	// If the test kills the helper on a timeout, fetchd goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "rss helper:", err)
		return 125
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		os.WriteFile(out, []byte(strconv.FormatInt(ru.Maxrss, 10)), 0o600)
	}
	return cmd.ProcessState.ExitCode()
}

// needFetchd is testharness.NeedDovecot plus the fetchd binary (built on the
// first call).
func needFetchd(t *testing.T) *testharness.Dovecot {
	t.Helper()
	d := testharness.NeedDovecot(t)
	testharness.Binary(t)
	return d
}

// newBox is testharness.NewBox, logged so that a failure names the mailbox.
func newBox(t *testing.T, d *testharness.Dovecot) *testharness.Box {
	t.Helper()
	b := testharness.NewBox(t, d)
	t.Logf("user %s, mailbox %s, fetchd dir %s", b.User, b.Mailbox, b.Dir)
	return b
}

// result is one finished fetchd run, with fetchd's peak RSS.
type result struct {
	testharness.Result
	MaxRSSKiB int64
}

var countsRE = regexp.MustCompile(`(\d+) fetched, (\d+) deleted, (\d+) failed`)

// fetched returns the "N fetched" count from the summary line, or fails the test.
func (r result) fetched(t *testing.T) int {
	t.Helper()
	m := countsRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no %q summary in stdout %q", "N fetched, N deleted, N failed", r.Stdout)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// runFetchd runs the binary with args for b, through rssHelper.
func runFetchd(t *testing.T, b *testharness.Box, args ...string) result {
	t.Helper()
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	opt := testharness.RunOptions{Via: os.Args[0], Env: []string{rssHelperEnv + "=" + rssFile}}
	r := result{Result: b.Run(t, opt, args...)}
	if data, err := os.ReadFile(rssFile); err == nil {
		r.MaxRSSKiB, _ = strconv.ParseInt(string(data), 10, 64) // KiB on Linux
	}
	t.Logf("fetchd %s: exit %d in %v; stdout: %s", strings.Join(args[:1], " "), r.Code,
		r.Elapsed.Round(time.Millisecond), strings.TrimSpace(r.Stdout))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fetchd %s stderr (tail):\n%s", strings.Join(args, " "), testharness.Tail(r.Stderr, 40))
		}
	})
	return r
}

// once runs "fetchd once -c CONFIG".
func once(t *testing.T, b *testharness.Box, cfg string) result {
	t.Helper()
	return runFetchd(t, b, "once", "-c", cfg)
}

// checkDelivered fails unless maildir holds exactly Expected(m) for every m in
// ms, each exactly once, and nothing else.
func checkDelivered(t *testing.T, maildir string, ms []testcorpus.Message) {
	t.Helper()
	checkArrived(t, "maildir "+maildir, testharness.ReadMaildir(t, maildir), nil, ms, testcorpus.Expected, false)
}

// checkArrived compares the messages that arrived, each with the fields added
// stripped from its top, with want(m) for every m in ms: each exactly once, and
// nothing else. It returns the names of the messages that did not arrive;
// those are errors unless allowMissing (a test that then checks fetchd reported
// them failed).
func checkArrived(t *testing.T, where string, got []testharness.File, added []testharness.Field, ms []testcorpus.Message,
	want func(testcorpus.Message) []byte, allowMissing bool) (missing []string) {
	t.Helper()
	wantSet, names := testharness.Want(ms, want)
	gotSet := testharness.Multiset{}
	var problems []string
	for _, g := range got {
		rest, err := testharness.StripFields(g.Data, added)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: unexpected header at the top: %v", g.Where, err))
			continue
		}
		h := sha256.Sum256(rest)
		gotSet[h]++
		if _, ok := wantSet[h]; !ok {
			problems = append(problems, fmt.Sprintf("%s: matches no corpus message: %s", g.Where, testharness.Mismatch(rest, ms, want)))
		}
	}
	for h, n := range wantSet {
		switch {
		case gotSet[h] == 0 && allowMissing:
			missing = append(missing, names[h])
		case gotSet[h] != n:
			problems = append(problems, fmt.Sprintf("message %s: arrived %d times, want %d", names[h], gotSet[h], n))
		}
	}
	sort.Strings(problems)
	sort.Strings(missing)
	if len(problems) > 15 {
		problems = append(problems[:15], fmt.Sprintf("… and %d more", len(problems)-15))
	}
	if len(problems) > 0 {
		t.Errorf("%s does not match the corpus (%d messages, %d arrived):\n%s", where, len(ms), len(got), strings.Join(problems, "\n"))
	}
	return missing
}
