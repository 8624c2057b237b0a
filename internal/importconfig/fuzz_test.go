package importconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// fuzzImport checks one input to one program's importer: no panic; an
// error names the file; a result always writes valid TOML whose header
// lists every note.
func fuzzImport(t *testing.T, program string, data []byte) {
	if len(data) > 64<<10 {
		return
	}
	opts := Options{Home: "/home/fuzz", LocalUser: "me", Now: time.Unix(0, 0),
		HomeOf: func(string) (string, bool) { return "", false }, UserExists: func(string) bool { return false }}
	res, err := translate(program, []source{{path: "fuzz.rc", data: data}}, opts)
	if err != nil {
		if !strings.HasPrefix(err.Error(), "fuzz.rc") {
			t.Fatalf("error does not name the file: %v", err)
		}
		return
	}
	var out bytes.Buffer
	if err := res.WriteTOML(&out, "/home/fuzz/.config/fetchd"); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if _, err := toml.Decode(out.String(), &v); err != nil {
		t.Fatalf("output is not TOML: %v\n%s", err, out.String())
	}
	header := headerOf(out.String())
	for _, n := range res.Notes {
		if !strings.Contains(header, commentText(n.String())) {
			t.Fatalf("note %q missing from the header", n.String())
		}
	}
}

// addFixtures seeds f with every fixture of a program.
func addFixtures(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
}

func FuzzFetchmail(f *testing.F) {
	addFixtures(f, "fetchmail/*.rc")
	f.Add([]byte("poll a user b there is c here password \"\\x00\" mda \"x '%T'\"\n"))
	f.Add([]byte("defaults user x\npoll a\npoll b user y here\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, Fetchmail, data) })
}

func FuzzMpop(f *testing.F) {
	addFixtures(f, "mpop/*.rc")
	f.Add([]byte("defaults\ndelivery mda \"x\"\naccount a\nhost h\nuser u\naccount b : a\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, Mpop, data) })
}

func FuzzGetmail(f *testing.F) {
	addFixtures(f, "getmail/getmailrc*")
	f.Add([]byte("[retriever]\ntype = SimplePOP3Retriever\nserver = a\nusername = b\n[destination]\ntype = MultiDestination\ndestinations = (\"[d]\",)\n[d]\ntype = MultiDestination\ndestinations = (\"[destination]\",)\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, Getmail, data) })
}

// FuzzParseTuple: no input makes the tuple reader panic, and a tuple it
// reads, written back with Go quoting (which Python reads the same for
// these characters), reads back the same.
func FuzzParseTuple(f *testing.F) {
	f.Add(`("pass", "show", 'mail/x')`)
	f.Add(`(r"a\D", '''b''', "c\x41\u00e9\101" 'd',)`)
	f.Add(`()`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTuple(s)
		if err != nil || slices.ContainsFunc(got, func(item string) bool { return !utf8.ValidString(item) }) {
			// pyQuote writes runes: an item with invalid UTF-8 (a
			// lone \x escape byte) cannot round-trip through it.
			return
		}
		var b strings.Builder
		b.WriteString("(")
		for _, item := range got {
			b.WriteString(pyQuote(item) + ", ")
		}
		b.WriteString(")")
		again, err := parseTuple(b.String())
		if err != nil || strings.Join(again, "\x00") != strings.Join(got, "\x00") || len(again) != len(got) {
			t.Fatalf("round trip of %q: %q, %v; want %q", b.String(), again, err, got)
		}
	})
}

// pyQuote writes s as a Python string literal with \x and \u escapes.
func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteString(`\U` + strings.ToUpper(hex8(uint32(r))))
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		out[i] = digits[v&0xf]
		v >>= 4
	}
	return string(out)
}
