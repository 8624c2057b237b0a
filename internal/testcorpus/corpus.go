// Package testcorpus generates deterministic RFC 5322 messages for tests and
// benchmarks: a mailbox-like mix of sizes (Mixed), byte patterns that POP3 must
// carry unchanged (Tricky), one large attachment (Big), and a writer that seeds a
// maildir (WriteMaildir) the way an MTA would, for a real server such as Dovecot
// to serve.
//
// Messages are in LF form, as a maildir holds them. A POP3 server sends them with
// CRLF line ends and dot-stuffing (RFC 1939 §3); fetchd undoes both when it
// stores them, so what lands in fetchd's maildir is Expected(m).
//
// Generation uses math/rand/v2's PCG seeded by the caller: the same arguments give
// the same bytes on every machine and Go release that keeps PCG's definition.
package testcorpus

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"
)

// Message is one RFC 5322 message in LF form.
type Message struct {
	Name string // short, unique within a corpus, safe in a file name
	Data []byte
}

// Expected returns what fetchd must store for m: the same bytes, with a final
// "\n" added when m does not end with one. POP3 cannot carry the absence of a
// final line end (RFC 1939 §3: a multi-line response ends with CRLF.CRLF), so the
// server adds one. An empty message stays empty.
func Expected(m Message) []byte {
	d := m.Data
	if len(d) == 0 || d[len(d)-1] == '\n' {
		return bytes.Clone(d)
	}
	out := make([]byte, len(d)+1)
	copy(out, d)
	out[len(d)] = '\n'
	return out
}

// epoch anchors the Date headers so they do not depend on the clock.
var epoch = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// newRand returns the generator for one seed; the second PCG word is a fixed
// constant so seed 0 is as good as any other.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// Mixed returns n messages with sizes like a real mailbox: about 5% tiny
// (under 1 KB), 88% plain text of 2–20 KB, and 7% multipart messages with a base64
// attachment of 100 KB–1 MB. The same (n, seed) always gives the same messages.
func Mixed(n int, seed uint64) []Message {
	r := newRand(seed)
	ms := make([]Message, 0, n)
	for i := range n {
		var m Message
		switch k := r.IntN(100); {
		case k < 5:
			m = textMessage(r, seed, i, 150+r.IntN(700))
		case k < 93:
			m = textMessage(r, seed, i, 2<<10+r.IntN(18<<10))
		default:
			m = attachmentMessage(r, seed, i, 100<<10+r.IntN(924<<10))
		}
		m.Name = fmt.Sprintf("mixed-%d-%05d", seed, i)
		ms = append(ms, m)
	}
	return ms
}

// Big returns one message of about size bytes, almost all of it a base64
// attachment: the case where a client that buffers whole messages shows it.
func Big(size int) Message {
	r := newRand(uint64(size))
	m := attachmentMessage(r, 0, 0, size)
	m.Name = fmt.Sprintf("big-%d", size)
	return m
}

// header writes the header fields every generated message has.
func header(b *bytes.Buffer, r *rand.Rand, seed uint64, i int, subject string) {
	from := names[r.IntN(len(names))]
	to := names[r.IntN(len(names))]
	date := epoch.Add(time.Duration(seed%1000)*time.Hour + time.Duration(i)*time.Minute)
	fmt.Fprintf(b, "Return-Path: <%s@example.org>\n", from)
	fmt.Fprintf(b, "From: %s <%s@example.org>\n", from, from)
	fmt.Fprintf(b, "To: %s <%s@example.net>\n", to, to)
	fmt.Fprintf(b, "Subject: %s\n", subject)
	fmt.Fprintf(b, "Date: %s\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(b, "Message-ID: <%d.%d.%08x@testcorpus.invalid>\n", seed, i, r.Uint32())
	b.WriteString("MIME-Version: 1.0\n")
}

func textMessage(r *rand.Rand, seed uint64, i, size int) Message {
	var b bytes.Buffer
	b.Grow(size + 256)
	header(&b, r, seed, i, sentence(r, 3+r.IntN(6)))
	b.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	text(&b, r, size)
	return Message{Data: b.Bytes()}
}

func attachmentMessage(r *rand.Rand, seed uint64, i, size int) Message {
	var b bytes.Buffer
	b.Grow(size + 1024)
	boundary := fmt.Sprintf("=_testcorpus_%016x", r.Uint64())
	header(&b, r, seed, i, "Attachment: "+sentence(r, 3))
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n", boundary)
	b.WriteString("This is a multi-part message in MIME format.\n\n")
	fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\n", boundary)
	text(&b, r, b.Len()+300+r.IntN(1500))
	fmt.Fprintf(&b, "\n--%s\nContent-Type: application/octet-stream\n", boundary)
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"file%d.bin\"\n", i)
	b.WriteString("Content-Transfer-Encoding: base64\n\n")
	// Base64 grows data by 4/3 plus a newline per 76 characters.
	raw := make([]byte, max(0, (size-b.Len()-64)*57/77))
	for j := 0; j < len(raw); j += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && j+k < len(raw); k++ {
			raw[j+k] = byte(v >> (8 * k))
		}
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteByte('\n')
		enc = enc[76:]
	}
	b.WriteString(enc)
	fmt.Fprintf(&b, "\n--%s--\n", boundary)
	return Message{Data: b.Bytes()}
}

// text appends word-wrapped paragraphs until b holds about size bytes. A few
// lines start with a dot, as real mail does (".NET", "...and"), so a bulk corpus
// exercises dot-stuffing too.
func text(b *bytes.Buffer, r *rand.Rand, size int) {
	for b.Len() < size {
		if r.IntN(40) == 0 {
			b.WriteString(dotStarts[r.IntN(len(dotStarts))])
		}
		n := 0
		for n < 60+r.IntN(16) {
			w := words[r.IntN(len(words))]
			if n > 0 {
				b.WriteByte(' ')
				n++
			}
			b.WriteString(w)
			n += len(w)
		}
		b.WriteByte('\n')
		if r.IntN(6) == 0 {
			b.WriteByte('\n')
		}
	}
}

func sentence(r *rand.Rand, n int) string {
	var b bytes.Buffer
	for j := range n {
		if j > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

var names = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

var dotStarts = []string{".NET ", "...and ", ". ", ".. "}

var words = []string{
	"the", "mail", "server", "message", "poll", "delivery", "maildir", "quota", "report",
	"meeting", "tomorrow", "attached", "please", "find", "invoice", "regards", "thanks",
	"project", "update", "release", "schedule", "review", "budget", "draft", "minutes",
	"a", "of", "to", "and", "in", "is", "for", "on", "with", "as", "at", "by", "from",
	"Grüße", "naïve", "café", "Zürich", "déjà", "vu", "señor", "smörgåsbord", "日本語",
}
