package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultStatePath(t *testing.T) {
	home := setHome(t)
	tests := []struct {
		name          string
		stateDir, xdg string
		euid          int
		want          string
	}{
		{"systemd", "/var/lib/fetchd", "", 1000, "/var/lib/fetchd/fetchd.db"},
		{"systemd several", "/var/lib/a:/var/lib/b", "/x", 0, "/var/lib/a/fetchd.db"},
		{"root", "", "/x", 0, "/var/lib/fetchd/fetchd.db"},
		{"xdg", "", "/xdg/state", 1000, "/xdg/state/fetchd/fetchd.db"},
		{"xdg relative ignored", "", "rel", 1000, home + "/.local/state/fetchd/fetchd.db"},
		{"home", "", "", 1000, home + "/.local/state/fetchd/fetchd.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("STATE_DIRECTORY", tt.stateDir)
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			if got := defaultStatePath(os.Getenv, tt.euid, os.UserHomeDir); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	// The exported function, with what the environment gives it.
	t.Setenv("STATE_DIRECTORY", "/run/state/fetchd:/other")
	if got, want := DefaultStatePath(), "/run/state/fetchd/fetchd.db"; got != want {
		t.Errorf("DefaultStatePath() = %q, want %q", got, want)
	}
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	want := "/xdg/fetchd/fetchd.db"
	if os.Geteuid() == 0 {
		want = "/var/lib/fetchd/fetchd.db"
	}
	if got := DefaultStatePath(); got != want {
		t.Errorf("DefaultStatePath() = %q, want %q", got, want)
	}

	noHome := func() (string, error) { return "", errors.New("no home") }
	if got := defaultStatePath(func(string) string { return "" }, 1000, noHome); got != "/var/lib/fetchd/fetchd.db" {
		t.Errorf("without a home: got %q", got)
	}
}

func TestDefaultPath(t *testing.T) {
	home := setHome(t)
	xdg := filepath.Join(home, "xdg")
	t.Setenv("XDG_CONFIG_HOME", xdg)
	userPath := filepath.Join(xdg, "fetchd", "config.toml")

	// Nothing exists (assuming no /etc/fetchd on the test machine): the
	// user's path, so "not found" names the file to create.
	if _, err := os.Stat(SystemPath); err != nil {
		if got := DefaultPath(); got != userPath {
			t.Errorf("got %q, want %q", got, userPath)
		}
	}
	if err := os.MkdirAll(filepath.Dir(userPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(userPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := DefaultPath(); got != userPath {
		t.Errorf("got %q, want %q", got, userPath)
	}

	t.Setenv("XDG_CONFIG_HOME", "")
	got := configCandidates(os.Getenv, os.UserHomeDir)
	if len(got) != 2 || got[0] != filepath.Join(home, ".config", "fetchd", "config.toml") || got[1] != SystemPath {
		t.Errorf("candidates: got %q", got)
	}
}

func TestExpandPath(t *testing.T) {
	home := setHome(t)
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"~/Maildir", home + "/Maildir", false},
		{"~", home, false},
		{"/var/mail/../mail/u", "/var/mail/u", false},
		{"Maildir", "", true},
		{"~bob/Maildir", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := expandPath(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("expandPath(%q) = %q, %v; want %q, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
