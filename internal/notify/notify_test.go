package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// logBuf collects the JSON log lines the worker writes concurrently.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// entries returns the log lines as decoded JSON objects.
func (l *logBuf) entries(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the log entries at level whose message contains msg.
func (l *logBuf) find(t *testing.T, level, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range l.entries(t) {
		if e["level"] == level && strings.Contains(fmt.Sprint(e["message"]), msg) {
			out = append(out, e)
		}
	}
	return out
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLog() (*logBuf, zerolog.Logger) {
	lb := &logBuf{}
	return lb, zerolog.New(lb).Level(zerolog.DebugLevel)
}

// sh is argv for a shell script; args become $0, $1, ….
func sh(script string, args ...string) []string {
	return append([]string{"/bin/sh", "-c", script}, args...)
}

func closeNow(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSend_CommandGetsExactJSONOnStdin(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "stdin")
	// A script file rather than sh -c: argv[0] is run as is, no shell.
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat > \"$1\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, log := newLog()
	n := New([]string{script, out}, log)
	n.Send(Event{
		Event:   "message_too_large",
		Account: "work",
		Time:    time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Host:    "mail.example.net",
		Message: "Message 3 (80 MB) is larger than max_message_size; it stays on the server.",
		Details: map[string]any{"size": 80000000, "uidl": "abc"},
	})
	closeNow(t, n)
	want := `{"event":"message_too_large","account":"work","time":"2024-05-01T12:00:00Z","host":"mail.example.net",` +
		`"message":"Message 3 (80 MB) is larger than max_message_size; it stays on the server.","details":{"size":80000000,"uidl":"abc"}}` + "\n"
	if got := readFile(t, out); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSend_FillsHostAndTime(t *testing.T) {
	out := filepath.Join(t.TempDir(), "stdin")
	_, log := newLog()
	n := New(sh(`cat > "$0"`, out), log)
	before := time.Now()
	n.Send(Event{Event: "guard_tripped", Account: "work", Message: "m"})
	closeNow(t, n)
	var ev Event
	if err := json.Unmarshal([]byte(readFile(t, out)), &ev); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if ev.Host != host {
		t.Errorf("host %q, want %q", ev.Host, host)
	}
	if ev.Time.Before(before.Add(-time.Second)) || ev.Time.After(time.Now()) {
		t.Errorf("time %v, want about %v", ev.Time, before)
	}
	if ev.Details != nil {
		t.Errorf("details %v, want none", ev.Details)
	}
}

func TestSend_Environment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	t.Setenv("FETCHD_TEST_INHERITED", "yes")
	t.Setenv("FETCHD_EVENT", "stale")
	_, log := newLog()
	n := New(sh(`printf '%s|%s|%s\n' "$FETCHD_EVENT" "$FETCHD_ACCOUNT" "$FETCHD_TEST_INHERITED" > "$0"`, out), log)
	n.Send(Event{Event: "account_paused", Account: "work mail", Message: "m"})
	closeNow(t, n)
	if got, want := readFile(t, out), "account_paused|work mail|yes\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSend_EnvironmentWithoutSystemdPlumbing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	plumbing := []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}
	for _, name := range plumbing {
		t.Setenv(name, "from-systemd")
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "/run/credentials/fetchd.service")
	t.Setenv("FETCHD_TEST_INHERITED", "yes")
	_, log := newLog()
	n := New(sh(`env > "$0"`, out), log)
	n.Send(Event{Event: "account_paused", Account: "work", Message: "m"})
	closeNow(t, n)

	got := map[string]string{}
	for line := range strings.Lines(readFile(t, out)) {
		name, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		got[name] = value
	}
	for _, name := range plumbing {
		if v, ok := got[name]; ok {
			t.Errorf("%s: got %q, want it unset", name, v)
		}
	}
	for name, want := range map[string]string{
		"CREDENTIALS_DIRECTORY": "/run/credentials/fetchd.service",
		"FETCHD_TEST_INHERITED": "yes",
		"FETCHD_EVENT":          "account_paused",
		"FETCHD_ACCOUNT":        "work",
	} {
		if got[name] != want {
			t.Errorf("%s: got %q, want %q", name, got[name], want)
		}
	}
}

func TestSend_RunsInOrder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "log")
	_, log := newLog()
	n := New(sh(`printf '%s\n' "$FETCHD_ACCOUNT" >> "$0"`, out), log)
	var want strings.Builder
	for i := range 20 {
		n.Send(Event{Event: "delivery_failed", Account: strconv.Itoa(i), Message: "m"})
		fmt.Fprintf(&want, "%d\n", i)
	}
	closeNow(t, n)
	if got := readFile(t, out); got != want.String() {
		t.Errorf("got %q, want %q", got, want.String())
	}
}

func TestSend_QueueFullDrops(t *testing.T) {
	dir := t.TempDir()
	out, gate := filepath.Join(dir, "log"), filepath.Join(dir, "gate")
	lb, log := newLog()
	// Each run records its account, then waits for the gate file.
	n := New(sh(`printf '%s\n' "$FETCHD_ACCOUNT" >> "$0"; while [ ! -e "$1" ]; do sleep 0.02; done`, out, gate), log)
	n.Send(Event{Event: "delivery_failed", Account: "0", Message: "m"})
	// The worker holds event 0 and is blocked: the queue is empty again.
	waitFor(t, "the first command", func() bool { b, _ := os.ReadFile(out); return len(b) > 0 })
	var want strings.Builder
	want.WriteString("0\n")
	for i := 1; i <= QueueSize; i++ {
		n.Send(Event{Event: "delivery_failed", Account: strconv.Itoa(i), Message: "m"})
		fmt.Fprintf(&want, "%d\n", i)
	}
	start := time.Now()
	n.Send(Event{Event: "delivery_failed", Account: "dropped", Message: "the one too many"})
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send on a full queue took %v", d)
	}
	drops := lb.find(t, "warn", "too many events")
	if len(drops) != 1 || drops[0]["account"] != "dropped" || !strings.Contains(drops[0]["message"].(string), "the one too many") {
		t.Errorf("want one warning about the dropped event, got %v\nlog:\n%s", drops, lb)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	closeNow(t, n)
	if got := readFile(t, out); got != want.String() {
		t.Errorf("commands ran for\n%q\nwant\n%q", got, want.String())
	}
}

// alive reports whether pid is a process that has not exited (a zombie has;
// nobody may reap it in a container without an init).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestRun_TimeoutKillsCommandAndChildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	lb, log := newLog()
	n := newNotifier(sh(`sleep 100 & echo $! > "$0"; wait`, pidFile), log, 300*time.Millisecond, QueueSize)
	start := time.Now()
	n.Send(Event{Event: "oauth_consent", Account: "work", Message: "m"})
	closeNow(t, n)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close returned after %v; the timeout is 300ms", d)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("the child sleep (pid %d) to die", pid), func() bool { return !alive(pid) })
	if got := lb.find(t, "warn", "longer than the timeout"); len(got) != 1 {
		t.Errorf("want one timeout warning, got log:\n%s", lb)
	}
}

func TestRun_FailureIsLoggedWithStatusAndOutput(t *testing.T) {
	lb, log := newLog()
	n := New(sh(`cat > /dev/null; echo "no route to pager"; echo "on stderr" >&2; exit 3`), log)
	n.Send(Event{Event: "account_paused", Account: "work", Message: "m"})
	closeNow(t, n)
	got := lb.find(t, "warn", "notify_command failed")
	if len(got) != 1 {
		t.Fatalf("want one failure warning, got log:\n%s", lb)
	}
	e := got[0]
	if e["status"] != float64(3) || e["output"] != "no route to pager\non stderr" || e["account"] != "work" || e["event"] != "account_paused" {
		t.Errorf("got %v, want status 3, output of both streams, account and event", e)
	}
}

func TestRun_OutputOnSuccessIsLoggedAndCapped(t *testing.T) {
	lb, log := newLog()
	n := New(sh(`echo sent; head -c 10000 /dev/zero | tr '\0' x`), log)
	n.Send(Event{Event: "account_paused", Account: "work", Message: "m"})
	closeNow(t, n)
	got := lb.find(t, "info", "notify_command output")
	if len(got) != 1 {
		t.Fatalf("want one info line with the output, got log:\n%s", lb)
	}
	out := got[0]["output"].(string)
	want := "sent\n" + strings.Repeat("x", MaxOutput-5) + fmt.Sprintf("\n[%d more bytes not kept]", 10000-(MaxOutput-5))
	if out != want {
		t.Errorf("output is %d bytes %.20q…, want %d bytes %.20q…", len(out), out, len(want), want)
	}
}

func TestRun_SilentSuccessLogsNothingAboveDebug(t *testing.T) {
	lb, log := newLog()
	n := New([]string{"/bin/true"}, log)
	n.Send(Event{Event: "account_paused", Account: "work", Message: "m"})
	closeNow(t, n)
	for _, e := range lb.entries(t) {
		if e["level"] != "debug" {
			t.Errorf("unexpected log line %v", e)
		}
	}
}

func TestRun_MissingCommand(t *testing.T) {
	lb, log := newLog()
	n := New([]string{filepath.Join(t.TempDir(), "missing")}, log)
	n.Send(Event{Event: "account_paused", Account: "work", Message: "m"})
	closeNow(t, n)
	if got := lb.find(t, "warn", "could not be started"); len(got) != 1 {
		t.Errorf("want one warning, got log:\n%s", lb)
	}
}

func TestClose_WaitsForQueuedEvents(t *testing.T) {
	out := filepath.Join(t.TempDir(), "log")
	_, log := newLog()
	n := New(sh(`sleep 0.1; printf '%s\n' "$FETCHD_ACCOUNT" >> "$0"`, out), log)
	for i := range 3 {
		n.Send(Event{Event: "delivery_failed", Account: strconv.Itoa(i), Message: "m"})
	}
	closeNow(t, n)
	if got, want := readFile(t, out), "0\n1\n2\n"; got != want {
		t.Errorf("after Close: got %q, want %q", got, want)
	}
}

func TestClose_ContextEndsKillsAndDrops(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	lb, log := newLog()
	n := New(sh(`sleep 100 & echo $! > "$0"; wait`, pidFile), log)
	for range 3 {
		n.Send(Event{Event: "delivery_failed", Account: "work", Message: "m"})
	}
	waitFor(t, "the first command", func() bool { b, _ := os.ReadFile(pidFile); return len(b) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want %v", err, context.DeadlineExceeded)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	waitFor(t, "the child sleep to die", func() bool { return !alive(pid) })
	if got := lb.find(t, "warn", "fetchd is stopping"); len(got) != 1 {
		t.Errorf("want one warning about the killed command, got log:\n%s", lb)
	}
	if got := lb.find(t, "warn", "still queued"); len(got) != 1 || got[0]["count"] != float64(2) {
		t.Errorf("want one warning about 2 dropped events, got log:\n%s", lb)
	}
}

func TestSend_AfterCloseDrops(t *testing.T) {
	out := filepath.Join(t.TempDir(), "log")
	lb, log := newLog()
	n := New(sh(`cat >> "$0"`, out), log)
	closeNow(t, n)
	n.Send(Event{Event: "delivery_failed", Account: "work", Message: "late"})
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran after Close")
	}
	if got := lb.find(t, "warn", "late"); len(got) != 1 {
		t.Errorf("want one warning about the late event, got log:\n%s", lb)
	}
	closeNow(t, n) // a second Close is harmless
}

func TestNew_EmptyArgvOnlyLogs(t *testing.T) {
	for _, argv := range [][]string{nil, {}} {
		lb, log := newLog()
		n := New(argv, log)
		n.Send(Event{Event: "guard_tripped", Account: "work", Message: "Run fetchd once --mark-seen work.", Details: map[string]any{"messages": 5000}})
		closeNow(t, n)
		got := lb.find(t, "info", "Run fetchd once --mark-seen work.")
		if len(got) != 1 || got[0]["event"] != "guard_tripped" || got[0]["account"] != "work" {
			t.Errorf("argv %v: want the event logged once at info, got log:\n%s", argv, lb)
		}
		if d, _ := got[0]["details"].(map[string]any); d["messages"] != float64(5000) {
			t.Errorf("argv %v: details %v, want messages 5000", argv, got[0]["details"])
		}
	}
}
