package importstate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The files in testdata were written by the real programs (fetchmail
// 6.4.37, mpop 1.4.18, getmail6 6.18.11) against a test Dovecot, in keep
// mode; only the path in rc-alice was changed.
func TestRead_RealFiles(t *testing.T) {
	tests := []struct {
		program, path string
		want          []string // one summary per file
		problems      int
	}{
		{program: Fetchmail, path: "testdata/fetchmail/fetchids", want: []string{
			"alice@127.0.0.1 000000016b08498a,000000026b08498a,000000036b08498a\n" +
				"dave@example.org@localhost 000000016b084997,000000026b084997\n" +
				"bob@third 000000016b084997,000000026b084997,000000036b084997\nskipped 0"}},
		{program: Mpop, path: "testdata/mpop", want: []string{
			"alice@127.0.0.1 000000016b08498a,000000026b08498a,000000036b08498a\nskipped 0",
			"bob@LocalHost 000000016b084997,000000026b084997,000000036b084997\n" +
				"dave@example.org@localhost 000000016b084997,000000026b084997\nskipped 0"}},
		{program: Mpop, path: "testdata/mpop/alice_at_127.0.0.1", want: []string{
			"alice@127.0.0.1 000000016b08498a,000000026b08498a,000000036b08498a\nskipped 0"}},
		// The directory also holds rc-alice and a getmail temp file: neither
		// is read.
		{program: Getmail, path: "testdata/getmail", want: []string{
			"alice@127.0.0.1:11110 000000026b08498a@1795705284,000000016b08498a@1795705284,000000036b08498a@1795705284\nskipped 0",
			"dave@example.org@LocalHost:11110 000000026b084997@1795705284,000000016b084997@1795705284\nskipped 0"}},
		// A directory that is not mpop's: each file is a problem of its own.
		{program: Mpop, path: "testdata/getmail", problems: 4},
	}
	for _, tt := range tests {
		t.Run(tt.program+" "+tt.path, func(t *testing.T) {
			files, problems, err := Read(context.Background(), tt.program, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != tt.problems {
				t.Errorf("got %d problems %v, want %d", len(problems), problems, tt.problems)
			}
			if len(files) != len(tt.want) {
				t.Fatalf("got %d files, want %d", len(files), len(tt.want))
			}
			for i, f := range files {
				if got := summary(f); got != tt.want[i] {
					t.Errorf("%s: got\n%s\nwant\n%s", f.Name, got, tt.want[i])
				}
			}
		})
	}
}

func TestRead_Errors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		program, path, want string
	}{
		{"kmail", "testdata", "unknown program"},
		{Fetchmail, "testdata/none", "no such file"},
		{Mpop, empty, "no files in"},
		{Getmail, "testdata/mpop", "no oldmail-* files in"},
	}
	for _, tt := range tests {
		_, _, err := Read(context.Background(), tt.program, tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Read(%s, %s): got %v, want an error containing %q", tt.program, tt.path, err, tt.want)
		}
	}
	// fetchmail in a directory reads DIR/.fetchids, as with $FETCHMAILHOME.
	_, problems, err := Read(context.Background(), Fetchmail, empty)
	if err != nil || len(problems) != 1 || !errors.Is(problems[0], os.ErrNotExist) {
		t.Errorf("fetchmail in a directory without .fetchids: got %v, %v", problems, err)
	}
}

func TestRead_Caps(t *testing.T) {
	dir := t.TempDir()
	for i := range 4 {
		data := fmt.Sprintf(" 2 h u%d\na\nb\n", i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		files, uidls int
		wantErr      bool
	}{
		{files: 4, uidls: 8},
		{files: 3, uidls: 8, wantErr: true},
		// The UIDL cap is over every file, not each.
		{files: 4, uidls: 7, wantErr: true},
	}
	for _, tt := range tests {
		files, _, err := read(context.Background(), Mpop, dir, tt.files, tt.uidls)
		switch {
		case tt.wantErr && !errors.Is(err, ErrTooMany):
			t.Errorf("%d files, %d UIDLs: got %v, want ErrTooMany", tt.files, tt.uidls, err)
		case !tt.wantErr && (err != nil || len(files) != 4):
			t.Errorf("%d files, %d UIDLs: got %d files, %v", tt.files, tt.uidls, len(files), err)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	fmHome := t.TempDir()
	xdg := t.TempDir()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		program string
		getenv  func(string) string
		want    string
	}{
		{Fetchmail, env("HOME", home), home + "/.fetchids"},
		{Fetchmail, env("HOME", home, "FETCHMAILHOME", fmHome, "HOME_ETC", "/etc/x"), fmHome + "/.fetchids"},
		{Fetchmail, env("HOME", home, "FETCHMAILHOME", home+"/missing", "HOME_ETC", "/etc/x"), "/etc/x/.fetchids"},
		{Mpop, env("HOME", home), home + "/.mpop_uidls"},
		{Getmail, env("HOME", home), home + "/.getmail"},
		{Getmail, env("HOME", home, "XDG_CONFIG_HOME", xdg), home + "/.getmail"},
	}
	for _, tt := range tests {
		got, err := DefaultPath(tt.program, tt.getenv)
		if err != nil || got != tt.want {
			t.Errorf("DefaultPath(%s): got %q, %v, want %q", tt.program, got, err, tt.want)
		}
	}
	// getmail prefers the XDG directory when it exists.
	if err := os.Mkdir(filepath.Join(xdg, "getmail"), 0o700); err != nil {
		t.Fatal(err)
	}
	if got, _ := DefaultPath(Getmail, env("HOME", home, "XDG_CONFIG_HOME", xdg)); got != xdg+"/getmail" {
		t.Errorf("getmail with $XDG_CONFIG_HOME/getmail: got %q", got)
	}
	if _, err := DefaultPath(Mpop, env()); err == nil {
		t.Error("no $HOME: no error")
	}
}
