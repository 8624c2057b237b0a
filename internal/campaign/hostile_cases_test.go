package campaign

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"fetchd/internal/fetch"
	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
)

// hostileCases returns every case; the fullOnly ones run only with
// -campaign.size=full.
func hostileCases() []hcase {
	var cs []hcase
	cs = append(cs, replyCases()...)
	cs = append(cs, bodyCases()...)
	cs = append(cs, listingCases()...)
	cs = append(cs, unsolicitedCases()...)
	cs = append(cs, codeCases()...)
	cs = append(cs, stallCases()...)
	return cs
}

// wire is message n of defaultMsgs as RETR sends it, without the terminator.
func wire(n int) string { return stuff(string(defaultMsgs[n-1].Body)) }

// goodReply is the well-behaved reply to cmd over defaultMsgs.
func goodReply(cmd string) string {
	switch verb, arg, _ := strings.Cut(cmd, " "); verb {
	case "greeting":
		return "+OK hostile ready\r\n"
	case "CAPA":
		return "+OK\r\nUSER\r\nUIDL\r\n.\r\n"
	case "UIDL":
		return "+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n"
	case "LIST":
		var b strings.Builder
		b.WriteString("+OK\r\n")
		for i, m := range defaultMsgs {
			fmt.Fprintf(&b, "%d %d\r\n", i+1, len(m.Body))
		}
		return b.String() + ".\r\n"
	case "RETR":
		return "+OK\r\n" + wire(int(arg[0]-'0')) + ".\r\n"
	}
	return "+OK\r\n"
}

// replyCases: each malformed reply at each command (category "reply").
func replyCases() []hcase {
	cmds := []string{"greeting", "CAPA", "USER", "PASS", "UIDL", "LIST", "RETR 1", "RETR 2", "DELE 1", "DELE 2", "QUIT"}
	kinds := []struct {
		name     string
		reply    func(cmd string) string
		wantErr  bool
		fullOnly bool
	}{
		{"+OKAY", func(string) string { return "+OKAY\r\n" }, true, false},
		{"no-status", func(string) string { return "hello\r\n" }, true, false},
		{"empty-line", func(string) string { return "\r\n" }, true, true},
		{"no-line-end", func(string) string { return "+OK" }, true, false},
		{"leading-space", func(string) string { return " +OK\r\n" }, true, true},
		{"70KB-line", func(string) string { return "+OK " + strings.Repeat("x", 70000) + "\r\n" }, true, false},
		{"control-and-8bit", func(string) string { return "+OK \x00\xff\x1b]0;pwned\x07\r\n" }, false, true},
		{"bare-LF", func(c string) string { return strings.ReplaceAll(goodReply(c), "\r\n", "\n") }, false, false},
		{"two-replies", func(c string) string { return goodReply(c) + goodReply(c) }, false, false},
		{"reply-then-ERR", func(c string) string { return goodReply(c) + "-ERR [SYS/TEMP] unsolicited\r\n" }, false, false},
		{"lower-case", func(c string) string { return "+ok" + strings.TrimPrefix(goodReply(c), "+OK") }, false, true},
		{"plain-ERR", func(string) string { return "-ERR\r\n" }, false, true},
	}
	var cs []hcase
	for _, cmd := range cmds {
		for _, k := range kinds {
			c := hcase{cat: "reply", name: k.name + "@" + cmd, wantErr: k.wantErr, fullOnly: k.fullOnly}
			r := k.reply(cmd)
			if cmd == "greeting" {
				c.raw = &rawSpec{greeting: text(r)}
				c.wantErr = c.wantErr || k.name == "plain-ERR"
			} else {
				c.faults = pop3test.Faults{Replies: map[string]string{cmd: r}}
			}
			cs = append(cs, c)
		}
	}
	return cs
}

// bodyCases: RETR bodies misframed, cut, stalled, huge or endless.
func bodyCases() []hcase {
	retr1 := func(name, reply string, wantErr bool, served map[int]string) hcase {
		return hcase{cat: "body", name: name, wantErr: wantErr, served: served,
			faults: pop3test.Faults{Replies: map[string]string{"RETR 1": reply}}}
	}
	fetched := func(n int) func(*hrun) error {
		return func(r *hrun) error {
			if got := r.results[0].Fetched; got != n {
				return fmt.Errorf("fetched %d, want %d: the session must stay usable", got, n)
			}
			return nil
		}
	}
	cs := []hcase{
		retr1("bare-LF-terminator", "+OK\r\nSubject: one\n\nfirst\n.\n", true, nil),
		retr1("CR-only-terminator", "+OK\r\nSubject: one\r\rfirst\r.\r", true, nil),
		retr1("LF-dot-CRLF-is-data", "+OK\r\nSubject: one\r\n\r\nfirst\n.\r\n", true, nil),
		retr1("dot-CR-x-is-data", "+OK\r\nA: b\r\n\r\nx\r\n.\rx\r\n.\r\n", false, map[int]string{1: "A: b\n\nx\n\rx\n"}),
		retr1("terminator-without-final-LF", "+OK\r\nA: b\r\n\r\nx\r\n.\r", true, nil),
		retr1("empty-body", "+OK\r\n.\r\n", false, map[int]string{1: ""}),
		retr1("NUL-and-8bit-body", "+OK\r\nA: \xff\x00\r\n\r\n\x1b[2J\xe9\r\n.\r\n", false, map[int]string{1: "A: \xff\x00\n\n\x1b[2J\xe9\n"}),
		retr1("body-then-unsolicited-OK", "+OK\r\nA: b\r\n\r\nx\r\n.\r\n+OK\r\n", false, map[int]string{1: "A: b\n\nx\n"}),
		retr1("body-then-junk", "+OK\r\nA: b\r\n\r\nx\r\n.\r\njunk\r\n", false, map[int]string{1: "A: b\n\nx\n"}),
		retr1("ERR-then-body", "-ERR [SYS/TEMP] later\r\nA: b\r\n\r\nx\r\n.\r\n", false, nil),
		retr1("status-then-terminator", "+OK A: b\r\n.\r\n", false, map[int]string{1: ""}),
	}
	// A body cut (connection closed) or stalled at interesting offsets of
	// message 2's wire form, terminator included; every offset in full. Offset
	// 0 is not a fault for pop3test (DropAtBody 0 means none).
	w := wire(2) + ".\r\n"
	core := map[int]bool{1: true, 16: true, 17: true, len(w) - 3: true, len(w) - 2: true, len(w) - 1: true}
	for off := 1; off < len(w); off++ {
		cs = append(cs, hcase{cat: "body", name: fmt.Sprintf("cut-at-%d", off), wantErr: true, fullOnly: !core[off],
			faults: pop3test.Faults{DropAtBody: int64(off), DropAtBodyMsg: 2}})
	}
	for _, off := range []int{1, 16, 17, len(w) / 2, len(w) - 3, len(w) - 2, len(w) - 1} {
		cs = append(cs, hcase{cat: "body", name: fmt.Sprintf("stall-at-%d", off), wantErr: true, fullOnly: !core[off],
			faults: pop3test.Faults{StallAtBody: int64(off), DropAtBodyMsg: 2}})
	}

	capSize := func(n int64) func(*fetch.Account, *pop3test.Server) {
		return func(a *fetch.Account, _ *pop3test.Server) { a.MaxMessageSize, a.Server.MaxMessageSize = n, n }
	}
	line := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	cs = append(cs,
		// A 10 MB line is refused by the line cap; the rest is drained and
		// the session goes on with the next messages.
		hcase{cat: "body", name: "10MB-line", heavy: true, check: fetched(2),
			raw: &rawSpec{on: map[string]rawAction{"RETR 1": then(text("+OK\r\n"), repeat(line, 160), text("\r\n.\r\n"))}}},
		hcase{cat: "body", name: "10MB-line-of-bare-CRs", heavy: true, check: fetched(2),
			raw: &rawSpec{on: map[string]rawAction{"RETR 1": then(text("+OK\r\n"), repeat(strings.Repeat("x\r", 32768), 160), text("\r\n.\r\n"))}}},
		hcase{cat: "body", name: "10MB-line-then-close", heavy: true, wantErr: true,
			raw: &rawSpec{on: map[string]rawAction{"RETR 1": then(text("+OK\r\n"), repeat(line, 160), drop)}}},
		// Endless bodies: max_message_size (5 MB) or the line cap must end them.
		hcase{cat: "body", name: "endless-RETR-short-lines", heavy: true, wantErr: true, account: capSize(5 << 20),
			raw: &rawSpec{on: map[string]rawAction{"RETR 1": then(text("+OK\r\n"), repeat(strings.Repeat("y", 76)+"\r\n", -1))}}},
		hcase{cat: "body", name: "endless-RETR-one-line", heavy: true, wantErr: true, account: capSize(5 << 20),
			raw: &rawSpec{on: map[string]rawAction{"RETR 1": then(text("+OK\r\n"), repeat(line, -1))}}},
		hcase{cat: "body", name: "endless-RETR-dot-stuffed", heavy: true, fullOnly: true, wantErr: true, account: capSize(5 << 20),
			raw: &rawSpec{on: map[string]rawAction{"RETR 1": then(text("+OK\r\n"), repeat("..\r\n", -1))}}},
		// An endless body that trickles in, each write well within the reply
		// timeout: only the minimum throughput (pop3.Config.MinRate) ends it.
		hcase{cat: "body", name: "endless-RETR-trickle", wantErr: true, account: capSize(5 << 20),
			raw: &rawSpec{on: map[string]rawAction{"RETR 1": then(text("+OK\r\n"), trickle("z\r\n", 50*time.Millisecond))}}},
	)
	return cs
}

// listingCases: wrong UIDL numbers, odd UIDs, lying LIST sizes, huge listings.
func listingCases() []hcase {
	override := func(verb, name, listing string, c hcase) hcase {
		c.cat, c.name = "listing", name
		if c.faults.Replies == nil {
			c.faults.Replies = map[string]string{}
		}
		c.faults.Replies[verb] = "+OK\r\n" + listing + ".\r\n"
		return c
	}
	uidl := func(name, listing string, c hcase) hcase { return override("UIDL", name, listing, c) }
	list := func(name, listing string, c hcase) hcase { return override("LIST", name, listing, c) }
	capped := func(n int64) func(*fetch.Account, *pop3test.Server) {
		return func(a *fetch.Account, _ *pop3test.Server) { a.MaxMessageSize, a.Server.MaxMessageSize = n, n }
	}
	big := pop3test.Message{UID: "big", Body: []byte("Subject: big\r\n\r\n" + strings.Repeat("big body line\r\n", 300))}
	cs := []hcase{
		uidl("uidl-number-out-of-range", "1 a\r\n2 b\r\n7 c\r\n", hcase{}),
		uidl("uidl-number-zero", "0 a\r\n2 b\r\n3 c\r\n", hcase{wantErr: true}),
		uidl("uidl-number-negative", "-1 a\r\n2 b\r\n3 c\r\n", hcase{wantErr: true}),
		uidl("uidl-number-huge", "99999999999 a\r\n2 b\r\n3 c\r\n", hcase{wantErr: true}),
		uidl("uidl-number-repeated", "1 a\r\n1 b\r\n3 c\r\n", hcase{}),
		uidl("uidl-swapped", "1 b\r\n2 a\r\n3 c\r\n", hcase{}),
		uidl("uidl-reversed-order", "3 c\r\n2 b\r\n1 a\r\n", hcase{}),
		uidl("uidl-missing-one", "2 b\r\n3 c\r\n", hcase{}),
		uidl("uidl-phantom-message", "1 a\r\n2 b\r\n3 c\r\n4 d\r\n", hcase{}),
		uidl("uidl-same-uid-twice", "1 a\r\n2 a\r\n3 c\r\n", hcase{dupOK: true}),
		uidl("uidl-empty", "", hcase{}),
		uidl("uidl-no-uid", "1\r\n2 b\r\n3 c\r\n", hcase{wantErr: true}),
		uidl("uidl-leading-zeros", "01 a\r\n002 b\r\n3 c\r\n", hcase{}),
		// A UID that belongs to another message: fetchd records what it
		// fetched under a UID that the honest server gives to a message
		// never fetched.
		uidl("uidl-names-another-message", "1 b\r\n3 c\r\n", hcase{}),
		// A server that labels message 1 with message 2's UIDL, then drops
		// the connection: the DELEs roll back, and message 1 (delivered
		// under a false name) comes back under its own. Only its content
		// could tell, so a duplicate is the price; a DELE of anything
		// undelivered is still a failure.
		uidl("uidl-names-another-message-then-drop", "1 b\r\n3 c\r\n",
			hcase{faults: pop3test.Faults{DropAt: "DELE 3"}, wantErr: true, dupOK: true}),
		list("list-size-zero", "1 0\r\n2 0\r\n3 0\r\n", hcase{}),
		list("list-size-huge", "1 999999999999999999\r\n2 1\r\n3 1\r\n", hcase{}),
		list("list-size-19-digits", "1 9999999999999999999\r\n2 1\r\n3 1\r\n", hcase{wantErr: true}),
		list("list-size-negative", "1 -5\r\n2 1\r\n3 1\r\n", hcase{wantErr: true}),
		list("list-fewer-entries", "2 40\r\n", hcase{}),
		list("list-other-numbers", "4 10\r\n5 10\r\n6 10\r\n", hcase{}),
		// LIST says small, the body is over max_message_size: the RETR cap
		// refuses it and the session goes on.
		list("list-lies-small-over-cap", "1 10\r\n2 10\r\n3 10\r\n4 10\r\n", hcase{
			msgs: append([]pop3test.Message{big}, defaultMsgs...), account: capped(1000),
			final: finalKept, kept: []string{"big"},
			check: func(r *hrun) error {
				if r.results[0].Fetched != 3 {
					return fmt.Errorf("fetched %d, want the 3 small ones", r.results[0].Fetched)
				}
				return nil
			},
		}),
		// LIST says huge, the body is small: skipped now, fetched by the
		// honest poll.
		list("list-lies-large-over-cap", "1 5000\r\n2 5000\r\n3 5000\r\n", hcase{
			account: capped(1000),
			check: func(r *hrun) error {
				if res := r.results[0]; res.Skipped != 3 || res.Fetched != 0 {
					return fmt.Errorf("%+v, want 3 skipped", res)
				}
				return nil
			},
		}),
	}

	// UIDs of every shape, served for real (the honest server has them too).
	shapes := []struct {
		name  string
		uid   string
		final finalKind
		full  bool
	}{
		{"70-octets", strings.Repeat("u", 70), finalAll, true},
		{"71-octets", strings.Repeat("u", 71), finalAll, true},
		{"200-octets", strings.Repeat("v", 200), finalAll, false},
		{"200-octets-8bit", strings.Repeat("\xe9", 200), finalAll, false},
		{"512-octets", strings.Repeat("w", 512), finalAll, true},
		{"513-octets", strings.Repeat("w", 513), finalNone, false},
		{"1000-octets", strings.Repeat("w", 1000), finalNone, true},
		{"8bit-utf8", "\xc3\xa9t\xc3\xa9", finalAll, false},
		{"8bit-invalid-utf8", "\xff\xfe\x80", finalAll, false},
		{"inner-space", "a b", finalAll, true},
		{"control-char", "a\x01b", finalNone, false},
		{"DEL-char", "a\x7fb", finalNone, true},
		{"path-traversal", "../../../etc/passwd", finalAll, false},
		{"format-verbs", "%s%n%x", finalAll, true},
		{"backslash-x00", `\x00`, finalAll, true},
	}
	for _, s := range shapes {
		msgs := []pop3test.Message{defaultMsgs[0], {UID: s.uid, Body: defaultMsgs[1].Body}, defaultMsgs[2]}
		c := hcase{cat: "listing", name: "uid-" + s.name, msgs: msgs, final: s.final, fullOnly: s.full, wantErr: s.final == finalNone}
		cs = append(cs, c)
		// With a drop at QUIT: the honest poll must delete, never deliver again.
		c.name += "-drop-at-QUIT"
		c.faults = pop3test.Faults{DropAt: "QUIT"}
		c.fullOnly, c.wantErr = true, true
		cs = append(cs, c)
	}

	// Huge and endless listings, each in a child process.
	pad := strings.Repeat("p", 50)
	cs = append(cs,
		hcase{cat: "listing", name: "uidl-1M-lines-then-drop", heavy: true, wantErr: true,
			raw: &rawSpec{on: map[string]rawAction{
				"UIDL": listing(1_000_000, func(i int) string { return fmt.Sprintf("%d uid-%d-%s\r\n", i, i, pad) }, true),
				"LIST": drop,
			}}},
		hcase{cat: "listing", name: "uidl-endless-short-lines", heavy: true, fullOnly: true, wantErr: true,
			raw: &rawSpec{on: map[string]rawAction{"UIDL": listing(-1, func(i int) string { return fmt.Sprintf("%d u%d\r\n", i, i) }, false)}}},
		hcase{cat: "listing", name: "uidl-endless-500-octet-uids", heavy: true, wantErr: true,
			raw: &rawSpec{on: map[string]rawAction{"UIDL": listing(-1, func(i int) string { return fmt.Sprintf("%d %0500d\r\n", i, i) }, false)}}},
		hcase{cat: "listing", name: "list-endless", heavy: true, wantErr: true,
			raw: &rawSpec{on: map[string]rawAction{"LIST": listing(-1, func(i int) string { return fmt.Sprintf("%d 100\r\n", i) }, false)}}},
		hcase{cat: "listing", name: "uidl-10MB-line", heavy: true, wantErr: true,
			raw: &rawSpec{on: map[string]rawAction{"UIDL": then(text("+OK\r\n1 "), repeat(strings.Repeat("q", 65536), 160), text("\r\n.\r\n"))}}},
		hcase{cat: "listing", name: "capa-endless", heavy: true, wantErr: true,
			raw: &rawSpec{on: map[string]rawAction{"CAPA": listing(-1, func(i int) string { return fmt.Sprintf("X-CAP-%d arg\r\n", i) }, false)}}},
	)
	return cs
}

// unsolicitedCases: data nobody asked for, after the greeting or STLS.
func unsolicitedCases() []hcase {
	var cs []hcase
	for _, g := range []struct{ name, extra string }{
		{"OK", "+OK extra\r\n"},
		{"ERR", "-ERR extra\r\n"},
		{"listing", "+OK\r\n1 a\r\n.\r\n"},
		{"junk", "junk\r\n"},
		{"NUL", "\x00\x00\x00\r\n"},
		{"five-OKs", strings.Repeat("+OK\r\n", 5)},
		{"fake-RETR", "+OK\r\nSubject: fake\r\n\r\nfake\r\n.\r\n"},
	} {
		cs = append(cs, hcase{cat: "unsolicited", name: "after-greeting-" + g.name,
			raw: &rawSpec{greeting: text("+OK hi\r\n" + g.extra)}})
	}
	cs = append(cs, hcase{cat: "unsolicited", name: "after-greeting-10MB", heavy: true,
		raw: &rawSpec{greeting: then(text("+OK hi\r\n"), repeat(strings.Repeat("j", 1022)+"\r\n", 10240))}})

	startTLS := func(a *fetch.Account, s *pop3test.Server) {
		a.Server.TLS = pop3.TLSStartTLS
		a.Server.AllowInsecure = false
		a.Server.TLSConfig = s.ClientTLSConfig()
	}
	noCreds := func(r *hrun) error {
		for _, c := range r.commands {
			verb, _, _ := strings.Cut(strings.ToUpper(c), " ")
			if verb == "USER" || verb == "PASS" || verb == "APOP" {
				return fmt.Errorf("credentials sent after an STLS injection: %q", r.commands)
			}
		}
		if err := r.results[0].Err; !errors.Is(err, pop3.ErrInjection) || fetch.IsTemporary(err) {
			return fmt.Errorf("error %v, want ErrInjection, not temporary", err)
		}
		return nil
	}
	for _, inj := range []struct{ name, data string }{
		{"OK", "+OK\r\n"},
		{"ERR", "-ERR\r\n"},
		{"USER-and-PASS-replies", "+OK\r\n+OK\r\n"},
		{"one-byte", "x"},
		{"TLS-record-header", "\x16\x03\x01\x00\x05"},
		{"5000-octets", strings.Repeat("A", 5000)},
	} {
		cs = append(cs, hcase{cat: "unsolicited", name: "after-STLS-" + inj.name, wantErr: true,
			server:  func(s *pop3test.Server) { s.OfferSTLS = true },
			faults:  pop3test.Faults{STLSInject: inj.data},
			account: startTLS, check: noCreds})
	}
	return cs
}

// codeCases: RFC 2449/3206 response codes at each command, and the loops of
// a server that answers every poll with one.
func codeCases() []hcase {
	codes := []struct {
		code, name string
		temp       bool
	}{
		{"[IN-USE]", "IN-USE", true}, {"[LOGIN-DELAY]", "LOGIN-DELAY", true}, {"[SYS/TEMP]", "SYS-TEMP", true},
		{"[SYS/PERM]", "SYS-PERM", false}, {"[AUTH]", "AUTH", false}, {"[X-UNKNOWN]", "unknown-code", true},
		{"[SYS/TEMP/DETAIL]", "SYS-TEMP-sub", true}, {"", "no-code", true}, {"[IN-USE", "unclosed-code", true},
	}
	var cs []hcase
	for _, cmd := range []string{"USER", "PASS", "UIDL", "LIST", "RETR 1", "DELE 1", "QUIT", "CAPA"} {
		for i, k := range codes {
			c := hcase{cat: "codes", name: k.name + "@" + cmd,
				faults:   pop3test.Faults{Replies: map[string]string{cmd: "-ERR " + k.code + " refused\r\n"}},
				fullOnly: !(cmd == "PASS" || cmd == "RETR 1" || cmd == "UIDL" || (cmd == "DELE 1" && i < 5)),
			}
			switch cmd {
			case "USER", "PASS":
				// A loop: the server refuses every poll the same way.
				c.polls, c.wantErr = 3, true
				temp := k.temp
				c.check = func(r *hrun) error {
					if r.sessions != 3 {
						return fmt.Errorf("%d sessions for 3 polls, want one each (no retry within a poll)", r.sessions)
					}
					for _, cmd := range r.commands {
						if v, _, _ := strings.Cut(cmd, " "); v == "RETR" || v == "DELE" || v == "APOP" {
							return fmt.Errorf("%q sent after the login was refused", cmd)
						}
					}
					for _, res := range r.results {
						if fetch.IsTemporary(res.Err) != temp {
							return fmt.Errorf("IsTemporary(%v) = %v, want %v", res.Err, !temp, temp)
						}
					}
					return nil
				}
			case "RETR 1":
				c.check = func(r *hrun) error {
					if res := r.results[0]; res.Err != nil || res.Fetched != 2 || res.Failed != 1 {
						return fmt.Errorf("%+v, want 2 fetched and 1 failed in a healthy session", res)
					}
					return nil
				}
			case "QUIT":
				c.wantErr = true
			}
			cs = append(cs, c)
		}
	}
	// Every command after login refused: nothing fetched, nothing deleted.
	tempAll := "-ERR [SYS/TEMP] x\r\n"
	cs = append(cs, hcase{cat: "codes", name: "SYS-TEMP-at-everything", wantErr: true,
		faults: pop3test.Faults{Replies: map[string]string{
			"UIDL": tempAll, "LIST": tempAll, "RETR": tempAll, "DELE": tempAll, "STAT": tempAll, "NOOP": tempAll,
		}},
		check: func(r *hrun) error {
			if res := r.results[0]; res.Fetched != 0 || !fetch.IsTemporary(res.Err) {
				return fmt.Errorf("%+v, want a temporary error and nothing fetched", res)
			}
			return nil
		}})
	for _, f := range []struct {
		name   string
		faults pop3test.Faults
	}{{"IN-USE-loop", pop3test.Faults{InUse: true}}, {"LOGIN-DELAY-loop", pop3test.Faults{LoginDelay: true}}} {
		cs = append(cs, hcase{cat: "codes", name: f.name, polls: 5, wantErr: true, faults: f.faults,
			check: func(r *hrun) error {
				if r.sessions != 5 {
					return fmt.Errorf("%d sessions for 5 polls", r.sessions)
				}
				for _, res := range r.results {
					if !fetch.IsTemporary(res.Err) {
						return fmt.Errorf("%v not temporary", res.Err)
					}
				}
				return nil
			}})
	}
	return cs
}

// stallCases: the server stops answering, or hangs up, at each command.
func stallCases() []hcase {
	var cs []hcase
	for _, cmd := range []string{"CAPA", "USER", "PASS", "UIDL", "LIST", "RETR 1", "RETR 2", "RETR 3", "DELE 1", "DELE 3", "QUIT"} {
		core := cmd == "PASS" || cmd == "RETR 2" || cmd == "DELE 1" || cmd == "QUIT" || cmd == "UIDL"
		cs = append(cs,
			hcase{cat: "stall", name: "stall@" + cmd, wantErr: true, faults: pop3test.Faults{StallAt: cmd}, fullOnly: !core},
			hcase{cat: "stall", name: "drop@" + cmd, wantErr: true, faults: pop3test.Faults{DropAt: cmd}, fullOnly: !core},
		)
	}
	cs = append(cs, hcase{cat: "stall", name: "drop-after-QUIT-commit", wantErr: true,
		faults: pop3test.Faults{DropAfterQuitCommit: true}})
	return cs
}
