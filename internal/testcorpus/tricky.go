package testcorpus

import "strings"

// Tricky returns messages whose bytes a POP3 client most easily gets wrong:
// dot-stuffing at every position, 8-bit data, NUL bytes, a very long line, and
// messages whose end is unusual. Every one of them survives Dovecot 2.3 byte for
// byte (checked by internal/integration's TestDovecot_CorpusRoundTripsRaw), so a
// difference after a fetch is fetchd's fault.
//
// Left out on purpose, because Dovecot 2.3 itself does not serve them so that
// they come back unchanged (the fake-server tests of internal/pop3 cover them):
//   - a CR right before an LF in the maildir file ("x\r\n", "x\r\r\n"): Dovecot
//     sends the file's CRLF as one CRLF line end, so fetchd stores "x\n" and
//     "x\r\n" (one CR lost);
//   - a CR as the last byte of the file: Dovecot appends CRLF after it, which
//     only happens to give Expected's bytes back.
//
// A bare CR followed by anything but LF does survive, and is included.
func Tricky() []Message {
	hdr := func(subject string) string {
		return "From: Tricky Sender <tricky@example.org>\n" +
			"To: fetchd test <test@example.net>\n" +
			"Subject: " + subject + "\n" +
			"Date: Fri, 01 Mar 2024 09:00:00 +0000\n" +
			"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@testcorpus.invalid>\n" +
			"MIME-Version: 1.0\n"
	}
	plain := "Content-Type: text/plain; charset=us-ascii\n\n"
	long := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 20<<10/36+1)[:20<<10]

	ms := []Message{
		{"dot-lines", []byte(hdr("dot lines") + plain +
			".starts with a dot\n" +
			"..starts with two dots\n" +
			"...three\n" +
			". dot space\n" +
			".\tdot tab\n" +
			" .space then dot\n" +
			"middle . dot\n" +
			"ends with a dot.\n")},
		{"lone-dot-line", []byte(hdr("lone dot line") + plain +
			"Before the lone dot.\n" +
			".\n" +
			"After the lone dot: a client that stops here has lost the rest.\n")},
		{"double-dot-line", []byte(hdr("double dot line") + plain +
			"Before.\n..\nAfter.\n.\n.\nTwo lone dots above.\n")},
		{"dot-crlf-dot", []byte(hdr("dot at body start") + "\n.\n..\n...\n")},
		{"last-line-dot", []byte(hdr("last line dot") + plain +
			"The last line is a lone dot.\n.\n")},
		{"last-line-dot-no-newline", []byte(hdr("last line dot without newline") + plain +
			"The last line is a lone dot without a newline.\n.")},
		{"no-final-newline", []byte(hdr("no final newline") + plain +
			"This message does not end with a newline.")},
		{"latin1", []byte(hdr("latin1 body") +
			"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n" +
			"Gr\xfc\xdfe aus Z\xfcrich, d\xe9j\xe0 vu, se\xf1or, \xa9 \xbd \xff\xfe.\n" +
			"\x80\x81\x9f control range of C1\n")},
		{"utf8", []byte(hdr("utf8 body") +
			"Subject-Extra: Grüße 日本語 🙂\n" +
			"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" +
			"Grüße aus Zürich — déjà vu, 日本語のテキスト, emoji 🙂📬.\n" +
			".Ünïcödé line starting with a dot\n")},
		{"nul-bytes", []byte(hdr("nul bytes") + plain +
			"NUL here:\x00:and\x00\x00twice.\n\x00\n\x00.\x00\nend\n")},
		{"bare-cr", []byte(hdr("bare cr") + plain +
			"a bare CR\rin the middle\n\rat line start\n.\rdot then CR\n\r\r\rthree\n")},
		{"long-line", []byte(hdr("long line") + plain +
			"A 20 KB line follows.\n" + long + "\n." + long[:100] + "\nend\n")},
		{"trailing-space", []byte(hdr("trailing space") + plain +
			"trailing spaces   \ntrailing tab\t\n \n\t\n\n\nthree blank lines above\n")},
		{"empty-body", []byte(hdr("empty body") + "\n")},
		{"headers-only", []byte(hdr("headers only"))},
		{"folded-header", []byte("X-Long: " + strings.Repeat("folded header value ", 60) + "\n" +
			"X-Folded: first\n second\n\tthird\n" + hdr("folded header") + plain + "body\n")},
	}
	return ms
}
