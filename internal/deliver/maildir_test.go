package deliver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
)

func newTestMaildir(t testing.TB) *Maildir {
	t.Helper()
	m, err := NewMaildir(filepath.Join(t.TempDir(), "Mail"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// names lists the file names in dir/sub.
func names(t testing.TB, m *Maildir, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(m.Path, sub))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func wantCounts(t *testing.T, m *Maildir, tmp, new int) {
	t.Helper()
	if got := names(t, m, "tmp"); len(got) != tmp {
		t.Errorf("tmp/ holds %q, want %d files", got, tmp)
	}
	if got := names(t, m, "new"); len(got) != new {
		t.Errorf("new/ holds %q, want %d files", got, new)
	}
}

func stage(t *testing.T, m *Maildir, body string) MaildirStaged {
	t.Helper()
	s, err := m.Stage(context.Background(), &Envelope{UIDL: "u1", Size: -1}, strings.NewReader(body))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	return s.(MaildirStaged)
}

func TestNewMaildir_CreatesDirs0700(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b", "Mail")
	m, err := NewMaildir(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "maildir "+root; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, dir := range []string{root, filepath.Join(root, "tmp"), filepath.Join(root, "new"), filepath.Join(root, "cur")} {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want a directory with 0700", dir, fi.Mode())
		}
	}
	if _, err := NewMaildir(root); err != nil {
		t.Errorf("NewMaildir on an existing maildir: %v", err)
	}
}

func TestNewMaildir_NotADirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	badSub := filepath.Join(dir, "badsub")
	if err := os.MkdirAll(badSub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badSub, "new"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, badSub, filepath.Join(file, "Mail"), ""} {
		_, err := NewMaildir(path)
		if err == nil {
			t.Errorf("NewMaildir(%q) = nil error, want one", path)
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Permanent {
			t.Errorf("NewMaildir(%q) = %v, want a temporary *Error", path, err)
		}
	}
	if _, err := NewMaildir(file); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("NewMaildir(file) = %v, want ENOTDIR", err)
	}
}

func TestMaildir_ContentByteExact(t *testing.T) {
	big := strings.Repeat("0123456789abcdef\r\n", 20000) // crosses every buffer boundary
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", ""},
		{"headers and body", "Subject: hi\r\n\r\nhello\r\n", "Subject: hi\n\nhello\n"},
		{"nul and 8-bit", "a\x00b\r\n\xff\xfe\x80\r\n", "a\x00b\n\xff\xfe\x80\n"},
		{"bare cr and lf kept", "a\rb\nc\r\r\nd\r", "a\rb\nc\r\nd\r"},
		{"big", big, strings.ReplaceAll(big, "\r\n", "\n")},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data with EOF", iotest.DataErrReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			if tt.name == "big" && rd.name == "one byte" {
				continue // slow, and "half" already splits it unevenly
			}
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				m := newTestMaildir(t)
				s, err := m.Stage(context.Background(), nil, rd.wrap(strings.NewReader(tt.body)))
				if err != nil {
					t.Fatalf("Stage: %v", err)
				}
				if err := s.Commit(context.Background()); err != nil {
					t.Fatalf("Commit: %v", err)
				}
				final := s.(MaildirStaged).FinalPath()
				got, err := os.ReadFile(final)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want {
					t.Errorf("file holds %q, want %q", trunc(got), trunc([]byte(tt.want)))
				}
				if suffix := ",S=" + strconv.Itoa(len(tt.want)); !strings.HasSuffix(final, suffix) {
					t.Errorf("FinalPath %q, want suffix %q", final, suffix)
				}
				fi, err := os.Stat(final)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
				}
			})
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

func TestMaildir_StageThenCommit(t *testing.T) {
	m := newTestMaildir(t)
	s := stage(t, m, "a\r\n")
	wantCounts(t, m, 1, 0) // durable in tmp/, nothing visible in new/
	if got, want := filepath.Dir(s.TmpPath()), filepath.Join(m.Path, "tmp"); got != want {
		t.Errorf("TmpPath in %q, want %q", got, want)
	}
	planned := s.FinalPath()
	if got, want := filepath.Dir(planned), filepath.Join(m.Path, "new"); got != want {
		t.Errorf("FinalPath in %q, want %q", got, want)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	wantCounts(t, m, 0, 1)
	if got := s.FinalPath(); got != planned {
		t.Errorf("FinalPath after Commit = %q, want the planned %q", got, planned)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Errorf("second Commit: %v, want nil", err)
	}
	if err := s.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v, want nil", err)
	}
	wantCounts(t, m, 0, 1)
}

func TestMaildir_Abort(t *testing.T) {
	m := newTestMaildir(t)
	s := stage(t, m, "a\r\n")
	if err := s.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantCounts(t, m, 0, 0)
	if err := s.Abort(); err != nil {
		t.Errorf("second Abort: %v, want nil", err)
	}
	if err := s.Commit(context.Background()); err == nil {
		t.Errorf("Commit after Abort = nil, want an error")
	}
	wantCounts(t, m, 0, 0)
}

func TestMaildir_CommitNeverOverwrites(t *testing.T) {
	m := newTestMaildir(t)
	s := stage(t, m, "mine\r\n")
	planned := s.FinalPath()
	if err := os.WriteFile(planned, []byte("existing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if s.FinalPath() == planned {
		t.Fatalf("FinalPath = %q, want a fresh name", planned)
	}
	for path, want := range map[string]string{planned: "existing\n", s.FinalPath(): "mine\n"} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s holds %q, want %q", path, got, want)
		}
	}
	wantCounts(t, m, 0, 2)
}

func TestMaildir_CommitFailsThenAbort(t *testing.T) {
	m := newTestMaildir(t)
	s := stage(t, m, "a\r\n")
	if err := os.Remove(filepath.Join(m.Path, "new")); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(context.Background())
	if err == nil || IsPermanent(err) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Commit = %v, want a temporary ENOENT", err)
	}
	if want := "maildir " + m.Path + ": link tmp/"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	if _, err := os.Stat(s.TmpPath()); err != nil {
		t.Errorf("tmp file after failed Commit: %v, want it kept", err)
	}
	if err := s.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if got := names(t, m, "tmp"); len(got) != 0 {
		t.Errorf("tmp/ holds %q after Abort, want nothing", got)
	}
}

func TestMaildir_CommitCancelledBeforeLink(t *testing.T) {
	m := newTestMaildir(t)
	s := stage(t, m, "a\r\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Commit(ctx); !errors.Is(err, context.Canceled) || IsPermanent(err) {
		t.Errorf("Commit = %v, want a temporary context.Canceled", err)
	}
	wantCounts(t, m, 1, 0)
	s.Abort()
	wantCounts(t, m, 0, 0)
}

func TestMaildir_BatchLinkThenSyncDir(t *testing.T) {
	m := newTestMaildir(t)
	var batch []MaildirStaged
	for i := range 3 {
		batch = append(batch, stage(t, m, strconv.Itoa(i)+"\r\n"))
	}
	for _, s := range batch {
		if err := s.Link(); err != nil {
			t.Fatalf("Link: %v", err)
		}
	}
	if err := m.SyncDir(); err != nil {
		t.Fatalf("SyncDir: %v", err)
	}
	wantCounts(t, m, 0, 3)
	for _, s := range batch {
		if err := s.Abort(); err != nil { // a deferred Abort must not undo a linked message
			t.Errorf("Abort after Link: %v", err)
		}
	}
	wantCounts(t, m, 0, 3)
}

var errBoom = errors.New("connection reset")

func TestMaildir_StageFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		name   string
		body   func(cancel context.CancelFunc) io.Reader
		cancel bool // cancel before Stage
		want   error
		op     string
	}{
		{
			name: "reader error mid-body",
			body: func(context.CancelFunc) io.Reader {
				return io.MultiReader(strings.NewReader(strings.Repeat("x\r\n", 50000)), iotest.ErrReader(errBoom))
			},
			want: errBoom, op: "read body",
		},
		{
			name:   "cancelled before stage",
			body:   func(context.CancelFunc) io.Reader { return strings.NewReader("a\r\n") },
			cancel: true, want: context.Canceled, op: "stage",
		},
		{
			name: "cancelled mid-body",
			body: func(cancel context.CancelFunc) io.Reader {
				return io.MultiReader(strings.NewReader("part\r\n"), cancelReader{cancel}, strings.NewReader("rest\r\n"))
			},
			want: context.Canceled, op: "write tmp/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMaildir(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			s, err := m.Stage(ctx, nil, tt.body(cancel))
			if s != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Stage = %v, %v, want nil, %v", s, err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Permanent {
				t.Fatalf("Stage error %#v, want a temporary *Error", err)
			}
			if !strings.HasPrefix(e.Op, tt.op) {
				t.Errorf("Op = %q, want prefix %q", e.Op, tt.op)
			}
			wantCounts(t, m, 0, 0)
		})
	}
}

// cancelReader cancels a context when read, then reports EOF.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) { c.cancel(); return 0, io.EOF }

func TestMaildir_StageErrorMessage(t *testing.T) {
	m := newTestMaildir(t)
	if err := os.Remove(filepath.Join(m.Path, "tmp")); err != nil {
		t.Fatal(err)
	}
	_, err := m.Stage(context.Background(), nil, strings.NewReader("a"))
	re := regexp.MustCompile(`^maildir ` + regexp.QuoteMeta(m.Path) + `: create tmp/[^/]+: no such file or directory$`)
	if err == nil || !re.MatchString(err.Error()) {
		t.Errorf("Stage error %q, want it to match %q", err, re)
	}
}

func TestMaildir_UniqueNames(t *testing.T) {
	m := newTestMaildir(t)
	re := regexp.MustCompile(`^\d+\.M\d+P\d+Q\d+R[0-9a-f]{16}\.[^/:,]+,S=0$`)
	var mu sync.Mutex
	seen := make(map[string]bool)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 250 {
				s, err := m.Stage(context.Background(), nil, bytes.NewReader(nil))
				if err != nil {
					t.Error(err)
					return
				}
				ms := s.(MaildirStaged)
				mu.Lock()
				for _, p := range []string{ms.TmpPath(), ms.FinalPath()} {
					if seen[p] {
						t.Errorf("name %q used twice", p)
					}
					seen[p] = true
				}
				mu.Unlock()
				if name := filepath.Base(ms.FinalPath()); !re.MatchString(name) {
					t.Errorf("name %q does not match %q", name, re)
				}
				s.Abort()
			}
		})
	}
	wg.Wait()
	if len(seen) != 2000 {
		t.Errorf("%d distinct paths, want 2000", len(seen))
	}
}

func TestEscapeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mail.example.org", "mail.example.org"},
		{"a/b", `a\057b`},
		{"a:b", `a\072b`},
		{"a,b", `a\054b`},
	}
	for _, tt := range tests {
		if got := escapeHost(tt.in); got != tt.want {
			t.Errorf("escapeHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkMaildirDeliver50KB(b *testing.B) {
	m := newTestMaildir(b)
	line := strings.Repeat("x", 76) + "\r\n"
	body := []byte(strings.Repeat(line, 50*1024/len(line)))
	b.SetBytes(int64(len(body)))
	ctx := context.Background()
	for b.Loop() {
		s, err := m.Stage(ctx, nil, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
