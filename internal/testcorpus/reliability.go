package testcorpus

import (
	"bytes"
	"fmt"
)

// Reliability returns n messages for the reliability campaigns (kill -9,
// network cuts): sizes from 1 KB to 5 MB (about 6% are 1–5 MB attachments,
// 14% 64 KB–1 MB, the rest 1–64 KB), and in about a third of them the byte
// patterns of Tricky appended to the body: lone-dot and dot-started lines,
// 8-bit Latin-1 and UTF-8, a bare CR, a NUL; about a fifth end without a
// final newline. The same (n, seed) always gives the same messages, and
// every message is distinct (its Message-ID includes seed and index).
//
// Only what Dovecot 2.3 serves back unchanged is used (see Tricky): no CR
// right before an LF, no CR as the last byte. A bare LF cannot be told apart
// from a line end in a maildir file (Dovecot sends every LF as CRLF), so it
// is not a separate case here; the fake-server tests of internal/pop3 cover it.
func Reliability(n int, seed uint64) []Message {
	r := newRand(seed ^ 0x5eed_ca4a_1900)
	ms := make([]Message, 0, n)
	for i := range n {
		var m Message
		switch k := r.IntN(100); {
		case k < 6:
			m = attachmentMessage(r, seed, i, 1<<20+r.IntN(4<<20))
		case k < 20:
			m = textMessage(r, seed, i, 64<<10+r.IntN(960<<10))
		default:
			m = textMessage(r, seed, i, 1<<10+r.IntN(63<<10))
		}
		if r.IntN(3) == 0 {
			m.Data = append(m.Data, quirks[r.IntN(len(quirks))]...)
		}
		if r.IntN(5) == 0 {
			m.Data = bytes.TrimRight(m.Data, "\n") // never leaves a CR last: no quirk ends in CR
		}
		m.Name = fmt.Sprintf("rel-%d-%05d", seed, i)
		ms = append(ms, m)
	}
	return ms
}

// quirks are body endings with the byte patterns a POP3 client gets wrong.
var quirks = []string{
	".\n..\n...\n. dot space\n.\n",
	"before a lone dot\n.\nafter it\n",
	"Gr\xfc\xdfe aus Z\xfcrich, d\xe9j\xe0 vu \xa9 \xbd \xff\xfe\n\x80\x81\x9f C1 range\n",
	".Ünïcödé line starting with a dot 日本語 🙂\n",
	"a bare CR\rin the middle\n\rat line start\n.\rdot then CR\n",
	"NUL here:\x00:and\x00\x00twice\n\x00.\x00\n",
	"last line is a lone dot\n.",
}
