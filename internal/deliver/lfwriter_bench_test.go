package deliver

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"testing"
)

// benchMessage returns a deterministic, realistic message of about size
// octets with CRLF line ends: a header, paragraphs of 70–76 octet text lines
// and a base64 attachment of 76 octet lines making up about 40% of it. (The
// same shape as the pop3 package's benchmark input.)
func benchMessage(size int) []byte {
	r := rand.New(rand.NewPCG(7, 1939))
	words := []string{"the", "message", "server", "POP3", "retrieval", "of", "a", "and", "is",
		"maildir", "delivery", "to", "line", "octets", "with", "from", "daemon", "fetch",
		"über", "naïve", "résumé", "café", "x", "quoted", "reply", "in", "on", "for"}
	var b bytes.Buffer
	b.WriteString("Return-Path: <alice@example.org>\r\nFrom: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@example.net>\r\nSubject: quarterly numbers\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	text := size * 6 / 10
	var line []byte
	for b.Len() < text {
		want := 70 + r.IntN(7)
		line = line[:0]
		if r.IntN(40) == 0 {
			line = append(line, '.')
		} else if r.IntN(15) == 0 {
			line = append(line, "> "...)
		}
		for len(line) < want {
			w := words[r.IntN(len(words))]
			if len(line)+len(w)+1 > want+4 {
				break
			}
			if len(line) > 0 && line[len(line)-1] != '.' && line[len(line)-1] != ' ' {
				line = append(line, ' ')
			}
			line = append(line, w...)
		}
		b.Write(line)
		b.WriteString("\r\n")
		if r.IntN(8) == 0 {
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for b.Len() < size-16 {
		for range 76 {
			b.WriteByte(b64[r.IntN(64)])
		}
		b.WriteString("\r\n")
	}
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

// BenchmarkLFWriter converts a 1 MB CRLF message to LF in 32 KB Writes (as
// writeBody gets them from the body reader) into a 64 KB bufio.Writer.
func BenchmarkLFWriter(b *testing.B) {
	in := benchMessage(1 << 20)
	want := int64(len(bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))))
	cw := &countingDiscard{}
	bw := bufio.NewWriterSize(cw, 64<<10)
	lw := NewLFWriter(bw) // reusable: Flush leaves it clean
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cw.n = 0
		for p := in; len(p) > 0; {
			k := min(len(p), 32<<10)
			if _, err := lw.Write(p[:k]); err != nil {
				b.Fatal(err)
			}
			p = p[k:]
		}
		if err := lw.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		if cw.n != want {
			b.Fatalf("wrote %d octets, want %d", cw.n, want)
		}
	}
}

// countingDiscard is io.Discard that counts, so that the benchmark checks
// what came out.
type countingDiscard struct{ n int64 }

func (d *countingDiscard) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return len(p), nil
}
