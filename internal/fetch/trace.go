package fetch

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// headerPeek bounds how much of a message is looked at for its header
// fields; a header longer than this is treated as having no Return-Path.
const headerPeek = 64 << 10

// returnPath finds the Return-Path field in a message's header (RFC 5322
// §3.6.7) and returns its address without angle brackets. ok is false when
// the field is absent or unreadable; an empty address with ok true is the
// null sender "<>".
func returnPath(head []byte) (addr string, ok bool) {
	var value []byte
	inField := false
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil // a header cut by the peek limit: the last line may be partial
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of the header
		}
		if line[0] == ' ' || line[0] == '\t' {
			if inField {
				value = append(value, line...) // RFC 5322 §2.2.3: unfold
			}
			continue
		}
		if inField {
			break // the first Return-Path field is the one the last MTA wrote
		}
		colon := bytes.IndexByte(line, ':')
		if colon > 0 && strings.EqualFold(string(bytes.TrimRight(line[:colon], " \t")), "Return-Path") {
			inField = true
			value = append(value, line[colon+1:]...)
		}
	}
	if !inField {
		return "", false
	}
	v := strings.TrimSpace(string(value))
	lt, gt := strings.IndexByte(v, '<'), strings.LastIndexByte(v, '>')
	if lt < 0 || gt < lt {
		return "", false
	}
	addr = strings.TrimSpace(v[lt+1 : gt])
	if strings.ContainsAny(addr, "<>\r\n\x00 \t") {
		return "", false
	}
	return addr, true
}

// received builds the value of the Received field fetchd adds, in the shape
// fetchmail's users know:
//
//	from pop.example.com by myhost with POP3S (fetchd v1.0)
//		for <alice@example.com>; Thu, 26 Nov 2026 06:00:00 +0000
func received(server, hostname, protocol, version, rcpt string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from %s by %s with %s (fetchd %s)", server, hostname, protocol, version)
	if rcpt != "" {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", rcpt)
	}
	fmt.Fprintf(&b, ";\r\n\t%s", now.Format(time.RFC1123Z))
	return b.String()
}
