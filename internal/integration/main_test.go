package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net"
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
)

// fetchdBin is the binary TestMain builds; buildErr says why there is none.
var (
	fetchdBin string
	buildErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv(rssHelperEnv) != "" {
		os.Exit(rssHelper(os.Getenv(rssHelperEnv), os.Args[1:]))
	}
	os.Exit(run(m))
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

func run(m *testing.M) int {
	if os.Getenv("FETCHD_DOVECOT_DIR") == "" {
		return m.Run() // every test skips (or fails under CI=true) in needDovecot
	}
	dir, err := os.MkdirTemp("", "fetchd-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	fetchdBin = filepath.Join(dir, "fetchd")
	cmd := exec.Command("go", "build", "-o", fetchdBin, "fetchd/cmd/fetchd")
	if out, err := cmd.CombinedOutput(); err != nil {
		// Tests that need the binary fail with this; the raw Dovecot tests still run.
		buildErr = fmt.Errorf("go build fetchd/cmd/fetchd: %v\n%s", err, out)
	}
	return m.Run()
}

// dovecot describes the private instance scripts/dovecot.sh started.
type dovecot struct {
	Dir, Log, Cert, Home, Password string
	POP3, POP3S, LMTP              string // host:port
	UID, GID                       int
}

// needDovecot returns the running instance, or skips the test when there is
// none; under CI=true a missing Dovecot is a failure, so CI cannot pass by
// skipping.
func needDovecot(t *testing.T) *dovecot {
	t.Helper()
	get := func(k string) string { return os.Getenv("FETCHD_DOVECOT_" + k) }
	d := &dovecot{
		Dir: get("DIR"), Log: get("LOG"), Cert: get("CERT"), Home: get("HOME"),
		Password: get("PASSWORD"), POP3: get("POP3"), POP3S: get("POP3S"), LMTP: get("LMTP"),
	}
	var err1, err2 error
	d.UID, err1 = strconv.Atoi(get("UID"))
	d.GID, err2 = strconv.Atoi(get("GID"))
	if d.Dir == "" || d.Cert == "" || d.Home == "" || d.POP3 == "" || d.POP3S == "" || err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Dovecot not running: run ./scripts/test.sh")
		}
		t.Skip("Dovecot not running (no FETCHD_DOVECOT_* variables): run ./scripts/test.sh")
	}
	if d.Log == "" {
		d.Log = filepath.Join(d.Dir, "dovecot.log")
	}
	return d
}

// needFetchd is needDovecot plus the built fetchd binary.
func needFetchd(t *testing.T) *dovecot {
	t.Helper()
	d := needDovecot(t)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return d
}

// box is one test's world: a fresh Dovecot user (so a fresh mailbox) and a temp
// dir holding fetchd's config, state store and target maildir.
type box struct {
	d       *dovecot
	User    string
	Mailbox string // the server's maildir: HOME/USER/Maildir
	Dir     string
	Out     string // fetchd's target maildir
	State   string
}

func newBox(t *testing.T, d *dovecot) *box {
	t.Helper()
	b := &box{d: d, User: fmt.Sprintf("u%08x", rand.Uint32()), Dir: t.TempDir()}
	home := filepath.Join(d.Home, b.User)
	b.Mailbox = filepath.Join(home, "Maildir")
	b.Out = filepath.Join(b.Dir, "Maildir")
	b.State = filepath.Join(b.Dir, "state", "fetchd.db")
	if err := testcorpus.WriteMaildir(b.Mailbox, nil, d.UID, d.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, d.UID, d.GID); err != nil {
		t.Fatal(err)
	}
	if err := testcorpus.WriteMaildir(b.Out, nil, -1, -1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	t.Logf("user %s, mailbox %s, fetchd dir %s", b.User, b.Mailbox, b.Dir)
	return b
}

// seed delivers ms into the user's mailbox on the server.
func (b *box) seed(t *testing.T, ms []testcorpus.Message) {
	t.Helper()
	if err := testcorpus.WriteMaildir(b.Mailbox, ms, b.d.UID, b.d.GID); err != nil {
		t.Fatal(err)
	}
}

// serverCount is how many messages the server still holds for the user.
func (b *box) serverCount(t *testing.T) int {
	t.Helper()
	return countFiles(t, b.Mailbox)
}

func countFiles(t *testing.T, maildir string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}

// account is what varies between the tests' [[account]] sections.
type account struct {
	Server        string
	Port          int
	TLS           string // implicit | starttls | none
	AllowInsecure bool
	Password      string
	Keep          bool
	// TraceHeaders turns on the trace header fields fetchd adds (Received and,
	// for local targets, Delivered-To, Return-Path). Off unless a test sets
	// it, so that tests of the POP3 transport compare bytes exactly.
	TraceHeaders bool
	Extra        string // more account keys, as TOML lines
	Deliver      string // the [[account.deliver]] tables, as TOML; "" is maildir = b.Out
}

// implicitTLS is the default account: POP3S to localhost.
func (b *box) implicitTLS() account {
	_, port := splitAddr(b.d.POP3S)
	return account{Server: "localhost", Port: port, TLS: "implicit", Password: b.d.Password}
}

func splitAddr(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		panic(err)
	}
	return h, n
}

// config writes a fetchd config for one account and returns its path.
func (b *box) config(t *testing.T, a account) string {
	t.Helper()
	var c strings.Builder
	fmt.Fprintf(&c, "state = %q\nlog_level = %q\n\n", b.State, "debug")
	fmt.Fprintf(&c, "[[account]]\nname = %q\nserver = %q\nport = %d\ntls = %q\n", "t", a.Server, a.Port, a.TLS)
	fmt.Fprintf(&c, "allow_insecure = %t\nuser = %q\npassword = %q\nkeep = %t\ntimeout = %q\ntrace_headers = %t\n",
		a.AllowInsecure, b.User, a.Password, a.Keep, "10s", a.TraceHeaders)
	c.WriteString(a.Extra)
	if a.Deliver == "" {
		fmt.Fprintf(&c, "\n[[account.deliver]]\nmaildir = %q\n", b.Out)
	} else {
		c.WriteString("\n" + a.Deliver)
	}
	p := filepath.Join(b.Dir, "fetchd.toml")
	if err := os.WriteFile(p, []byte(c.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// result is one finished fetchd run.
type result struct {
	Code           int
	Stdout, Stderr string
	MaxRSSKiB      int64
	Elapsed        time.Duration
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

// fetchd runs the binary with args and the test certificate trusted.
func (b *box) fetchd(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{fetchdBin}, args...)...)
	// Go reads SSL_CERT_FILE instead of the system bundle: trust the test certificate.
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+b.d.Cert, rssHelperEnv+"="+rssFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if cmd.ProcessState == nil {
		t.Fatalf("fetchd %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("fetchd %s: killed after %v\nstderr:\n%s", strings.Join(args, " "), r.Elapsed, tail(r.Stderr, 40))
	}
	r.Code = cmd.ProcessState.ExitCode()
	if data, err := os.ReadFile(rssFile); err == nil {
		r.MaxRSSKiB, _ = strconv.ParseInt(string(data), 10, 64) // KiB on Linux
	}
	t.Logf("fetchd %s: exit %d in %v; stdout: %s", strings.Join(args[:1], " "), r.Code,
		r.Elapsed.Round(time.Millisecond), strings.TrimSpace(r.Stdout))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fetchd %s stderr (tail):\n%s", strings.Join(args, " "), tail(r.Stderr, 40))
		}
	})
	return r
}

// once runs "fetchd once -c CONFIG".
func (b *box) once(t *testing.T, cfg string) result {
	t.Helper()
	return b.fetchd(t, "once", "-c", cfg)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// multiset maps a SHA-256 to how many times it occurs.
type multiset map[[32]byte]int

// expected is the multiset of testcorpus.Expected over ms, with names for reports.
func expected(ms []testcorpus.Message) (multiset, map[[32]byte]string) {
	set, names := multiset{}, map[[32]byte]string{}
	for _, m := range ms {
		h := sha256.Sum256(testcorpus.Expected(m))
		set[h]++
		names[h] = m.Name
	}
	return set, names
}

// delivered is the multiset of the files in maildir's new/ and cur/.
func delivered(t *testing.T, maildir string) multiset {
	t.Helper()
	set := multiset{}
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(maildir, sub)
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			set[sha256.Sum256(data)]++
		}
	}
	return set
}

// checkDelivered fails unless maildir holds exactly Expected(m) for every m in
// ms, each exactly once, and nothing else.
func checkDelivered(t *testing.T, maildir string, ms []testcorpus.Message) {
	t.Helper()
	want, names := expected(ms)
	got := delivered(t, maildir)
	var problems []string
	for h, n := range want {
		if got[h] != n {
			problems = append(problems, fmt.Sprintf("message %s: delivered %d times, want %d", names[h], got[h], n))
		}
	}
	sort.Strings(problems)
	if len(problems) > 15 {
		problems = append(problems[:15], fmt.Sprintf("… and %d more messages", len(problems)-15))
	}
	extra := 0
	for h, n := range got {
		if _, ok := want[h]; !ok {
			extra += n
		}
	}
	if extra > 0 {
		problems = append(problems, fmt.Sprintf("%d files match no corpus message (bytes changed in transit?)", extra))
		problems = append(problems, unmatched(t, maildir, want, ms, 5)...)
	}
	if len(problems) > 0 {
		t.Errorf("maildir %s does not match the corpus (%d messages):\n%s", maildir, len(ms), strings.Join(problems, "\n"))
	}
}

func sha256sum(b []byte) [32]byte { return sha256.Sum256(b) }

// unmatched describes up to n files in maildir whose bytes are not in want.
func unmatched(t *testing.T, maildir string, want multiset, ms []testcorpus.Message, n int) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(maildir, sub)
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := want[sha256.Sum256(data)]; ok {
				continue
			}
			if len(out) == n {
				return out
			}
			out = append(out, fmt.Sprintf("  %s/%s: %s", sub, e.Name(), describeMismatch(data, ms)))
		}
	}
	return out
}
