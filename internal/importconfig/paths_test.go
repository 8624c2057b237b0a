package importconfig

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDefaultPaths: each program's usual files, as its manual names them.
func TestDefaultPaths(t *testing.T) {
	touch := func(t *testing.T, p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, program string
		files         []string          // created under home
		env           map[string]string // "@" is the home directory
		want          []string          // under home
		wantErr       string
	}{
		{"fetchmail", Fetchmail, nil, nil, []string{".fetchmailrc"}, ""},
		{"fetchmail FETCHMAILHOME", Fetchmail, []string{"fm/x"}, map[string]string{"FETCHMAILHOME": "@/fm"}, []string{"fm/fetchmailrc"}, ""},
		{"fetchmail HOME_ETC", Fetchmail, nil, map[string]string{"HOME_ETC": "@/etc"}, []string{"etc/.fetchmailrc"}, ""},
		{"mpop rc first", Mpop, []string{".mpoprc", ".config/mpop/config"}, nil, []string{".mpoprc"}, ""},
		{"mpop XDG", Mpop, nil, map[string]string{"XDG_CONFIG_HOME": "@/xdg"}, []string{"xdg/mpop/config"}, ""},
		{"getmail getmailrc only", Getmail, []string{".config/getmail/getmailrc", ".config/getmail/getmailrc-b"}, nil,
			[]string{".config/getmail/getmailrc"}, ""},
		{"getmail every rc file", Getmail, []string{".getmail/b", ".getmail/a", ".getmail/oldmail-x-110-u", ".getmail/t.json", ".getmail/.hidden"}, nil,
			[]string{".getmail/a", ".getmail/b"}, ""},
		{"getmail XDG before ~/.getmail", Getmail, []string{".config/getmail/rc1", ".getmail/rc2"}, nil, []string{".config/getmail/rc1"}, ""},
		{"getmail no directory", Getmail, nil, nil, nil, "no getmail directory"},
		{"getmail empty directory", Getmail, []string{".getmail/oldmail-a"}, nil, nil, "holds no getmail rc file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			for _, f := range tt.files {
				touch(t, filepath.Join(home, f))
			}
			getenv := func(k string) string { return strings.ReplaceAll(tt.env[k], "@", home) }
			got, err := DefaultPaths(tt.program, getenv, home)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, filepath.Join(home, w))
			}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("got %q, %v; want %q", got, err, want)
			}
		})
	}
}

// TestWriteSecrets_AllOrNothing: when one password file exists, none is
// written, and the existing one is untouched.
func TestWriteSecrets_AllOrNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	r := &Result{Accounts: []*Account{{Name: "a", Password: "pw-a"}, {Name: "b", Password: "pw-b"}}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.password"), []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteSecrets(dir, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("got %v, want a refusal naming --force", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.password")); !os.IsNotExist(err) {
		t.Errorf("a.password was written although b.password exists: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "b.password")); string(data) != "mine\n" {
		t.Errorf("b.password was changed")
	}
	// A symlink where a password file goes is not followed.
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(target, filepath.Join(dir, "a.password")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "b.password"))
	if _, err := r.WriteSecrets(dir, false); err == nil {
		t.Errorf("wrote through a symlink")
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Errorf("the symlink's target was created")
	}
	if _, err := r.WriteSecrets("relative/dir", false); err == nil {
		t.Errorf("a relative secrets directory was accepted")
	}
}
