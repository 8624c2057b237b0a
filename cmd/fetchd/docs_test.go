package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"fetchd/internal/config"
)

var update = flag.Bool("update", false, "rewrite the generated man pages and completion scripts")

// generated is every file made from the command table, the flags and the
// configuration schema, by its path from the repository's root.
func generated(t *testing.T) map[string][]byte {
	t.Helper()
	cmds, err := completedCommands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var man1, man5, bash, zsh bytes.Buffer
	writeManFetchd(&man1, cmds)
	writeManTOML(&man5, config.Keys())
	writeBashCompletion(&bash, cmds)
	writeZshCompletion(&zsh, cmds)
	return map[string][]byte{
		"docs/man/fetchd.1":              man1.Bytes(),
		"docs/man/fetchd.toml.5":         man5.Bytes(),
		"contrib/completion/fetchd.bash": bash.Bytes(),
		"contrib/completion/_fetchd":     zsh.Bytes(),
	}
}

// The committed man pages and completion scripts are what the code makes
// today. `go generate ./cmd/fetchd` (go test -run TestGeneratedDocs
// -update) rewrites them.
func TestGeneratedDocs(t *testing.T) {
	for path, want := range generated(t) {
		file := filepath.Join("..", "..", path)
		if *update {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s: %v: run go generate ./cmd/fetchd", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date with the code: run go generate ./cmd/fetchd and commit it\n%s", path, firstDiff(got, want))
		}
	}
}

// firstDiff shows the first line where two files differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + g[i] + "\n  generated: " + w[i]
		}
	}
	return "one is a prefix of the other"
}

// manFlags lists the flags fetchd(1) documents per command: the .TP lines
// of bold names ("\fB\-c\fR, \fB\-\-config\fR \fIfile\fR") under each
// command's .SS heading.
func manFlags(page string) map[string][]string {
	out := map[string][]string{}
	cmd := ""
	lines := strings.Split(page, "\n")
	name := regexp.MustCompile(`\\fB(\\-[^\\]*(?:\\-[^\\]*)*)\\fR`)
	for i, l := range lines {
		if s, ok := strings.CutPrefix(l, `.SS "fetchd `); ok {
			cmd = strings.TrimSuffix(s, `"`)
			continue
		}
		if l != ".TP" || cmd == "" || i+1 == len(lines) || !strings.HasPrefix(lines[i+1], `\fB\-`) {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(lines[i+1], -1) {
			out[cmd] = append(out[cmd], strings.ReplaceAll(m[1], `\-`, "-"))
		}
	}
	return out
}

// Acceptance: fetchd(1) lists exactly the flags each command accepts, read
// from the committed page and from the commands' own flag sets.
func TestManPage_ExactlyTheFlags(t *testing.T) {
	page, err := os.ReadFile("../../docs/man/fetchd.1")
	if err != nil {
		t.Fatal(err)
	}
	documented := manFlags(string(page))
	cmds, err := completedCommands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range cmds {
		var accepted []string
		for _, f := range c.flags {
			accepted = append(accepted, f.spelled()...)
		}
		total += len(accepted)
		got := documented[c.name]
		slices.Sort(got)
		slices.Sort(accepted)
		if !slices.Equal(got, accepted) {
			t.Errorf("fetchd(1) documents flags %q for %s; the command accepts %q: run go generate ./cmd/fetchd", got, c.name, accepted)
		}
		delete(documented, c.name)
	}
	for cmd, flags := range documented {
		t.Errorf("fetchd(1) documents flags %q for %q, which is no command", flags, cmd)
	}
	if total < 15 {
		t.Errorf("only %d flags in all: the probe is not seeing the commands' flag sets", total)
	}
}

// Acceptance: fetchd.toml(5) lists exactly the keys the loader accepts,
// each under its table's section.
func TestManPage_ExactlyTheKeys(t *testing.T) {
	page, err := os.ReadFile("../../docs/man/fetchd.toml.5")
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{}
	for _, s := range keySections {
		titles[s.title] = s.table
	}
	documented := map[string]bool{}
	table, inKeys := "", false
	lines := strings.Split(string(page), "\n")
	key := regexp.MustCompile(`^\\fB([a-z0-9_\\-]+)\\fR = `)
	for i, l := range lines {
		if s, ok := strings.CutPrefix(l, ".SH "); ok {
			table, inKeys = titles[s], titles[s] != "" || s == "TOP-LEVEL KEYS"
			continue
		}
		if l == ".TP" && inKeys && i+1 < len(lines) {
			if m := key.FindStringSubmatch(lines[i+1]); m != nil {
				documented[table+"."+strings.ReplaceAll(m[1], `\-`, "-")] = true
			}
		}
	}
	for _, k := range config.Keys() {
		id := k.Table + "." + k.Name
		if !documented[id] {
			t.Errorf("fetchd.toml(5) does not document %s in its section: run go generate ./cmd/fetchd", id)
		}
		delete(documented, id)
	}
	for id := range documented {
		t.Errorf("fetchd.toml(5) documents %s, which the loader does not accept", id)
	}
}
