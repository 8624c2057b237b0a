package deliver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newOwnedMbox(t *testing.T) *Mbox {
	t.Helper()
	requireRootToChown(t)
	m, err := NewMbox(filepath.Join(t.TempDir(), "inbox"), nobodyOwner)
	if err != nil {
		t.Fatal(err)
	}
	m.now = func() time.Time { return mboxClock }
	return m
}

func TestMbox_OwnerCreatesMbox(t *testing.T) {
	m := newOwnedMbox(t)
	s := stageMbox(t, m, "x\r\n")
	spool := s.(*mboxStaged).spool
	wantOwned(t, spool, nobodyOwner.UID, nobodyOwner.GID, 0o600)
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantOwned(t, m.Path, nobodyOwner.UID, nobodyOwner.GID, 0o600)
	if got := readMbox(t, m.Path); got != mboxFrom+"x\n\n" {
		t.Errorf("mbox holds %q", got)
	}
	// The owner's existing mbox is appended to.
	if err := commitWithin(stageMbox(t, m, "y\r\n"), time.Second); err != nil {
		t.Fatal(err)
	}
	if got := len(parseMboxrd(t, readMbox(t, m.Path))); got != 2 {
		t.Errorf("%d messages, want 2", got)
	}
}

func TestMbox_OwnerRefusesForeignFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path, victim string)
		want  string
	}{
		{"symlink", func(t *testing.T, path, victim string) {
			mboxMust(t, os.Symlink(victim, path))
		}, "is a symbolic link"},
		{"hard link", func(t *testing.T, path, victim string) {
			mboxMust(t, os.Link(victim, path))
		}, "has 2 hard links"},
		{"someone else's file", func(t *testing.T, path, _ string) {
			mboxMust(t, os.WriteFile(path, []byte(mboxFrom+"old\n\n"), 0o600)) // root's
		}, "owned by uid 0, not by nobody (uid 65534)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newOwnedMbox(t)
			victim := filepath.Join(t.TempDir(), "shadow")
			mboxMust(t, os.WriteFile(victim, []byte("secret\n"), 0o600))
			mboxMust(t, os.Chown(victim, nobodyOwner.UID, nobodyOwner.GID)) // hard links need it
			s := stageMbox(t, m, "x\r\n")
			tt.setup(t, m.Path, victim)
			err := commitWithin(s, time.Second)
			if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Commit = %v, want a temporary error saying %q", err, tt.want)
			}
			if got := readMbox(t, victim); got != "secret\n" {
				t.Errorf("victim holds %q", got)
			}
			if _, err := os.Stat(m.Path + ".lock"); !os.IsNotExist(err) {
				t.Errorf("dot lock after a failed Commit: %v, want it released", err)
			}
		})
	}
}

func TestMbox_RefusesFIFO(t *testing.T) {
	m := newTestMbox(t)
	s := stageMbox(t, m, "x\r\n")
	mboxMust(t, syscall.Mkfifo(m.Path, 0o600))
	if _, err := NewMbox(m.Path, nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("NewMbox on a FIFO = %v, want not a regular file", err)
	}
	err := commitWithin(s, 5*time.Second) // must not hang waiting for a reader
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Commit to a FIFO = %v, want not a regular file", err)
	}
}

func mboxMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
