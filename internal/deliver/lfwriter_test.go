package deliver

import (
	"bytes"
	"errors"
	"testing"
)

var lfTests = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"crlf", "\r\n", "\n"},
	{"line", "a\r\nb", "a\nb"},
	{"two crlf", "\r\n\r\n", "\n\n"},
	{"bare cr at end", "a\r", "a\r"},
	{"only cr", "\r", "\r"},
	{"bare cr inside", "a\rb", "a\rb"},
	{"bare lf", "a\nb\n", "a\nb\n"},
	{"lf cr", "\n\r", "\n\r"},
	{"cr cr lf", "\r\r\n", "\r\n"},
	{"cr cr cr", "\r\r\r", "\r\r\r"},
	{"crlf then cr", "\r\n\r", "\n\r"},
	{"cr lf lf", "\r\n\n", "\n\n"},
	{"nul and 8-bit", "\x00\xff\r\x80\r\n\x00", "\x00\xff\r\x80\n\x00"},
	{"message", "Subject: x\r\n\r\nline1\nline2\r\r\n..dot\r\n", "Subject: x\n\nline1\nline2\r\n..dot\n"},
}

// writeChunks writes in to a fresh LFWriter in chunks of size n (n <= 0: one
// Write) and returns the output after Flush.
func writeChunks(t *testing.T, in string, n int) string {
	t.Helper()
	var out bytes.Buffer
	w := NewLFWriter(&out)
	p := []byte(in)
	for len(p) > 0 {
		k := len(p)
		if n > 0 && n < k {
			k = n
		}
		got, err := w.Write(p[:k])
		if err != nil || got != k {
			t.Fatalf("Write(%q) = %d, %v, want %d, nil", p[:k], got, err, k)
		}
		p = p[k:]
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return out.String()
}

func TestLFWriter(t *testing.T) {
	for _, tt := range lfTests {
		for n := 0; n <= 7; n++ { // 0: whole input in one Write
			if got := writeChunks(t, tt.in, n); got != tt.want {
				t.Errorf("%s, chunk %d: got %q, want %q", tt.name, n, got, tt.want)
			}
		}
	}
}

func TestLFWriter_EverySplitPoint(t *testing.T) {
	for _, tt := range lfTests {
		for i := 0; i <= len(tt.in); i++ {
			var out bytes.Buffer
			w := NewLFWriter(&out)
			w.Write([]byte(tt.in[:i]))
			w.Write(nil) // an empty Write must not disturb a held CR
			w.Write([]byte(tt.in[i:]))
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("%s, split at %d: got %q, want %q", tt.name, i, got, tt.want)
			}
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestLFWriter_ErrorIsSticky(t *testing.T) {
	boom := errors.New("boom")
	w := NewLFWriter(failWriter{boom})
	if n, err := w.Write([]byte("a\r\nb")); n != 0 || !errors.Is(err, boom) {
		t.Errorf("Write = %d, %v, want 0, %v", n, err, boom)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, boom) {
		t.Errorf("second Write error = %v, want %v", err, boom)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush error = %v, want %v", err, boom)
	}
}

func FuzzLFWriter(f *testing.F) {
	for _, tt := range lfTests {
		f.Add([]byte(tt.in), []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, in, chunks []byte) {
		var out bytes.Buffer
		w := NewLFWriter(&out)
		p := in
		for _, c := range chunks { // each byte is one Write's size, 0..8
			k := min(int(c)%9, len(p))
			if n, err := w.Write(p[:k]); n != k || err != nil {
				t.Fatalf("Write = %d, %v, want %d, nil", n, err, k)
			}
			p = p[k:]
		}
		w.Write(p)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if want := bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n")); !bytes.Equal(out.Bytes(), want) {
			t.Errorf("in %q chunks %v: got %q, want %q", in, chunks, out.Bytes(), want)
		}
	})
}
