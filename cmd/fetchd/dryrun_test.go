package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fetchd/internal/pop3/pop3test"
)

func runDry(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr lockedBuffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fileState is a file's bytes and modification time; "absent" when there
// is none.
func fileState(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	return fi.ModTime().String() + string(b)
}

// `fetchd once --dry-run` without a daemon: before the first poll it
// creates neither the store nor the maildir, and lists what the poll will
// fetch; after it, it leaves the store as it is and lists what is left.
func TestOnce_DryRunLocal(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Messages = []pop3test.Message{{UID: "a", Body: []byte("Subject: a\r\n\r\nA\r\n")}, {UID: "big", Body: bytes.Repeat([]byte("x"), 5000)}}
	srv.Start()
	dir := t.TempDir()
	cfg := daemonConfig(t, dir, "", []fakeAccount{{name: "dry", user: "user", srv: srv,
		extra: "keep = true\ndelete_after = \"1h\"\nmax_message_size = 1000\n"}})
	statePath, maildir := filepath.Join(dir, "state", "fetchd.db"), filepath.Join(dir, "Maildir-dry")

	code, out, errOut := runDry(t, "once", "-c", cfg, "--dry-run")
	if code != exitOK {
		t.Fatalf("dry run exit %d:\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"dry: dry run, nothing changed: would fetch 1 (17 bytes), delete 0, skip 1; 0 delivered before and kept",
		"  fetch  #1  a  17 bytes\n",
		"  skip   #2  big  5000 bytes  over max_message_size (1000 bytes): left on the server\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, p := range []string{statePath, filepath.Dir(statePath), maildir} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("the dry run created %s", p)
		}
	}

	if code, out, _ := runDry(t, "once", "-c", cfg); code != exitOK || !strings.Contains(out, "dry: 1 fetched") {
		t.Fatalf("real poll: exit %d, %s", code, out)
	}
	before := fileState(t, statePath)
	code, out, _ = runDry(t, "once", "-c", cfg, "--dry-run", "dry")
	if code != exitOK || !strings.Contains(out, "would fetch 0 (0 bytes), delete 0, skip 1; 1 delivered before and kept") {
		t.Errorf("second dry run: exit %d:\n%s", code, out)
	}
	if fileState(t, statePath) != before {
		t.Error("the dry run changed the state store")
	}
	if retrs := strings.Count(strings.Join(srv.Commands(), "\n"), "RETR"); retrs != 1 {
		t.Errorf("server got %d RETRs, want only the real poll's one", retrs)
	}

	if code, _, errOut := runDry(t, "once", "-c", cfg, "--dry-run", "--mark-seen"); code != exitUsage || !strings.Contains(errOut, "exclude each other") {
		t.Errorf("--dry-run --mark-seen: exit %d, %s", code, errOut)
	}
}

// With a daemon on the store, `once --dry-run` asks the daemon, which does
// the dry run on the store it holds; nothing is fetched, the store's
// records stay, and the daemon's own polls go on.
func TestOnce_DryRunThroughDaemon(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Messages = []pop3test.Message{{UID: "a", Body: []byte("Subject: a\r\n\r\nA\r\n")}}
	srv.Start()
	dir := t.TempDir()
	cfg := daemonConfig(t, dir, "", []fakeAccount{{name: "d", user: "user", srv: srv,
		extra: "keep = true\nschedule = \"@every 1h\"\njitter = \"0s\"\n"}})
	dm := startDaemon(t, cfg)
	eventually(t, 15*time.Second, "the first poll", func() bool { return countFiles(t, filepath.Join(dir, "Maildir-d", "new")) == 1 })
	srv.AddMessages(pop3test.Message{UID: "b", Body: []byte("Subject: b\r\n\r\nB\r\n")})
	retrs := strings.Count(strings.Join(srv.Commands(), "\n"), "RETR")

	code, out := dm.Cmd("once", "-c", cfg, "--dry-run")
	if code != exitOK {
		t.Fatalf("dry run exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "the daemon holds the state store") ||
		!regexp.MustCompile(`d: dry run, nothing changed: would fetch 1 \(17 bytes\), delete 0, skip 0; 1 delivered before and kept`).MatchString(out) ||
		!strings.Contains(out, "  fetch  #2  b  17 bytes\n") {
		t.Errorf("output:\n%s", out)
	}
	if n := strings.Count(strings.Join(srv.Commands(), "\n"), "RETR"); n != retrs {
		t.Errorf("the dry run sent %d RETRs", n-retrs)
	}
	if n := countFiles(t, filepath.Join(dir, "Maildir-d", "new")); n != 1 {
		t.Errorf("maildir holds %d messages after the dry run, want 1", n)
	}
	if code, out := dm.Cmd("once", "-c", cfg, "--dry-run", "nope"); code != exitUsage {
		t.Errorf("dry run of an unknown account: exit %d, %s", code, out)
	}
	// The daemon still polls for real afterwards.
	if code, out := dm.Cmd("once", "-c", cfg); code != exitOK || !strings.Contains(out, "d: 1 fetched") {
		t.Errorf("poll after the dry run: exit %d:\n%s", code, out)
	}
	dm.Stop(10 * time.Second)
}

// A dry run through the daemon does not log into a paused account: its
// server rejected the last logins, and one more could lock it.
func TestOnce_DryRunThroughDaemonSkipsPaused(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.SetPassword("not-the-configured-one")
	srv.Start()
	dir := t.TempDir()
	cfg := daemonConfig(t, dir, "", []fakeAccount{{name: "p", user: "user", srv: srv,
		extra: "pause_after_auth_failures = 1\nschedule = \"@every 1h\"\njitter = \"0s\"\n"}})
	dm := startDaemon(t, cfg)
	eventually(t, 15*time.Second, "the pause", func() bool {
		_, status := dm.Cmd("status", "-c", cfg)
		return strings.Contains(status, "paused")
	})
	logins := len(srv.Commands())
	code, out := dm.Cmd("once", "-c", cfg, "--dry-run")
	if code == exitOK || !strings.Contains(out, "p: dry run not done: the account is paused") || !strings.Contains(out, "fetchd resume p") {
		t.Errorf("dry run of a paused account: exit %d:\n%s", code, out)
	}
	if n := len(srv.Commands()); n != logins {
		t.Errorf("the dry run sent %d commands to the paused account's server", n-logins)
	}
	dm.Stop(10 * time.Second)
}
