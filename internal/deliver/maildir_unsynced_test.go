package deliver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"fetchd/internal/crashpoint"
)

// stageUnsynced stages body with StageUnsynced and fails the test on error.
func stageUnsynced(t *testing.T, m *Maildir, env *Envelope, body string) MaildirStaged {
	t.Helper()
	s, err := m.StageUnsynced(context.Background(), env, strings.NewReader(body))
	if err != nil {
		t.Fatalf("StageUnsynced: %v", err)
	}
	return s
}

// openFilesUnder lists the files this process holds open below dir.
func openFilesUnder(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list open files: %v", err)
	}
	var out []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			out = append(out, target)
		}
	}
	return out
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list open files: %v", err)
	}
	return len(ents)
}

// The ways a caller may finish an unsynced message; each must end with the
// message durable in new/ and its file closed.
var unsyncedFinishes = []struct {
	name   string
	finish func(m *Maildir, s MaildirStaged) error
}{
	{"SyncFile+Link+SyncDir", func(m *Maildir, s MaildirStaged) error {
		return errors.Join(s.SyncFile(context.Background()), s.Link(), m.SyncDir())
	}},
	{"Link+SyncDir", func(m *Maildir, s MaildirStaged) error { return errors.Join(s.Link(), m.SyncDir()) }},
	{"Commit", func(m *Maildir, s MaildirStaged) error { return s.Commit(context.Background()) }},
	{"SyncFile+Commit", func(m *Maildir, s MaildirStaged) error {
		return errors.Join(s.SyncFile(context.Background()), s.Commit(context.Background()))
	}},
}

// StageUnsynced writes exactly what Stage writes (trace header, line ends
// converted, every other byte kept), under a name with the same size, and
// nothing is visible in new/ before Link.
func TestMaildir_StageUnsyncedSameBytesAsStage(t *testing.T) {
	big := strings.Repeat("0123456789abcdef\r\n", 20000) // crosses every buffer boundary
	bodies := []struct{ name, body string }{
		{"empty", ""},
		{"headers and body", "Subject: hi\r\n\r\nhello\r\n"},
		{"dots", ".\r\n..\r\n.x\r\n"},
		{"nul and 8-bit", "a\x00b\r\n\xff\xfe\x80\r\n"},
		{"bare cr and lf kept", "a\rb\nc\r\r\nd\r"},
		{"no final line end", "Subject: x\r\n\r\nlast"},
		{"big", big},
	}
	envs := []struct {
		name string
		env  *Envelope
	}{
		{"no envelope", nil},
		{"trace header", &Envelope{UIDL: "u1", Size: -1, Trace: Trace{
			Received: "from pop.example.com by testhost; Thu, 1 Jan 2026 00:00:00 +0000", ReturnPath: "<a@example.com>", DeliveredTo: "me"}}},
	}
	for _, b := range bodies {
		for _, e := range envs {
			for _, f := range unsyncedFinishes {
				t.Run(b.name+"/"+e.name+"/"+f.name, func(t *testing.T) {
					m := newTestMaildir(t)
					ref, err := m.Stage(context.Background(), e.env, strings.NewReader(b.body))
					if err != nil {
						t.Fatal(err)
					}
					if err := ref.Commit(context.Background()); err != nil {
						t.Fatal(err)
					}
					refPath := ref.(MaildirStaged).FinalPath()
					want, err := os.ReadFile(refPath)
					if err != nil {
						t.Fatal(err)
					}

					s := stageUnsynced(t, m, e.env, b.body)
					if got := names(t, m, "tmp"); len(got) != 1 || filepath.Join(m.Path, "tmp", got[0]) != s.TmpPath() {
						t.Errorf("tmp/ holds %q, want only %s", got, s.TmpPath())
					}
					if got := names(t, m, "new"); len(got) != 1 {
						t.Errorf("new/ holds %q before Link, want only the reference message", got)
					}
					if _, err := os.Lstat(s.FinalPath()); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("FinalPath %s exists before Link: %v", s.FinalPath(), err)
					}
					if got, err := os.ReadFile(s.TmpPath()); err != nil || string(got) != string(want) {
						t.Errorf("tmp/ file holds %q (%v) before the fsync, want %q: the bytes must be written, only not fsynced",
							trunc(got), err, trunc(want))
					}
					if err := f.finish(m, s); err != nil {
						t.Fatalf("%s: %v", f.name, err)
					}
					got, err := os.ReadFile(s.FinalPath())
					if err != nil {
						t.Fatal(err)
					}
					if string(got) != string(want) {
						t.Errorf("StageUnsynced wrote %q, Stage %q", trunc(got), trunc(want))
					}
					sizeOf := func(p string) string { return p[strings.LastIndex(p, ",S="):] }
					if sizeOf(s.FinalPath()) != sizeOf(refPath) || sizeOf(refPath) != ",S="+strconv.Itoa(len(want)) {
						t.Errorf("FinalPath %q and Stage's %q, want both to end in ,S=%d", s.FinalPath(), refPath, len(want))
					}
					if fi, err := os.Stat(s.FinalPath()); err != nil || fi.Mode().Perm() != 0o600 {
						t.Errorf("file %v, %v; want mode 0600", fi, err)
					}
					wantCounts(t, m, 0, 2)
					if open := openFilesUnder(t, m.Path); len(open) != 0 {
						t.Errorf("files still open after %s: %q", f.name, open)
					}
				})
			}
		}
	}
}

// Each step keeps its promise: the file stays in tmp/ (and open) until Link,
// SyncFile closes it, a second SyncFile does nothing, Link makes it visible,
// and after Stage SyncFile has nothing to do.
func TestMaildir_StageUnsyncedSteps(t *testing.T) {
	m := newTestMaildir(t)
	s := stageUnsynced(t, m, nil, "Subject: x\r\n\r\nbody\r\n")
	wantCounts(t, m, 1, 0)
	if open := openFilesUnder(t, m.Path); len(open) != 1 || open[0] != s.TmpPath() {
		t.Errorf("open files after StageUnsynced %q, want the tmp/ file held open for SyncFile", open)
	}
	for i := range 2 {
		if err := s.SyncFile(context.Background()); err != nil {
			t.Fatalf("SyncFile #%d: %v", i+1, err)
		}
		wantCounts(t, m, 1, 0) // durable, still invisible
		if open := openFilesUnder(t, m.Path); len(open) != 0 {
			t.Errorf("open files after SyncFile #%d: %q, want none", i+1, open)
		}
	}
	if err := s.Link(); err != nil {
		t.Fatalf("Link: %v", err)
	}
	wantCounts(t, m, 0, 1)
	if err := m.SyncDir(); err != nil {
		t.Fatalf("SyncDir: %v", err)
	}
	if err := s.Link(); err != nil {
		t.Errorf("second Link: %v, want nil", err)
	}
	if err := s.Abort(); err != nil {
		t.Errorf("Abort after Link: %v, want nil", err)
	}
	wantCounts(t, m, 0, 1) // a linked message belongs to the user

	synced := stage(t, m, "a\r\n")
	if err := synced.SyncFile(context.Background()); err != nil {
		t.Errorf("SyncFile after Stage: %v, want nil", err)
	}
	if err := synced.Commit(context.Background()); err != nil {
		t.Errorf("Commit after Stage and SyncFile: %v", err)
	}
	wantCounts(t, m, 0, 2)
}

// A batch as the fetcher runs it: many staged unsynced, fsynced out of order
// on other goroutines, then linked and one SyncDir.
func TestMaildir_StageUnsyncedBatch(t *testing.T) {
	m := newTestMaildir(t)
	const n = 50
	var batch []MaildirStaged
	for i := range n {
		batch = append(batch, stageUnsynced(t, m, nil, fmt.Sprintf("Subject: %d\r\n\r\n%d\r\n", i, i)))
	}
	wantCounts(t, m, n, 0)
	errs := make(chan error, n)
	for i := n - 1; i >= 0; i-- {
		if i%3 == 0 {
			errs <- nil // left to Link
			continue
		}
		go func() { errs <- batch[i].SyncFile(context.Background()) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("SyncFile: %v", err)
		}
	}
	wantCounts(t, m, n, 0)
	for _, s := range batch {
		if err := s.Link(); err != nil {
			t.Fatalf("Link: %v", err)
		}
	}
	if err := m.SyncDir(); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, m, 0, n)
	for i, s := range batch {
		want := fmt.Sprintf("Subject: %d\n\n%d\n", i, i)
		if got, err := os.ReadFile(s.FinalPath()); err != nil || string(got) != want {
			t.Errorf("message %d holds %q, %v; want %q", i, got, err, want)
		}
	}
	if open := openFilesUnder(t, m.Path); len(open) != 0 {
		t.Errorf("files left open: %q", open)
	}
}

// Abort after StageUnsynced removes the tmp/ file and closes it: a hundred
// aborted messages leave no descriptor behind. After Abort nothing can
// bring the message back.
func TestMaildir_AbortUnsynced(t *testing.T) {
	m := newTestMaildir(t)
	s := stageUnsynced(t, m, nil, "a\r\n")
	if err := s.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantCounts(t, m, 0, 0)
	if err := s.Link(); err == nil {
		t.Error("Link after Abort = nil, want an error")
	}
	if err := s.Commit(context.Background()); err == nil {
		t.Error("Commit after Abort = nil, want an error")
	}
	if err := s.Abort(); err != nil {
		t.Errorf("second Abort: %v, want nil", err)
	}
	wantCounts(t, m, 0, 0)

	// Aborted after SyncFile: the closed file is not closed again, and goes.
	s = stageUnsynced(t, m, nil, "b\r\n")
	if err := s.SyncFile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(); err != nil {
		t.Fatalf("Abort after SyncFile: %v", err)
	}
	wantCounts(t, m, 0, 0)

	before := openFDs(t)
	for i := range 100 {
		s := stageUnsynced(t, m, &Envelope{UIDL: "u", Size: -1}, strings.Repeat("line\r\n", i))
		if err := s.Abort(); err != nil {
			t.Fatalf("Abort #%d: %v", i, err)
		}
	}
	if open := openFilesUnder(t, m.Path); len(open) != 0 {
		t.Errorf("after 100 aborts %d files under the maildir are still open: %q", len(open), open[:min(len(open), 5)])
	}
	// Other tests' goroutines may hold a descriptor or two; a leak here is
	// a hundred.
	if after := openFDs(t); after-before >= 50 {
		t.Errorf("open descriptors went from %d to %d over 100 aborted messages", before, after)
	}
	wantCounts(t, m, 0, 0)
}

// SyncFile after Abort must fail: the file is gone, and "durable" would be
// a lie. (Abort closes the file and forgets it, so a SyncFile that first
// returns nil for "no open file, nothing to sync" never gets to look at the
// state: so it was in 867737e.)
func TestMaildir_SyncFileAfterAbortFails(t *testing.T) {
	m := newTestMaildir(t)
	s := stageUnsynced(t, m, nil, "a\r\n")
	if err := s.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantCounts(t, m, 0, 0)
	if err := s.SyncFile(context.Background()); err == nil || !errors.Is(err, errAborted) || IsPermanent(err) {
		t.Errorf("SyncFile after StageUnsynced and Abort = %v, want a temporary error for an aborted message", err)
	}
}

// A failed fsync is final: SyncFile keeps failing, Link and Commit refuse
// (a file that may not be durable is never made visible), and Abort still
// removes it. The failure is a real one: Sync and Close of a file already
// closed behind the staged message's back.
func TestMaildir_SyncFileFailureIsSticky(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(s *maildirStaged)
	}{
		{"real fsync failure", func(s *maildirStaged) { s.file.Close() }},
		{"recorded failure", func(s *maildirStaged) {
			s.file.Close()
			s.file = nil
			s.syncErr = s.m.fail("fsync tmp/x", syscall.EIO)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMaildir(t)
			st := stageUnsynced(t, m, nil, "Subject: x\r\n\r\nbody\r\n")
			ms, ok := st.(*maildirStaged)
			if !ok {
				t.Fatalf("StageUnsynced returned %T, want *maildirStaged", st)
			}
			tt.breakIt(ms)
			first := st.SyncFile(context.Background())
			if first == nil || IsPermanent(first) {
				t.Fatalf("SyncFile = %v, want a temporary error", first)
			}
			if !strings.HasPrefix(first.Error(), "maildir "+m.Path+": ") {
				t.Errorf("error %q does not name the maildir", first)
			}
			for i := range 2 {
				if err := st.SyncFile(context.Background()); err == nil || err.Error() != first.Error() {
					t.Errorf("SyncFile again (#%d) = %v, want the first failure %v again", i+2, err, first)
				}
			}
			if err := st.Link(); err == nil {
				t.Error("Link after a failed SyncFile = nil, want it refused")
			}
			if err := st.Commit(context.Background()); err == nil {
				t.Error("Commit after a failed SyncFile = nil, want it refused")
			}
			wantCounts(t, m, 1, 0)
			if err := st.Abort(); err != nil {
				t.Fatalf("Abort: %v", err)
			}
			wantCounts(t, m, 0, 0)
			if open := openFilesUnder(t, m.Path); len(open) != 0 {
				t.Errorf("files left open: %q", open)
			}
		})
	}
}

// Failing Link without an explicit SyncFile: its own SyncFile runs first,
// and a failure there leaves new/ untouched.
func TestMaildir_LinkSyncsFirst(t *testing.T) {
	m := newTestMaildir(t)
	st := stageUnsynced(t, m, nil, "a\r\n")
	ms := st.(*maildirStaged)
	if err := st.Link(); err != nil {
		t.Fatal(err)
	}
	if ms.file != nil {
		t.Error("Link left the file open: it did not run SyncFile")
	}

	st = stageUnsynced(t, m, nil, "b\r\n")
	st.(*maildirStaged).file.Close() // its fsync will fail
	if err := st.Link(); err == nil {
		t.Fatal("Link of a message whose fsync fails = nil, want an error")
	}
	if _, err := os.Lstat(st.FinalPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the message was linked although its fsync failed: %v", err)
	}
	wantCounts(t, m, 1, 1)
}

// Where the fsync happens, seen through the crash point that follows it:
// Stage reaches it, StageUnsynced does not, SyncFile does, before anything
// is in new/. The child process is killed at the point.
func TestMaildir_UnsyncedFsyncCrashPoint(t *testing.T) {
	if mode := os.Getenv("MAILDIR_UNSYNCED_CHILD"); mode != "" {
		unsyncedChild(mode)
		return
	}
	tests := []struct {
		mode, wantOut string
		wantTmp       int
	}{
		{"stage", "", 1},                       // Stage fsyncs before it returns
		{"unsynced", "staged\n", 1},            // StageUnsynced does not; SyncFile does
		{"unsynced-then-stage", "staged\n", 2}, // and a later Stage still does
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "Mail")
			cmd := exec.Command(os.Args[0], "-test.run=^TestMaildir_UnsyncedFsyncCrashPoint$")
			cmd.Env = append(os.Environ(), "MAILDIR_UNSYNCED_CHILD="+tt.mode, "MAILDIR_UNSYNCED_DIR="+dir,
				crashpoint.EnvVar+"=maildir.fsynced:1")
			out, err := cmd.Output()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v, output %q; want it killed at maildir.fsynced", err, out)
			}
			ws, ok := ee.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child ended with %v, output %q; want SIGKILL at maildir.fsynced", err, out)
			}
			if string(out) != tt.wantOut {
				t.Errorf("child printed %q before it was killed, want %q", out, tt.wantOut)
			}
			m := &Maildir{Path: dir}
			wantCounts(t, m, tt.wantTmp, 0)
		})
	}
}

func unsyncedChild(mode string) {
	plan, err := crashpoint.FromEnv()
	if err != nil || plan == nil {
		fmt.Println("no crash plan:", err)
		os.Exit(2)
	}
	ctx := crashpoint.With(context.Background(), plan)
	m, err := NewMaildir(os.Getenv("MAILDIR_UNSYNCED_DIR"))
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	body := func() *strings.Reader { return strings.NewReader("Subject: x\r\n\r\nbody\r\n") }
	switch mode {
	case "stage":
		if _, err := m.Stage(ctx, nil, body()); err != nil {
			fmt.Println(err)
		}
	case "unsynced", "unsynced-then-stage":
		st, err := m.StageUnsynced(ctx, nil, body())
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println("staged")
		os.Stdout.Sync()
		if mode == "unsynced" {
			st.SyncFile(ctx)
		} else {
			m.Stage(ctx, nil, body())
		}
	}
	fmt.Println("not killed")
	os.Exit(0)
}
