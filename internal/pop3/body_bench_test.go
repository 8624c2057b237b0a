package pop3

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"fetchd/internal/deliver"
)

// benchMessage returns a deterministic, realistic message body of about size
// octets with CRLF line ends: a header, paragraphs of 70–76 octet text lines
// (some starting with a dot, so that they are byte-stuffed on the wire) and a
// base64 attachment of 76 octet lines making up about 40% of it.
func benchMessage(size int) []byte {
	r := rand.New(rand.NewPCG(7, 1939))
	words := []string{"the", "message", "server", "POP3", "retrieval", "of", "a", "and", "is",
		"maildir", "delivery", "to", "line", "octets", "with", "from", "daemon", "fetch",
		"über", "naïve", "résumé", "café", "x", "quoted", "reply", "in", "on", "for"}
	var b bytes.Buffer
	b.WriteString("Return-Path: <alice@example.org>\r\n" +
		"Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby pop.example.net with ESMTPS id 4F2a9Q; Tue, 3 Feb 2026 10:00:00 +0000\r\n" +
		"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: quarterly numbers\r\n" +
		"Date: Tue, 3 Feb 2026 10:00:00 +0000\r\nMessage-ID: <20260203100000.1@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n")
	text := size * 6 / 10
	var line []byte
	for b.Len() < text {
		want := 70 + r.IntN(7)
		line = line[:0]
		if r.IntN(40) == 0 {
			line = append(line, '.') // a line starting with a dot: stuffed on the wire
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
			b.WriteString("\r\n") // paragraph break
		}
	}
	b.WriteString("\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"numbers.pdf\"\r\n\r\n")
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

// benchWire is benchMessage dot-stuffed and terminated, as RETR sends it.
func benchWire(size int) (wire, body []byte) {
	body = benchMessage(size)
	return append(dotStuff(body), ".\r\n"...), body
}

// benchCaps are the caps production runs with: Config's default line cap,
// and a 50 MB message cap (a typical max_message_size).
var benchCaps = []struct {
	name    string
	maxLine int
	maxSize int64
}{
	{"NoCaps", 0, 0},
	{"Caps", defaultMaxLineLength, 50_000_000},
}

// BenchmarkBodyReader decodes a 1 MB RETR body as Client does: a bodyReader
// over a bufio.Reader of maxReplyLine, read into a 32 KB buffer as
// deliver.Maildir's writeBody does.
func BenchmarkBodyReader(b *testing.B) {
	wire, body := benchWire(1 << 20)
	for _, c := range benchCaps {
		b.Run(c.name, func(b *testing.B) {
			sr := bytes.NewReader(wire)
			br := bufio.NewReaderSize(sr, maxReplyLine)
			r := new(bodyReader)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				sr.Reset(wire)
				br.Reset(sr)
				*r = bodyReader{src: br, maxLine: c.maxLine, maxSize: c.maxSize}
				n := 0
				for {
					k, err := r.Read(buf)
					n += k
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if n != len(body) {
					b.Fatalf("got %d octets, want %d", n, len(body))
				}
			}
		})
	}
}

// BenchmarkBodyPathToMaildir is the whole body path into a maildir, without
// the file: bodyReader, then deliver's LFWriter and a 64 KB bufio.Writer as
// writeBody uses them.
func BenchmarkBodyPathToMaildir(b *testing.B) {
	wire, body := benchWire(1 << 20)
	want := int64(len(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))))
	for _, c := range benchCaps {
		b.Run(c.name, func(b *testing.B) {
			sr := bytes.NewReader(wire)
			br := bufio.NewReaderSize(sr, maxReplyLine)
			r := new(bodyReader)
			cw := &countingDiscard{}
			bw := bufio.NewWriterSize(cw, 64<<10)
			lw := deliver.NewLFWriter(bw) // reusable: Flush leaves it clean
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				sr.Reset(wire)
				br.Reset(sr)
				*r = bodyReader{src: br, maxLine: c.maxLine, maxSize: c.maxSize}
				cw.n = 0
				for {
					k, err := r.Read(buf)
					if k > 0 {
						if _, werr := lw.Write(buf[:k]); werr != nil {
							b.Fatal(werr)
						}
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
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
		})
	}
}

// countingDiscard is io.Discard that counts, so that the benchmark checks
// what came out.
type countingDiscard struct{ n int64 }

func (d *countingDiscard) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return len(p), nil
}

func TestBenchMessage(t *testing.T) {
	wire, body := benchWire(1 << 20)
	if len(body) < 1<<20-100 || len(body) > 1<<20+100 {
		t.Errorf("body is %d octets", len(body))
	}
	if n := bytes.Count(wire, []byte("\r\n..")); n < 100 {
		t.Errorf("only %d stuffed lines", n)
	}
	got, rest, err := decodeAll(wire, false, maxReplyLine, 32<<10, defaultMaxLineLength, 50_000_000)
	if err != nil || !bytes.Equal(got, body) || len(rest) != 0 {
		t.Fatalf("decode: %d octets, %d left, %v", len(got), len(rest), err)
	}
}
