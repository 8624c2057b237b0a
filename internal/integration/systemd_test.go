package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The systemd units in contrib/systemd, checked by systemd's own tools:
// systemd-analyze verify (syntax, unknown or misspelt settings, bad values,
// executables that do not exist), systemd-analyze security (the sandbox has
// not been weakened by accident) and systemd-sysusers (the user file).
// Without the tools the tests skip, or fail under CI=true.

// contribSystemd is contrib/systemd, from this package's directory.
var contribSystemd = filepath.Join("..", "..", "contrib", "systemd")

// installedBinary is the path the units run fetchd from.
const installedBinary = "/usr/local/bin/fetchd"

// shippedUnits are the unit files, with the name each is verified under.
var shippedUnits = []struct {
	src  string // under contrib/systemd
	name string // a template needs an instance name to be verified
	user bool   // a unit for systemctl --user
	// maxExposure is the highest "overall exposure level" systemd-analyze
	// security may give it (0: not checked; a user manager cannot apply
	// most of the sandbox, so the score says little there).
	maxExposure float64
}{
	{src: "fetchd.service", name: "fetchd.service", maxExposure: 2.0},
	{src: "fetchd@.service", name: "fetchd@alice.service", maxExposure: 2.5},
	{src: "user/fetchd.service", name: "fetchd.service", user: true},
}

// needSystemdTool returns the path of a systemd tool, or skips the test (fails
// it under CI=true).
func needSystemdTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		why := name + " not installed (Debian package systemd)"
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	return path
}

// optionalSetting is a setting the units ship commented out for the admin to
// enable: "#Key=value", where prose comments are "# text".
var optionalSetting = regexp.MustCompile(`(?m)^#([A-Z][A-Za-z]*=)`)

// stageUnit writes the unit src into a new directory under the name systemd
// must see, running an executable that exists instead of the installed
// fetchd (verify checks the path), with the optional settings enabled or
// not. It returns the path of the copy.
func stageUnit(t *testing.T, src, name string, optional bool) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(contribSystemd, src))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.Contains(text, "\nExecStart="+installedBinary+" run -c ") {
		t.Fatalf("%s: no line ExecStart=%s run -c CONFIG", src, installedBinary)
	}
	stand, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	if stand, err = filepath.Abs(stand); err != nil {
		t.Fatal(err)
	}
	text = strings.ReplaceAll(text, installedBinary, stand)
	if optional {
		text = optionalSetting.ReplaceAllString(text, "$1")
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// analyze runs systemd-analyze with args, for the user manager if user, and
// returns its combined output and error.
func analyze(t *testing.T, tool string, user bool, args ...string) (string, error) {
	t.Helper()
	if user {
		args = append([]string{"--user"}, args...)
	}
	cmd := exec.Command(tool, args...)
	// The user manager systemd-analyze sets up needs a runtime directory,
	// which a root shell or CI job does not have. A short path: the host's
	// user units put sockets in it (gpg-agent's), and t.TempDir's names
	// can exceed the 108 bytes of a socket address.
	xdg, err := os.MkdirTemp("", "xdg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(xdg) })
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg, "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSystemdUnits_Verify(t *testing.T) {
	tool := needSystemdTool(t, "systemd-analyze")
	for _, u := range shippedUnits {
		for _, optional := range []bool{false, true} {
			name := u.src
			if optional {
				name += " with optional settings"
			}
			t.Run(name, func(t *testing.T) {
				path := stageUnit(t, u.src, u.name, optional)
				out, err := analyze(t, tool, u.user, "verify", path)
				// systemd names the unit a line is about at its start
				// ("fetchd.service: …", "/dir/fetchd.service:12: …").
				// Lines about other units (the host's own, loaded as
				// dependencies) are not ours to judge. No line about our
				// unit is filtered: on Debian 12 (systemd 252), in a
				// container too, verify prints nothing for these units,
				// so anything it says is a finding.
				about := regexp.MustCompile(`(^|/)` + regexp.QuoteMeta(u.name) + `:`)
				var bad []string
				for line := range strings.Lines(out) {
					if about.MatchString(line) {
						bad = append(bad, strings.TrimSpace(line))
					}
				}
				switch {
				case err != nil:
					t.Errorf("systemd-analyze verify %s: %v\n%s", u.src, err, out)
				case len(bad) > 0:
					t.Errorf("systemd-analyze verify %s:\n%s", u.src, strings.Join(bad, "\n"))
				}
			})
		}
	}
}

// exposureLine is systemd-analyze security's summary.
var exposureLine = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+)`)

func TestSystemdUnits_Exposure(t *testing.T) {
	tool := needSystemdTool(t, "systemd-analyze")
	for _, u := range shippedUnits {
		if u.maxExposure == 0 {
			continue
		}
		t.Run(u.src, func(t *testing.T) {
			path := stageUnit(t, u.src, u.name, false)
			out, err := analyze(t, tool, u.user, "security", "--offline=yes", "--no-pager", path)
			m := exposureLine.FindStringSubmatch(out)
			if err != nil || m == nil || m[1] != u.name {
				t.Fatalf("systemd-analyze security %s: %v\n%s", u.src, err, out)
			}
			got, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: exposure %.1f", u.src, got)
			if got > u.maxExposure {
				t.Errorf("%s: exposure %.1f, want at most %.1f: a sandbox setting was lost\n%s", u.src, got, u.maxExposure, out)
			}
		})
	}
}

func TestSystemdUnits_Sysusers(t *testing.T) {
	tool := needSystemdTool(t, "systemd-sysusers")
	conf, err := filepath.Abs(filepath.Join(contribSystemd, "fetchd.sysusers.conf"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--root=" + root, conf}
	if os.Geteuid() != 0 {
		// Writing even a private passwd file wants root.
		args = append([]string{"--dry-run"}, args...)
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Creating user 'fetchd'") || strings.Contains(string(out), "ignoring") {
		t.Fatalf("systemd-sysusers %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if os.Geteuid() != 0 {
		return
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	// The home is the state directory: "~" in the config means it.
	want := regexp.MustCompile(`(?m)^fetchd:x:\d+:\d+:[^:]*:/var/lib/fetchd:/usr/sbin/nologin$`)
	if !want.Match(passwd) {
		t.Errorf("passwd written: %q, want a line matching %s", passwd, want)
	}
}

// killWithoutWhom is a `systemctl kill` that does not say whom to signal.
var killWithoutWhom = regexp.MustCompile(`systemctl (--user )?kill (?:-s|--signal)`)

// TestSystemdUnits_Text checks what systemd's tools cannot: settings whose
// absence is valid but wrong for fetchd, and advice in the comments and
// README that would do harm.
func TestSystemdUnits_Text(t *testing.T) {
	for _, u := range shippedUnits {
		t.Run(u.src, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(contribSystemd, u.src))
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			// A panic or the watchdog's SIGABRT exits with status 2 unless
			// GOTRACEBACK=crash, and RestartPreventExitStatus=2 would then
			// leave the unit down for good.
			if strings.Contains(text, "\nRestartPreventExitStatus=2") && !strings.Contains(text, "\nEnvironment=GOTRACEBACK=crash\n") {
				t.Errorf("%s: RestartPreventExitStatus=2 without Environment=GOTRACEBACK=crash", u.src)
			}
		})
	}
	// A plain `systemctl kill -s USR1` signals the MDA or notify_command
	// running too, which dies of it.
	err := filepath.WalkDir(contribSystemd, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if killWithoutWhom.MatchString(line) {
				t.Errorf("%s:%d: systemctl kill without --kill-whom=main: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
