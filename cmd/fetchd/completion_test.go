package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// completionScript is `fetchd completion SHELL`'s output.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errOut := runCLI("completion", shell)
	if code != exitOK {
		t.Fatalf("fetchd completion %s: exit %d: %s", shell, code, errOut)
	}
	return out
}

// Both scripts name every command and every flag of every command.
func TestCompletion_EveryCommandAndFlag(t *testing.T) {
	cmds, err := completedCommands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, shell := range []string{"bash", "zsh"} {
		script := completionScript(t, shell)
		for _, c := range cmds {
			if !strings.Contains(script, c.name) {
				t.Errorf("%s script lacks the command %s", shell, c.name)
			}
			for _, f := range c.flags {
				for _, s := range f.spelled() {
					if !strings.Contains(script, s) {
						t.Errorf("%s script lacks %s %s", shell, c.name, s)
					}
				}
			}
		}
	}
	for _, args := range [][]string{{"completion"}, {"completion", "fish"}, {"completion", "bash", "zsh"}} {
		if code, _, _ := runCLI(args...); code != exitUsage {
			t.Errorf("fetchd %s: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
}

func TestCompletion_BashSyntax(t *testing.T) {
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(completionScript(t, "bash"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}

// zsh is not on every machine; CI installs it (scripts/test.sh).
func TestCompletion_ZshSyntax(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zsh is not installed: scripts/test.sh installs it")
		}
		t.Skip("zsh is not installed")
	}
	path := filepath.Join(t.TempDir(), "_fetchd")
	if err := os.WriteFile(path, []byte(completionScript(t, "zsh")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zsh", "-n", path).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
}

// The bash script completes what it should, run in a real bash: commands,
// flags, fixed words, files, and account names read from the real output
// of `fetchd check` (through a stand-in fetchd on $PATH that replays it).
func TestCompletion_BashCompletes(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeConfig(t, "127.0.0.1:110", "")
	code, checkOut, errOut := runCLI("check", "-c", cfg)
	if code != exitOK {
		t.Fatalf("fetchd check: exit %d: %s", code, errOut)
	}
	os.WriteFile(filepath.Join(dir, "check.out"), []byte(checkOut), 0o644)
	// The stand-in answers only `fetchd check` and `fetchd check -c CFG`.
	fake := "#!/bin/sh\ncase \"$*\" in \"check\"|\"check -c " + cfg + "\") cat '" + dir + "/check.out' ;; esac\n"
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "fetchd"), []byte(fake), 0o755)
	script := filepath.Join(dir, "fetchd.bash")
	os.WriteFile(script, []byte(completionScript(t, "bash")), 0o644)
	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o755)
	os.WriteFile(filepath.Join(files, "fetchmailrc"), nil, 0o644)

	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	tests := []struct {
		words []string // the command line; the last word is being completed
		want  []string
	}{
		{[]string{"fetchd", "ch"}, []string{"check"}},
		{[]string{"fetchd", "once", "--mark"}, []string{"--mark-seen"}},
		{[]string{"fetchd", "once", ""}, []string{"fake"}},
		{[]string{"fetchd", "once", "-c", cfg, "f"}, []string{"fake"}},
		{[]string{"fetchd", "once", "-c", "/nonexistent", ""}, nil},
		{[]string{"fetchd", "once", "-c", files + "/f"}, []string{files + "/fetchmailrc"}},
		{[]string{"fetchd", "import-config", ""}, []string{"fetchmail", "mpop", "getmail"}},
		{[]string{"fetchd", "import-config", "fetchmail", files + "/"}, []string{files + "/fetchmailrc"}},
		{[]string{"fetchd", "completion", ""}, []string{"bash", "zsh"}},
		{[]string{"fetchd", "help", ""}, names},
		{[]string{"fetchd", "check", ""}, nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.words, " "), func(t *testing.T) {
			args := append([]string{"-c", `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _fetchd; printf '%s\n' "${COMPREPLY[@]}"`,
				script}, tc.words...)
			cmd := exec.Command("bash", args...)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
