package testcorpus

// FromLines returns messages whose lines an mbox writer must quote and a reader
// must unquote: body lines starting with "From " (after a blank line, as an mbox
// separator would be, and inside a paragraph), lines already quoted once or
// twice (">From ", ">>From "), and lines that look close but must be left alone
// ("From:" in the body, "From" alone, "Fromage", " From " indented, ">From"
// without a space). In mboxrd (quote ^>*From , unquote ^>+From ) every one of
// them round-trips; in mboxo the ">From " lines would come back as "From ".
//
// Like Tricky, every message survives Dovecot 2.3 byte for byte, so the set can
// seed a POP3 mailbox for tests of mbox delivery.
func FromLines() []Message {
	hdr := func(subject string) string {
		return "From: From Lines <from-lines@example.org>\n" +
			"To: fetchd test <test@example.net>\n" +
			"Subject: " + subject + "\n" +
			"Date: Fri, 01 Mar 2024 09:00:00 +0000\n" +
			"Message-ID: <from-lines-" + subject + "@testcorpus.invalid>\n" +
			"MIME-Version: 1.0\n" +
			"Content-Type: text/plain; charset=us-ascii\n\n"
	}
	return []Message{
		{"from-after-blank", []byte(hdr("after-blank") +
			"A paragraph.\n\n" +
			"From alice@example.org Fri Mar  1 09:00:00 2024\n" +
			"looks like the next message's separator.\n")},
		{"from-quoted", []byte(hdr("quoted") +
			"From the start of a line.\n" +
			">From quoted once.\n" +
			">>From quoted twice.\n" +
			">>>From quoted three times.\n" +
			"From \n" +
			"From\n")},
		{"from-lookalikes", []byte(hdr("lookalikes") +
			"From: not a header, in the body\n" +
			"Fromage is cheese.\n" +
			" From indented by a space.\n" +
			">From\n" +
			">Fro\n" +
			"> From with a space after the quote.\n" +
			"FROM upper case.\n" +
			"From")}, // "From" at the very end, no final newline
		{"from-first-body-line", []byte(hdr("first-body-line") +
			"From here the body starts.\n" +
			"\n" +
			"From there it goes on.\n")},
	}
}
