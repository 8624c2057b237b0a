package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchd/internal/control"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
	"fetchd/internal/testharness"
)

// These tests run the real binary as `fetchd run`, with fake POP3 servers,
// a unixgram socket as NOTIFY_SOCKET, and the control socket in a runtime
// directory of their own.

func TestMain(m *testing.M) {
	code := m.Run()
	testharness.RemoveBinary()
	os.Exit(code)
}

func startDaemon(t *testing.T, cfg string, env ...string) *testharness.Daemon {
	t.Helper()
	return testharness.StartDaemon(t, cfg, env...)
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testharness.Eventually(t, within, what, cond)
}

// metric reads one sample from /metrics; 0 when absent.
func metric(t *testing.T, c *control.Client, name string, labels ...string) float64 {
	t.Helper()
	body, err := c.Get(context.Background(), "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return 0
}

type fakeAccount struct {
	name, user string
	srv        *pop3test.Server
	extra      string
}

// daemonConfig writes a config with one account per fakeAccount, each
// delivering into a maildir of its own under dir.
func daemonConfig(t *testing.T, dir, top string, accounts []fakeAccount) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state = %q\nlog_level = \"info\"\n%s\n", filepath.Join(dir, "state", "fetchd.db"), top)
	for _, a := range accounts {
		host, port, _ := net.SplitHostPort(a.srv.Addr())
		fmt.Fprintf(&b, `[[account]]
name = %q
server = %q
port = %s
tls = "none"
allow_insecure = true
user = %q
password = "pass"
timeout = "5s"
%s
[[account.deliver]]
maildir = %q
`, a.name, host, port, a.user, a.extra, filepath.Join(dir, "Maildir-"+a.name))
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

// Acceptance 1: 20 accounts on 3 servers with max_per_server = 2: never more
// than 2 sessions at once on a server, and every account polled on
// schedule, several times.
func TestDaemon_TwentyAccountsThreeServers(t *testing.T) {
	var servers []*pop3test.Server
	for _, host := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		s := pop3test.NewServer(t)
		s.Host = host
		s.AnyUser = true
		s.LoginPause = 100 * time.Millisecond
		s.Messages = []pop3test.Message{{UID: "m1", Body: []byte("Subject: hi\r\n\r\nhello\r\n")}}
		s.Start()
		servers = append(servers, s)
	}
	var accounts []fakeAccount
	for i := range 20 {
		accounts = append(accounts, fakeAccount{name: fmt.Sprintf("acct%02d", i), user: fmt.Sprintf("user%02d", i),
			srv: servers[i%3], extra: "keep = true\nschedule = \"@every 2s\"\njitter = \"0s\""})
	}
	dir := t.TempDir()
	cfg := daemonConfig(t, dir, "max_parallel = 6\nmax_per_server = 2", accounts)
	d := startDaemon(t, cfg)

	eventually(t, 30*time.Second, "every account logged in 3 times", func() bool {
		for i, a := range accounts {
			if servers[i%3].Logins()[a.user] < 3 {
				return false
			}
		}
		return true
	})
	c := d.Client()
	polls := 0.0
	for _, a := range accounts {
		polls += metric(t, c, "fetchd_polls_total", `account="`+a.name+`"`, `result="ok"`)
	}
	d.Stop(10 * time.Second)

	for i, s := range servers {
		// Logged-in sessions: fetchd does not wait for the answer to a QUIT
		// that deletes nothing, so a busy fake server may accept the next
		// connection before it has read that QUIT.
		if peak := s.PeakLoggedIn(); peak > 2 {
			t.Errorf("server %d had %d sessions at once, max_per_server = 2", i+1, peak)
		} else if peak < 2 {
			t.Errorf("server %d never had 2 sessions at once (peak %d): accounts do not poll in parallel", i+1, peak)
		}
	}
	for _, a := range accounts {
		if n := countFiles(t, filepath.Join(dir, "Maildir-"+a.name, "new")); n != 1 {
			t.Errorf("account %s delivered %d messages, want 1 (keep mode fetches once)", a.name, n)
		}
	}
	if polls < 60 {
		t.Errorf("metrics count %.0f successful polls, want at least 60", polls)
	}
}

// Acceptance 2: SIGHUP with a syntax error keeps the daemon running and
// polling, and `fetchd status` shows the error; a valid reload adds an
// account; SIGUSR1 polls now; /metrics counters move (acceptance 4).
func TestDaemon_ReloadSignalsStatusMetrics(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.AnyUser = true
	srv.Messages = []pop3test.Message{{UID: "m1", Body: []byte("Subject: hi\r\n\r\nhello\r\n")}}
	srv.Start()
	dir := t.TempDir()
	first := []fakeAccount{{name: "one", user: "u1", srv: srv, extra: "keep = true\nschedule = \"@every 1h\""}}
	cfg := daemonConfig(t, dir, "", first)
	d := startDaemon(t, cfg, "WATCHDOG_USEC=400000")
	eventually(t, 10*time.Second, "the start-up poll", func() bool { return srv.Logins()["u1"] == 1 })
	d.WaitNotify("WATCHDOG=1", 2, 5*time.Second)

	c := d.Client()
	eventually(t, 5*time.Second, "the poll counted", func() bool {
		return metric(t, c, "fetchd_polls_total", `account="one"`, `result="ok"`) == 1
	})
	if n := metric(t, c, "fetchd_messages_delivered_total", `account="one"`); n != 1 {
		t.Errorf("fetchd_messages_delivered_total = %v, want 1", n)
	}

	// SIGUSR1: an immediate poll; the counter moves.
	d.Signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, "a poll after SIGUSR1", func() bool { return srv.Logins()["u1"] == 2 })
	eventually(t, 5*time.Second, "the counter moved", func() bool {
		return metric(t, c, "fetchd_polls_total", `account="one"`, `result="ok"`) == 2
	})
	if _, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command("curl", "-sf", "--unix-socket", d.Socket(), "http://fetchd/metrics").Output()
		if err != nil || !regexp.MustCompile(`fetchd_polls_total\{account="one",result="ok"\} 2`).Match(out) {
			t.Errorf("curl --unix-socket /metrics: %v\n%s", err, out)
		}
	}

	// A syntax error: the daemon keeps running the old config, says so, and
	// still polls.
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(append([]byte{}, good...), []byte("\n[[account]\nname = \"broken\"\n")...), 0o600)
	d.Signal(syscall.SIGHUP)
	d.WaitNotify("RELOADING=1", 1, 5*time.Second)
	d.WaitNotify("READY=1", 2, 5*time.Second)
	code, out := d.Cmd("status", "-c", cfg)
	broken := fmt.Sprintf("config.toml:%d: syntax error", strings.Count(string(good), "\n")+2)
	if code != exitUsage || !strings.Contains(out, "RELOAD FAILED") || strings.Count(out, broken) != 2 || !strings.Contains(out, "one") {
		t.Errorf("status after a broken reload (exit %d), want exit 2, the file's error, and RELOAD FAILED with it:\n%s", code, out)
	}
	if !strings.Contains(d.Stderr.String(), "configuration NOT reloaded") {
		t.Errorf("the daemon did not log the failed reload:\n%s", d.Stderr.String())
	}
	if n := metric(t, c, "fetchd_config_last_reload_successful"); n != 0 {
		t.Errorf("fetchd_config_last_reload_successful = %v after a broken reload", n)
	}
	d.Signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, "a poll after the broken reload", func() bool { return srv.Logins()["u1"] == 3 })

	// A valid reload that adds an account: it polls at once... on its
	// schedule, and SIGUSR1 polls it too.
	second := append(first, fakeAccount{name: "two", user: "u2", srv: srv, extra: "keep = true\nschedule = \"@every 1s\""})
	daemonConfig(t, dir, "", second)
	d.Signal(syscall.SIGHUP)
	d.WaitNotify("READY=1", 3, 5*time.Second)
	eventually(t, 10*time.Second, "the new account polled", func() bool { return srv.Logins()["u2"] >= 1 })
	code, out = d.Cmd("status", "-c", cfg)
	if code != 0 || strings.Contains(out, "RELOAD FAILED") || !strings.Contains(out, "two") {
		t.Errorf("status after a good reload (exit %d):\n%s", code, out)
	}
	if n := metric(t, c, "fetchd_config_last_reload_successful"); n != 1 {
		t.Errorf("fetchd_config_last_reload_successful = %v after a good reload", n)
	}

	// `fetchd once` goes through the daemon, which holds the store.
	code, out = d.Cmd("once", "-c", cfg, "one")
	if code != 0 || !strings.Contains(out, "one: 0 fetched") || !strings.Contains(out, "the daemon holds the state store") {
		t.Errorf("once through the daemon (exit %d):\n%s", code, out)
	}
	code, out = d.Cmd("resume", "-c", cfg, "one")
	if code != 0 || !strings.Contains(out, "one: resumed") {
		t.Errorf("resume (exit %d):\n%s", code, out)
	}

	// A second daemon on the same state fails at once, clearly.
	start := time.Now()
	code, out = d.Cmd("run", "-c", cfg)
	if code != exitStateLocked || !strings.Contains(out, "already running") || time.Since(start) > 5*time.Second {
		t.Errorf("second daemon: exit %d after %s, want %d at once:\n%s", code, time.Since(start), exitStateLocked, out)
	}

	d.Stop(10 * time.Second)
	if d.Notify.Count("STOPPING=1") != 1 {
		t.Errorf("no STOPPING=1: %s", d.Notify.All())
	}
	// Without the daemon, status reads the store.
	code, out = d.Cmd("status", "-c", cfg)
	if code != 0 || !strings.Contains(out, "no daemon runs") || !strings.Contains(out, "one") {
		t.Errorf("status without a daemon (exit %d):\n%s", code, out)
	}
}

// Acceptance 3: SIGTERM in the middle of a 20 MB message: the daemon exits
// within 10 s, and after a restart the message is in the maildir exactly once
// and gone from the server.
func TestDaemon_SIGTERMDuringLargeMessage(t *testing.T) {
	tests := []struct {
		name string
		rate int64 // bytes per second the server sends the body at
		// finished: the message completes within the drain timeout (5 s).
		finished bool
	}{
		{"finishes within the drain timeout", 8 << 20, true},
		{"too slow: cancelled, stays on the server", 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnop\r\n"), 20<<20/90)
			body = append([]byte("Subject: big\r\n\r\n"), body...)
			srv := pop3test.NewServer(t)
			srv.BodyRate = tt.rate
			srv.Messages = []pop3test.Message{{UID: "big", Body: body}, {UID: "small", Body: []byte("Subject: s\r\n\r\nsmall\r\n")}}
			srv.Start()
			dir := t.TempDir()
			cfg := daemonConfig(t, dir, "", []fakeAccount{{name: "big", user: "user", srv: srv, extra: `schedule = "@every 1h"`}})
			d := startDaemon(t, cfg)
			eventually(t, 10*time.Second, "RETR started", func() bool {
				for _, c := range srv.Commands() {
					if strings.HasPrefix(c, "RETR") {
						return true
					}
				}
				return false
			})
			time.Sleep(time.Second) // well into the body
			took := d.Stop(10 * time.Second)
			t.Logf("exited %s after SIGTERM", took.Round(time.Millisecond))

			maildir := filepath.Join(dir, "Maildir-big", "new")
			delivered, left := countFiles(t, maildir), len(srv.Mailbox())
			if tt.finished && (delivered != 1 || left != 1) {
				t.Errorf("after a drained stop: %d delivered, %d on the server; want the big one delivered and deleted, the small one left", delivered, left)
			}
			if !tt.finished && (delivered != 0 || left != 2) {
				t.Errorf("after a cancelled stop: %d delivered, %d on the server; want nothing delivered, both left", delivered, left)
			}

			// Restart at full speed: everything arrives exactly once.
			srv.SetBodyRate(0)
			d2 := startDaemon(t, cfg)
			eventually(t, 20*time.Second, "the rest delivered", func() bool {
				return countFiles(t, maildir) == 2 && len(srv.Mailbox()) == 0
			})
			d2.Stop(10 * time.Second)
			if n := countFiles(t, maildir); n != 2 {
				t.Errorf("%d messages in the maildir after the restart, want 2 (none lost, none twice)", n)
			}
		})
	}
}

// notify_command runs once for a message over max_message_size, not on
// every poll.
func TestDaemon_NotifyCommandOncePerEvent(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Messages = []pop3test.Message{{UID: "huge", Body: bytes.Repeat([]byte("x"), 5000)}}
	srv.Start()
	dir := t.TempDir()
	out := filepath.Join(dir, "events")
	top := fmt.Sprintf("notify_command = [\"sh\", \"-c\", \"cat >> %s\"]", out)
	cfg := daemonConfig(t, dir, top, []fakeAccount{{name: "n", user: "user", srv: srv,
		extra: "keep = true\nmax_message_size = 1000\nschedule = \"@every 1s\"\njitter = \"0s\""}})
	d := startDaemon(t, cfg)
	eventually(t, 15*time.Second, "three polls", func() bool { return srv.Logins()["user"] >= 3 })
	d.Stop(10 * time.Second)
	b, _ := os.ReadFile(out)
	if n := strings.Count(string(b), `"event":"`); n != 1 || !strings.Contains(string(b), `"event":"oversize"`) {
		t.Fatalf("notify_command got %d events over 3 polls, want 1 oversize event:\n%s", n, b)
	}
	if !strings.Contains(string(b), `"account":"n"`) {
		t.Errorf("event lacks the account: %s", b)
	}
}

// Without a daemon, `fetchd status` shows a pause recorded in the store,
// and `fetchd resume` lifts it there.
func TestStatusAndResume_PauseInStoreWithoutDaemon(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Start()
	cfg, dir := writeConfig(t, srv.Addr(), "")
	store, err := state.Open(filepath.Join(dir, "state", "fetchd.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	host, portStr, _ := net.SplitHostPort(srv.Addr())
	port, _ := strconv.Atoi(portStr)
	key := state.AccountKey{Server: host, Port: port, User: "user"}
	if err := store.SetPause(key, &state.Pause{Since: time.Now(), Reason: "the server rejected the login 3 times in a row", Salt: []byte("s"), Proof: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	code, out, _ := runCLI("status", "-c", cfg)
	if code != exitOK || !strings.Contains(out, "PAUSED") || !strings.Contains(out, "fetchd resume fake") {
		t.Errorf("status (exit %d) does not show the pause:\n%s", code, out)
	}
	code, out, _ = runCLI("resume", "-c", cfg, "fake")
	if code != exitOK || !strings.Contains(out, "fake: resumed") {
		t.Errorf("resume (exit %d):\n%s", code, out)
	}
	if _, out, _ = runCLI("status", "-c", cfg); strings.Contains(out, "PAUSED") {
		t.Errorf("still paused after resume:\n%s", out)
	}
}
