package pop3

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	// maxReplyLine caps a status line. It is also the size of the read
	// buffer, so a longer line fails in bufio.Reader.ReadSlice before any
	// memory beyond the buffer is used. RFC 2449 §4 allows 512 octets; we
	// are generous for servers with chatty greetings.
	maxReplyLine = 64 << 10
	// maxListingLine caps one line of a LIST, UIDL or CAPA listing.
	maxListingLine = 1 << 10
)

// reply is a parsed status line.
type reply struct {
	ok   bool
	code string // RFC 2449 §8 response code, upper-cased; only on -ERR
	text string
	retr int // for a reply to RETR: the message number
}

// parseReply parses a status line without its line ending.
func parseReply(line string) (reply, error) {
	var r reply
	var rest string
	// RFC 1939 §3: the status indicator is "+OK" or "-ERR".
	// QUIRK: RFC 1939 §3 says servers MUST send them in upper case; we accept
	// any case.
	switch {
	case hasPrefixFold(line, "+OK"):
		r.ok, rest = true, line[3:]
	case hasPrefixFold(line, "-ERR"):
		rest = line[4:]
	default:
		return r, fmt.Errorf("%w: reply %q is neither +OK nor -ERR", ErrProtocol, clip(line))
	}
	// QUIRK: "+OK" with no text at all, and tabs or runs of spaces after the
	// indicator, are accepted.
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return reply{}, fmt.Errorf("%w: reply %q: no space after status indicator", ErrProtocol, clip(line))
	}
	rest = strings.Trim(sanitize(rest), " \t")
	if !r.ok {
		r.code, rest = parseRespCode(rest)
	}
	r.text = rest
	return r, nil
}

// parseRespCode splits an RFC 2449 §8 response code off text:
//
//	resp-code  = "[" resp-level *("/" resp-level) "]"
//	resp-level = 1*<any CHAR except "/" and "]">
//
// We further require levels to be printable without spaces; text that does
// not parse as a code is left alone.
func parseRespCode(text string) (code, rest string) {
	if !strings.HasPrefix(text, "[") {
		return "", text
	}
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return "", text
	}
	code = text[1:end]
	for level := range strings.SplitSeq(code, "/") {
		if level == "" {
			return "", text
		}
		for i := 0; i < len(level); i++ {
			if c := level[i]; c <= ' ' || c >= 0x7f || c == '[' {
				return "", text
			}
		}
	}
	return strings.ToUpper(code), strings.TrimLeft(text[end+1:], " \t")
}

// readLine reads one line from br and returns it without its line ending.
// The slice is only valid until the next read. Lines longer than limit
// octets (excluding the line ending) fail with ErrLineTooLong; limit must not
// exceed the reader's buffer size.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%w: more than %d octets", ErrLineTooLong, limit)
	case errors.Is(err, io.EOF) && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	// RFC 1939 §3: lines end in CRLF.
	// QUIRK: a bare LF ends a reply line too. (Never a body line: see body.go.)
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > limit {
		return nil, fmt.Errorf("%w: more than %d octets", ErrLineTooLong, limit)
	}
	return line, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// sanitize replaces control characters in server text, which ends up in
// errors and logs, so a hostile server cannot write terminal escapes there.
func sanitize(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return strings.Map(func(r rune) rune {
				if (r < ' ' && r != '\t') || r == 0x7f {
					return '?'
				}
				return r
			}, s)
		}
	}
	return s
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 80
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
