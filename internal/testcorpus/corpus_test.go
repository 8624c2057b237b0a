package testcorpus

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpected_AddsMissingFinalNewline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a\n"},
		{"a\n", "a\n"},
		{"a\n\n", "a\n\n"},
		{"a\n.", "a\n.\n"},
		{"a\r", "a\r\n"},
		{"a\x00", "a\x00\n"},
	}
	for _, tt := range tests {
		m := Message{Name: "x", Data: []byte(tt.in)}
		if got := string(Expected(m)); got != tt.want {
			t.Errorf("Expected(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if string(m.Data) != tt.in {
			t.Errorf("Expected(%q) changed its argument to %q", tt.in, m.Data)
		}
	}
}

func digest(ms []Message) [32]byte {
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%s %d\n", m.Name, len(m.Data))
		h.Write(m.Data)
	}
	return [32]byte(h.Sum(nil))
}

func TestMixed_Deterministic(t *testing.T) {
	a, b := Mixed(100, 42), Mixed(100, 42)
	if digest(a) != digest(b) {
		t.Fatal("Mixed(100, 42) differs between two calls")
	}
	if digest(a) == digest(Mixed(100, 43)) {
		t.Fatal("Mixed(100, 42) equals Mixed(100, 43)")
	}
	// A prefix of a longer corpus is the shorter corpus.
	if digest(Mixed(30, 42)) != digest(a[:30]) {
		t.Error("Mixed(30, 42) is not a prefix of Mixed(100, 42)")
	}
	if digest(Tricky()) != digest(Tricky()) {
		t.Error("Tricky differs between two calls")
	}
	if !bytes.Equal(Big(1<<20).Data, Big(1<<20).Data) {
		t.Error("Big differs between two calls")
	}
}

func TestMixed_SizesLikeAMailbox(t *testing.T) {
	ms := Mixed(500, 1)
	if len(ms) != 500 {
		t.Fatalf("got %d messages, want 500", len(ms))
	}
	var tiny, normal, large, total int
	names := map[string]bool{}
	for _, m := range ms {
		if names[m.Name] {
			t.Errorf("duplicate name %q", m.Name)
		}
		names[m.Name] = true
		n := len(m.Data)
		total += n
		switch {
		case n < 2<<10:
			tiny++
		case n <= 21<<10:
			normal++
		case n >= 100<<10 && n <= 1100<<10:
			large++
		default:
			t.Errorf("%s: %d bytes, outside every size class", m.Name, n)
		}
		if !bytes.HasSuffix(m.Data, []byte("\n")) || bytes.Contains(m.Data, []byte("\r")) {
			t.Errorf("%s: not in LF form", m.Name)
		}
		if _, err := mail.ReadMessage(bytes.NewReader(m.Data)); err != nil {
			t.Errorf("%s: not an RFC 5322 message: %v", m.Name, err)
		}
	}
	t.Logf("tiny %d, 2–20 KB %d, 100 KB–1 MB %d, average %d bytes", tiny, normal, large, total/len(ms))
	if tiny < 10 || tiny > 50 || normal < 400 || large < 20 || large > 60 {
		t.Errorf("size mix tiny %d, normal %d, large %d: not like a real mailbox", tiny, normal, large)
	}
}

func TestBig_Size(t *testing.T) {
	for _, size := range []int{200 << 10, 20 << 20} {
		m := Big(size)
		if n := len(m.Data); n < size*99/100 || n > size*101/100 {
			t.Errorf("Big(%d): %d bytes", size, n)
		}
		if _, err := mail.ReadMessage(bytes.NewReader(m.Data)); err != nil {
			t.Errorf("Big(%d): %v", size, err)
		}
	}
}

func TestTricky_HasEveryCase(t *testing.T) {
	ms := Tricky()
	has := func(what string, ok func(d []byte) bool) {
		t.Helper()
		for _, m := range ms {
			if ok(m.Data) {
				return
			}
		}
		t.Errorf("no Tricky message has %s", what)
	}
	has("a line starting with a dot", func(d []byte) bool { return bytes.Contains(d, []byte("\n.s")) })
	has("a lone dot line inside the body", func(d []byte) bool { return bytes.Contains(d, []byte("\n.\nA")) })
	has(`a ".." line`, func(d []byte) bool { return bytes.Contains(d, []byte("\n..\n")) })
	has("Latin-1 bytes", func(d []byte) bool { return bytes.Contains(d, []byte("Z\xfcrich")) })
	has("UTF-8", func(d []byte) bool { return bytes.Contains(d, []byte("Zürich")) })
	has("a NUL byte", func(d []byte) bool { return bytes.IndexByte(d, 0) >= 0 })
	has("a 20 KB line", func(d []byte) bool {
		for _, l := range bytes.Split(d, []byte("\n")) {
			if len(l) >= 20<<10 {
				return true
			}
		}
		return false
	})
	has("no final newline", func(d []byte) bool { return !bytes.HasSuffix(d, []byte("\n")) })
	has(`"." as the last line`, func(d []byte) bool { return bytes.HasSuffix(d, []byte("\n.\n")) })
	has("a bare CR", func(d []byte) bool { return bytes.Contains(d, []byte("\r")) })

	names := map[string]bool{}
	for _, m := range ms {
		if names[m.Name] {
			t.Errorf("duplicate name %q", m.Name)
		}
		names[m.Name] = true
		// Dovecot does not serve a CR before an LF, or a final CR, unchanged.
		if bytes.Contains(m.Data, []byte("\r\n")) || bytes.HasSuffix(m.Data, []byte("\r")) {
			t.Errorf("%s: has a CR that Dovecot does not round-trip", m.Name)
		}
	}
}

func TestWriteMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home", "u", "Maildir")
	ms := append(Tricky(), Mixed(5, 3)...)
	if err := WriteMaildir(dir, ms, -1, -1); err != nil {
		t.Fatal(err)
	}
	if err := WriteMaildir(dir, ms[:2], -1, -1); err != nil { // names stay unique
		t.Fatal(err)
	}
	for _, sub := range []string{"cur", "tmp"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil || len(es) != 0 {
			t.Errorf("%s: %d entries, err %v; want empty", sub, len(es), err)
		}
	}
	es, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(ms)+2 {
		t.Fatalf("new/ has %d files, want %d", len(es), len(ms)+2)
	}
	want := map[[32]byte]int{}
	for _, m := range append(ms, ms[:2]...) {
		want[sha256.Sum256(m.Data)]++
	}
	for _, e := range es {
		if strings.ContainsAny(e.Name(), ":/") {
			t.Errorf("file name %q has ':' or '/'", e.Name())
		}
		data, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		want[sha256.Sum256(data)]--
	}
	for h, n := range want {
		if n != 0 {
			t.Errorf("message %x: count off by %d", h[:4], n)
		}
	}
}

func TestWriteMaildir_Chown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "u", "Maildir")
	if err := WriteMaildir(dir, Mixed(2, 1), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(root, "u"), dir, filepath.Join(dir, "new"), filepath.Join(dir, "tmp")} {
		assertOwner(t, p, 65534)
	}
	es, _ := os.ReadDir(filepath.Join(dir, "new"))
	for _, e := range es {
		assertOwner(t, filepath.Join(dir, "new", e.Name()), 65534)
	}
	assertOwner(t, root, 0) // existed before: left alone
}

func TestFromLines_QuotableLines(t *testing.T) {
	ms := FromLines()
	var from, quoted, twice bool
	names := map[string]bool{}
	for _, m := range ms {
		if names[m.Name] {
			t.Errorf("duplicate name %q", m.Name)
		}
		names[m.Name] = true
		from = from || bytes.Contains(m.Data, []byte("\n\nFrom "))
		quoted = quoted || bytes.Contains(m.Data, []byte("\n>From "))
		twice = twice || bytes.Contains(m.Data, []byte("\n>>From "))
		if bytes.Contains(m.Data, []byte("\r")) {
			t.Errorf("%s: has a CR", m.Name)
		}
	}
	if !from || !quoted || !twice {
		t.Errorf("FromLines lacks a case: From after a blank line %t, >From %t, >>From %t", from, quoted, twice)
	}
}
