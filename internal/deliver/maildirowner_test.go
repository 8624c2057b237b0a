package deliver

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestMaildir_TraceHeader(t *testing.T) {
	tests := []struct {
		name string
		env  *Envelope
		want string
	}{
		{"nil envelope", nil, "Subject: hi\n\nbody\n"},
		{"no trace", &Envelope{UIDL: "u"}, "Subject: hi\n\nbody\n"},
		{
			name: "all three",
			env: &Envelope{Trace: Trace{
				ReturnPath:  "<a@example.com>",
				DeliveredTo: "u@example.org",
				Received:    "from pop.example.com by host with POP3 id u1;\r\n\tMon, 2 Jan 2006 15:04:05 +0000",
			}},
			want: "Return-Path: <a@example.com>\nDelivered-To: u@example.org\n" +
				"Received: from pop.example.com by host with POP3 id u1;\n\tMon, 2 Jan 2006 15:04:05 +0000\n" +
				"Subject: hi\n\nbody\n",
		},
		{"received only", &Envelope{Trace: Trace{Received: "by host"}}, "Received: by host\nSubject: hi\n\nbody\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMaildir(t)
			s, err := m.Stage(context.Background(), tt.env, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"))
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
				t.Errorf("file holds %q, want %q", got, tt.want)
			}
			if suffix := ",S=" + strconv.Itoa(len(tt.want)); !strings.HasSuffix(final, suffix) {
				t.Errorf("FinalPath %q, want suffix %q (the trace header counts)", final, suffix)
			}
		})
	}
}

// nobodyOwner is nobody:nogroup on Debian-like systems; any uid works for chown.
var nobodyOwner = &Owner{Name: "nobody", UID: 65534, GID: 65534, Home: "/nonexistent"}

func requireRootToChown(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
}

// wantOwned checks path's owner and permission bits.
func wantOwned(t *testing.T, path string, uid, gid int, perm os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid || fi.Mode().Perm() != perm {
		t.Errorf("%s: owner %d:%d mode %v, want %d:%d %v", path, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, perm)
	}
}

func TestNewMaildirOwned_ChownsWhatItCreates(t *testing.T) {
	requireRootToChown(t)
	base := t.TempDir()
	existing := filepath.Join(base, "home")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(existing, "a", "Mail")
	m, err := NewMaildirOwned(root, nobodyOwner)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "maildir "+root; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	wantOwned(t, existing, 0, 0, 0o755) // not created by us: left alone
	for _, dir := range []string{filepath.Dir(root), root, filepath.Join(root, "tmp"), filepath.Join(root, "new"), filepath.Join(root, "cur")} {
		wantOwned(t, dir, nobodyOwner.UID, nobodyOwner.GID, 0o700)
	}

	s := stage(t, m, "a\r\n")
	wantOwned(t, s.TmpPath(), nobodyOwner.UID, nobodyOwner.GID, 0o600) // before the link
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantOwned(t, s.FinalPath(), nobodyOwner.UID, nobodyOwner.GID, 0o600)
}

func TestNewMaildirOwned_ExistingDirsKept(t *testing.T) {
	requireRootToChown(t)
	root := newTestMaildir(t).Path // made by root
	m, err := NewMaildirOwned(root, nobodyOwner)
	if err != nil {
		t.Fatal(err)
	}
	wantOwned(t, filepath.Join(root, "new"), 0, 0, 0o700)
	s := stage(t, m, "a\r\n")
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantOwned(t, s.FinalPath(), nobodyOwner.UID, nobodyOwner.GID, 0o600)
}

func TestNewMaildir_NilOwnerKeepsOurs(t *testing.T) {
	m := newTestMaildir(t)
	s := stage(t, m, "a\r\n")
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantOwned(t, s.FinalPath(), os.Geteuid(), os.Getegid(), 0o600)
}
