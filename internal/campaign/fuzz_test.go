package campaign

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fuzz campaign: scripts/fuzz.sh runs every fuzz target for a while and,
// with --report, hands its results to TestWriteFuzzReport, which writes the
// "fuzz" section of docs/RELIABILITY.md.

var fuzzReport = flag.String("campaign.fuzzreport", "", "results file written by scripts/fuzz.sh --report; TestWriteFuzzReport puts it into docs/RELIABILITY.md")

// fuzzTarget is one `func FuzzX(*testing.F)` found in the module.
type fuzzTarget struct {
	Name string
	Dir  string // the package directory, relative to the module root
	File string // the declaring file, relative to the module root
}

// fuzzModuleRoot returns the directory holding go.mod.
func fuzzModuleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// fuzzTargets parses every _test.go file under root and returns the fuzz
// targets go test would run: top-level functions named Fuzz* taking one
// *testing.F.
func fuzzTargets(t *testing.T, root string) []fuzzTarget {
	t.Helper()
	var out []fuzzTarget
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// go ignores testdata, vendor and names starting with . or _.
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !isFuzzName(fn.Name.Name) || !takesTestingF(fn) {
				continue
			}
			out = append(out, fuzzTarget{Name: fn.Name.Name, Dir: filepath.Dir(rel), File: rel})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// isFuzzName applies go test's rule: "Fuzz" followed by nothing or by a
// character that is not a lower-case letter.
func isFuzzName(s string) bool {
	rest, ok := strings.CutPrefix(s, "Fuzz")
	return ok && (rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z'))
}

func takesTestingF(fn *ast.FuncDecl) bool {
	p := fn.Type.Params.List
	if len(p) != 1 || len(p[0].Names) > 1 {
		return false
	}
	star, ok := p[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}

// TestFuzzCorporaCommitted: every fuzz target has a committed corpus in its
// package's testdata/fuzz/<Name>/, with at least one file, each in go's
// corpus format. f.Add seeds alone do not count: the corpus directory is
// where a long run's crashers and hand-made regression inputs are kept, and
// a target without one is a target nobody has fed yet.
func TestFuzzCorporaCommitted(t *testing.T) {
	root := fuzzModuleRoot(t)
	targets := fuzzTargets(t, root)
	if len(targets) == 0 {
		t.Fatal("no fuzz targets found: the walk is broken")
	}
	seen := map[string]string{}
	for _, ft := range targets {
		if other, ok := seen[ft.Dir+"/"+ft.Name]; ok {
			t.Errorf("%s: %s is also declared in %s", ft.File, ft.Name, other)
		}
		seen[ft.Dir+"/"+ft.Name] = ft.File
		dir := filepath.Join(ft.Dir, "testdata", "fuzz", ft.Name)
		n, err := corpusFiles(filepath.Join(root, dir))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s (%s): no committed corpus: create %s/ with at least one input in go's corpus format (seed it from the f.Add calls or the RFC examples)", ft.Name, ft.File, dir)
		case err != nil:
			t.Errorf("%s (%s): %v", ft.Name, ft.File, err)
		case n == 0:
			t.Errorf("%s (%s): %s/ is empty: commit at least one input", ft.Name, ft.File, dir)
		}
	}
	t.Logf("%d fuzz targets checked", len(targets))
}

// corpusFiles counts the files in a corpus directory and checks that each
// starts with go's corpus header.
func corpusFiles(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			return n, fmt.Errorf("%s: unexpected directory %s", dir, e.Name())
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return n, err
		}
		line, err := bufio.NewReader(f).ReadString('\n')
		f.Close()
		if err != nil || strings.TrimSpace(line) != "go test fuzz v1" {
			return n, fmt.Errorf("%s/%s: not a go fuzz corpus file (first line %q, want \"go test fuzz v1\")", dir, e.Name(), strings.TrimSpace(line))
		}
		n++
	}
	return n, nil
}

// TestFuzzTargetsFound guards the walk itself: the targets the repo is known
// to have must be found, so a parser change cannot silently make the corpus
// check vacuous.
func TestFuzzTargetsFound(t *testing.T) {
	found := map[string]bool{}
	for _, ft := range fuzzTargets(t, fuzzModuleRoot(t)) {
		found[ft.Name] = true
	}
	for _, name := range []string{"FuzzParse", "FuzzParseReply", "FuzzBodyReader", "FuzzLFWriter", "FuzzDecodeRecord"} {
		if !found[name] {
			t.Errorf("%s not found among %v", name, found)
		}
	}
}

func TestIsFuzzName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"Fuzz", true}, {"FuzzParse", true}, {"Fuzz_x", true}, {"Fuzz2", true},
		{"Fuzzy", false}, {"fuzzParse", false}, {"TestFuzz", false},
	} {
		if got := isFuzzName(tc.name); got != tc.want {
			t.Errorf("isFuzzName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// fuzzResult is one line of the results file scripts/fuzz.sh writes.
type fuzzResult struct {
	Target, Package, Seconds, Execs, Corpus, Result string
}

// readFuzzResults reads scripts/fuzz.sh's results: a "fuzztime\t<d>" line,
// then one tab-separated line per target.
func readFuzzResults(path string) (fuzztime string, rs []fuzzResult, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 {
			if len(f) != 2 || f[0] != "fuzztime" {
				return "", nil, fmt.Errorf("%s:1: want \"fuzztime\\t<duration>\", got %q", path, line)
			}
			fuzztime = f[1]
			continue
		}
		if len(f) != 6 {
			return "", nil, fmt.Errorf("%s:%d: want 6 tab-separated fields, got %q", path, i+1, line)
		}
		rs = append(rs, fuzzResult{f[0], f[1], f[2], f[3], f[4], f[5]})
	}
	return fuzztime, rs, nil
}

func fuzzReportSection(fuzztime string, rs []fuzzResult, at time.Time, machine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Fuzzing\n\n")
	fmt.Fprintf(&b, "`scripts/fuzz.sh --report %s`: every fuzz target for %s, one after the other, on %s (%s).\n", fuzztime, fuzztime, machine, at.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "`scripts/fuzz.sh` without an argument gives each target 10s, the CI budget; the committed corpora (`testdata/fuzz/<Name>/`) also run as seeds in every `go test`.\n")
	fmt.Fprintf(&b, "Corpus is go's count of interesting inputs at the end of the run (seeds included).\n\n")
	fmt.Fprintf(&b, "| target | package | seconds | execs | corpus | result |\n|---|---|---:|---:|---:|---|\n")
	pass := 0
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Target, strings.TrimPrefix(r.Package, "fetchd/"), r.Seconds, r.Execs, r.Corpus, r.Result)
		if r.Result == "PASS" {
			pass++
		}
	}
	fmt.Fprintf(&b, "\n%d of %d targets passed.\n", pass, len(rs))
	return b.String()
}

// TestWriteFuzzReport writes the results of scripts/fuzz.sh --report into
// docs/RELIABILITY.md. Without -campaign.fuzzreport it only checks the
// formatting.
func TestWriteFuzzReport(t *testing.T) {
	if *fuzzReport == "" {
		path := filepath.Join(t.TempDir(), "results.tsv")
		os.WriteFile(path, []byte("fuzztime\t10s\nFuzzX\tfetchd/internal/x\t11\t12345\t7\tPASS\nFuzzY\tfetchd/internal/y\t3\t-\t-\tFAIL\n"), 0o600)
		ft, rs, err := readFuzzResults(path)
		if err != nil {
			t.Fatal(err)
		}
		got := fuzzReportSection(ft, rs, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "m")
		for _, want := range []string{"| FuzzX | internal/x | 11 | 12345 | 7 | PASS |", "| FuzzY | internal/y | 3 | - | - | FAIL |", "1 of 2 targets passed", "for 10s"} {
			if !strings.Contains(got, want) {
				t.Errorf("section lacks %q:\n%s", want, got)
			}
		}
		return
	}
	ft, rs, err := readFuzzResults(*fuzzReport)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatalf("%s lists no targets", *fuzzReport)
	}
	doc := filepath.Join(fuzzModuleRoot(t), "docs", "RELIABILITY.md")
	if err := UpdateSection(doc, "fuzz", fuzzReportSection(ft, rs, time.Now(), Machine())); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote the fuzz section of %s", doc)
}
