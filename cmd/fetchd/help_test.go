package main

import (
	"context"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dispatched returns the command words run's switch in run.go accepts.
func dispatched(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "run.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if ok && fn.Name.Name != "run" {
			return false
		}
		if cc, ok := n.(*ast.CaseClause); ok {
			for _, e := range cc.List {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					words = append(words, s)
				}
			}
		}
		return true
	})
	return words
}

// Every command run.go dispatches has an entry in the table (so help, man
// page and completion know it), and every entry is dispatched.
func TestHelp_TableMatchesDispatch(t *testing.T) {
	aliases := []string{"-h", "--help", "-help", "--version", "-version"}
	words := dispatched(t)
	if len(words) < 10 {
		t.Fatalf("found %d command words in run.go's switch: the parse is wrong", len(words))
	}
	for _, w := range words {
		if findCommand(w) == nil && !slices.Contains(aliases, w) {
			t.Errorf("run.go dispatches %q, which has no entry in the command table (help.go)", w)
		}
	}
	for _, c := range commands {
		if !slices.Contains(words, c.name) {
			t.Errorf("the command table lists %q, which run.go does not dispatch", c.name)
		}
	}
}

// Each entry is complete, and its examples use only flags the command has.
func TestHelp_TableEntries(t *testing.T) {
	for i := range commands {
		c := &commands[i]
		t.Run(c.name, func(t *testing.T) {
			if c.summary == "" || c.doc == "" || len(c.examples) == 0 {
				t.Fatalf("needs a summary, a doc and at least one example")
			}
			flags, err := commandFlags(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			known := map[string]bool{"--help": true}
			for _, f := range flags {
				for _, n := range f.names {
					known["-"+n], known["--"+n] = true, true
				}
			}
			for _, e := range c.examples {
				_, after, ok := strings.Cut(e.line, "fetchd "+c.name)
				if !ok {
					t.Errorf("example %q does not run fetchd %s", e.line, c.name)
					continue
				}
				for _, tok := range strings.Fields(after) {
					if strings.ContainsAny(tok[:1], "<>|;)") {
						break // the shell's, not ours
					}
					name, _, _ := strings.Cut(tok, "=")
					if strings.HasPrefix(tok, "-") && !known[name] {
						t.Errorf("example %q uses %s, which fetchd %s does not accept", e.line, name, c.name)
					}
				}
			}
		})
	}
}

// `fetchd CMD --help` (stderr) and `fetchd help CMD` (stdout) show the
// synopsis, the description, every flag and every example.
func TestHelp_CommandHelp(t *testing.T) {
	for i := range commands {
		c := &commands[i]
		t.Run(c.name, func(t *testing.T) {
			flags, err := commandFlags(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			wants := []string{"Usage: " + synopsis(c), wrap(paragraphs(c.doc)[0], 76)[0]}
			for _, f := range flags {
				wants = append(wants, strings.Join(f.spelled(), ", "))
			}
			for _, e := range c.examples {
				wants = append(wants, "  "+e.line+"\n")
			}
			code, out, errOut := runCLI("help", c.name)
			if code != exitOK || errOut != "" {
				t.Errorf("fetchd help %s: exit %d, stderr %q", c.name, code, errOut)
			}
			outputs := map[string]string{"fetchd help " + c.name: out}
			if !c.noFlags {
				code, _, helpOut := runCLI(c.name, "--help")
				if code != exitOK {
					t.Errorf("fetchd %s --help: exit %d, want 0", c.name, code)
				}
				outputs["fetchd "+c.name+" --help"] = helpOut
			}
			for cmd, got := range outputs {
				for _, w := range wants {
					if !strings.Contains(got, w) {
						t.Errorf("%s lacks %q:\n%s", cmd, w, got)
					}
				}
			}
		})
	}
}

func TestHelp_Overview(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		toStdout bool
	}{
		{"help", []string{"help"}, exitOK, true},
		{"--help", []string{"--help"}, exitOK, true},
		{"no command", nil, exitUsage, false},
		{"unknown command", []string{"frobnicate"}, exitUsage, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			got := errOut
			if tc.toStdout {
				got = out
			}
			for _, c := range commands {
				if line := "  " + c.name; !strings.Contains(got, line) || !strings.Contains(got, c.summary) {
					t.Errorf("the overview lacks %s: %s", c.name, c.summary)
				}
			}
		})
	}
	if code, _, errOut := runCLI("help", "frobnicate"); code != exitUsage || !strings.Contains(errOut, `no command "frobnicate"`) {
		t.Errorf("fetchd help frobnicate: exit %d, stderr %q; want %d and the name", code, errOut, exitUsage)
	}
}

// Names sharing one value (-c and --config) are one flag, described by the
// real description rather than "same as -c"; a boolean takes no value.
func TestFlagDocs(t *testing.T) {
	var path string
	fs := newCommandFlags("test", io.Discard)
	fs.StringVar(&path, "c", "", "configuration `file`")
	fs.StringVar(&path, "config", "", "same as -c")
	fs.Bool("json", false, "print JSON")
	fs.Int("limit", 5, "at most `n` messages")
	got := flagDocs(fs)
	want := []flagDoc{
		{names: []string{"c", "config"}, arg: "file", usage: "configuration file"},
		{names: []string{"json"}, usage: "print JSON"},
		{names: []string{"limit"}, arg: "n", usage: "at most n messages (default 5)"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d flags %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !slices.Equal(got[i].names, want[i].names) || got[i].arg != want[i].arg || got[i].usage != want[i].usage {
			t.Errorf("flag %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := got[0].spelled(); !slices.Equal(s, []string{"-c", "--config"}) {
		t.Errorf("spelled %q, want -c, --config", s)
	}
	// A probe as stderr sees the flag set; --help through it prints nothing.
	p := &flagProbe{}
	fs2 := newCommandFlags("x", p)
	if err := fs2.Parse([]string{"--help"}); err != flag.ErrHelp || len(p.sets) != 1 || p.sets[0] != fs2 {
		t.Errorf("probe: err %v, %d sets; want ErrHelp and the flag set", err, len(p.sets))
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, nil},
		{"one two three", 7, []string{"one two", "three"}},
		{"averyveryverylongword x", 5, []string{"averyveryverylongword", "x"}},
		{"  spaced   out  ", 80, []string{"spaced out"}},
	}
	for _, tc := range tests {
		if got := wrap(tc.text, tc.width); !slices.Equal(got, tc.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.text, tc.width, got, tc.want)
		}
	}
}
