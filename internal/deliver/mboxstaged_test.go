package deliver

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
)

// enospcWriter passes n bytes through and then fails with ENOSPC.
type enospcWriter struct {
	w io.Writer
	n int
}

func (f *enospcWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return f.w.Write(p)
	}
	k, _ := f.w.Write(p[:f.n])
	f.n = 0
	return k, &os.PathError{Op: "write", Path: "inbox", Err: syscall.ENOSPC}
}

func TestMbox_WriteFailureTruncatesBack(t *testing.T) {
	const existing = mboxFrom + "old" // no final line end: padding is written first
	for _, n := range []int{0, 1, 2, 10, 100} {
		m := newTestMbox(t)
		if err := os.WriteFile(m.Path, []byte(existing), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := m.Stage(context.Background(), nil, strings.NewReader(strings.Repeat("line\r\n", 100)))
		if err != nil {
			t.Fatal(err)
		}
		m.wrapAppend = func(w io.Writer) io.Writer { return &enospcWriter{w: w, n: n} }
		err = s.Commit(context.Background())
		if !errors.Is(err, syscall.ENOSPC) || IsPermanent(err) {
			t.Fatalf("after %d bytes: Commit = %v, want a temporary ENOSPC", n, err)
		}
		if want := "mbox " + m.Path + ": append: no space left on device"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		if got := readMbox(t, m.Path); got != existing {
			t.Errorf("after %d bytes: mbox holds %q, want it back as %q", n, trunc([]byte(got)), existing)
		}
		m.wrapAppend = nil // the disk has room again: the same Staged commits
		if err := s.Commit(context.Background()); err != nil {
			t.Fatalf("second Commit: %v", err)
		}
		if got := parseMboxrd(t, readMbox(t, m.Path)); len(got) != 2 {
			t.Errorf("after the retry: %d messages, want 2", len(got))
		}
		if got := leftovers(t, m); len(got) != 0 {
			t.Errorf("directory holds %q, want nothing", got)
		}
	}
}
