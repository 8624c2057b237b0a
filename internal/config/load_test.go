package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_Permissions(t *testing.T) {
	setHome(t)
	inline := accountTOML(map[string]string{"password_file": "-", "password": `"s3cret"`}, false)
	inDefaults := "[defaults]\npassword = \"s3cret\"\n" + accountTOML(map[string]string{"password_file": "-"}, false)
	noSecret := accountTOML(nil, false)
	clientSecret := "[defaults.oauth2]\nprovider = \"google\"\nclient_id = \"id\"\nclient_secret = \"s3cret\"\n" +
		accountTOML(map[string]string{"password_file": "-"}, false)
	tests := []struct {
		name string
		data string
		mode os.FileMode
		want string // "" = loads
	}{
		{"inline 0644 refused", inline, 0o644, "holds a password but is readable by others (mode 0644): run chmod 600 "},
		{"inline 0640 refused", inline, 0o640, "(mode 0640): run chmod 600 "},
		{"defaults 0604 refused", inDefaults, 0o604, "(mode 0604)"},
		{"inline 0600 ok", inline, 0o600, ""},
		{"inline 0400 ok", inline, 0o400, ""},
		{"no inline secret 0644 ok", noSecret, 0o644, ""},
		{"client secret 0640 refused", clientSecret, 0o640, "holds a client secret but is readable by others (mode 0640)"},
		{"client secret 0600 ok", clientSecret, 0o600, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "config.toml", tt.data, tt.mode)
			cfg, err := Load(p)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.Path != p || len(cfg.Accounts) != 1 {
					t.Errorf("got %+v", cfg)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load: no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "chmod 600 "+p) {
				t.Errorf("got %q, want it to contain %q and the full path", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), p+": ") {
				t.Errorf("got %q, want it to start with the file name", err)
			}
		})
	}
}

// The permission problem is reported alongside the content's problems.
func TestLoad_PermissionAndContentProblems(t *testing.T) {
	setHome(t)
	data := accountTOML(map[string]string{"password_file": "-", "password": `"s3cret"`, "port": "0"}, false)
	p := writeFile(t, t.TempDir(), "config.toml", data, 0o644)
	_, err := Load(p)
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.Problems) != 2 {
		t.Fatalf("got %v, want two problems", err)
	}
}

func TestLoad_Missing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want fs.ErrNotExist", err)
	}
}

// The example shipped at the top of the repository must stay valid.
func TestParse_ExampleConfig(t *testing.T) {
	home := setHome(t)
	data, err := os.ReadFile("../../config.example.toml")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no config.example.toml")
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, string(data))
	for _, a := range cfg.Accounts {
		t.Log(a.Describe())
		if len(a.Deliver) == 0 || !strings.HasPrefix(a.Deliver[0].Target(), home) {
			t.Errorf("%s: deliver %v", a.Name, a.Deliver)
		}
	}
}

// The example's commented-out keys ("#key = …", "#[[…]]") must be valid too,
// so that uncommenting one gives a working configuration.
func TestParse_ExampleConfigCommented(t *testing.T) {
	setHome(t)
	stubUsers(t, "me")
	data, err := os.ReadFile("../../config.example.toml")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no config.example.toml")
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	uncommented := 0
	for i, l := range lines {
		if len(l) > 1 && l[0] == '#' && (l[1] == '[' || isBare(l[1])) {
			lines[i] = l[1:]
			uncommented++
		}
	}
	cfg := mustParse(t, strings.Join(lines, "\n"))
	kinds := map[string]bool{}
	for _, a := range cfg.Accounts {
		t.Log(a.Describe())
		for _, d := range a.Deliver {
			kinds[d.Kind()] = true
		}
	}
	for _, k := range []string{"maildir", "mbox", "mda", "mda_shell", "smtp", "lmtp"} {
		if !kinds[k] {
			t.Errorf("the example shows no %s target", k)
		}
	}
	if uncommented == 0 {
		t.Error("nothing to uncomment")
	}
}
