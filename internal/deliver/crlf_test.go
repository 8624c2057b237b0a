package deliver

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strings"
	"testing"
)

// crlfWriteChunks writes in to w in pieces of chunk bytes.
func crlfWriteChunks(t testing.TB, w interface{ Write([]byte) (int, error) }, in []byte, chunk int) {
	for len(in) > 0 {
		n := min(chunk, len(in))
		if got, err := w.Write(in[:n]); err != nil || got != n {
			t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
		}
		in = in[n:]
	}
}

func TestCRLFWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a\r\n"},
		{"a\r\n", "a\r\n"},
		{"a\nb", "a\r\nb\r\n"},
		{"a\rb", "a\r\nb\r\n"},
		{"\r", "\r\n"},
		{"\n", "\r\n"},
		{"\r\r\n", "\r\n\r\n"},
		{"\n\r", "\r\n\r\n"},
		{"a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"x\x00\xff\r", "x\x00\xff\r\n"},
		{".a\n..b\r.\r\n", ".a\r\n..b\r\n.\r\n"}, // no stuffing here: the DotWriter does it
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 2, 3, 1 << 20} {
			var buf bytes.Buffer
			w := newCRLFWriter(&buf)
			crlfWriteChunks(t, w, []byte(tt.in), chunk)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("crlfWriter(%q) chunk %d: got %q, want %q", tt.in, chunk, got, tt.want)
			}
		}
	}
}

// smtpWire returns what goes on the wire for body between DATA's 354 and
// the server's reply: crlfWriter feeding the textproto DotWriter that
// go-smtp's DataCommand wraps, as relay.send and DataCommand.Close do.
func smtpWire(t testing.TB, body []byte, chunk int) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	dw := textproto.NewWriter(bw).DotWriter()
	cw := newCRLFWriter(dw)
	crlfWriteChunks(t, cw, body, chunk)
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSMTPWire_Smuggling(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{"a\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},     // bare LF before the terminator
		{"a\r\n.\rb", "a\r\n..\r\nb\r\n.\r\n"},     // bare CR after it
		{"a\r.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},     // the DotWriter alone would not stuff "\r."
		{"a\n.\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},   // LF-only terminator
		{"a\r\n..\r\n", "a\r\n...\r\n.\r\n"},       // stuffed once more, once
		{"a\r\n.\r\n\r\n", "a\r\n..\r\n\r\n.\r\n"}, // the whole terminator in the body
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 1 << 20} {
			if got := string(smtpWire(t, []byte(tt.in), chunk)); got != tt.want {
				t.Errorf("wire(%q) chunk %d: got %q, want %q", tt.in, chunk, got, tt.want)
			}
		}
	}
}

// FuzzSMTPNormalise checks the DATA stream for any body: no bare CR or LF
// on the wire, every line starting with "." stuffed, and un-stuffing and
// splitting at CRLF gives back the body's lines, a bare CR or LF counting
// as a line break.
func FuzzSMTPNormalise(f *testing.F) {
	for _, s := range []string{
		"", "a", "Subject: x\r\n\r\nbody\r\n", "a\n.\r\nb", "a\r\n.\rb", ".\r\n", "\r\r\n\n\r",
		"..\r\n.\n.\r.", "x\x00\xff\r\n", strings.Repeat("y", 5000) + "\n.",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		out := smtpWire(t, in, int(chunk)+1)
		if len(in) == 0 {
			if string(out) != "\r\n.\r\n" {
				t.Fatalf("empty body: got %q", out)
			}
			return
		}
		body, ok := bytes.CutSuffix(out, []byte("\r\n.\r\n"))
		if !ok {
			t.Fatalf("no CRLF.CRLF at the end: %q", out)
		}
		for i, c := range body {
			if c == '\r' && (i+1 >= len(body) || body[i+1] != '\n') || c == '\n' && (i == 0 || body[i-1] != '\r') {
				t.Fatalf("bare %q at %d in %q", c, i, body)
			}
		}
		var got []string
		for _, l := range strings.Split(string(body), "\r\n") {
			if strings.HasPrefix(l, ".") {
				if !strings.HasPrefix(l, "..") {
					t.Fatalf("line %q not stuffed in %q", l, out)
				}
				l = l[1:]
			}
			got = append(got, l)
		}
		norm := strings.ReplaceAll(strings.ReplaceAll(string(in), "\r\n", "\n"), "\r", "\n")
		want := strings.Split(strings.TrimSuffix(norm, "\n"), "\n")
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d: %q from %q", len(got), len(want), out, in)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("line %d: got %q, want %q", i, got[i], want[i])
			}
		}
	})
}
