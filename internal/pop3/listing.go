package pop3

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxUIDLen is how long a unique-id may be. RFC 1939 §7 says 1 to 70
// octets. QUIRK: some servers send longer ones; we accept up to 512.
const maxUIDLen = 512

// parseNumber parses a decimal number of digits only: no sign, no space.
func parseNumber(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("bad number %q", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("bad number %q", clip(s))
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

func parseMsgNum(s string) (int, error) {
	n, err := parseNumber(s)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > 1<<31-1 {
		return 0, fmt.Errorf("message number %d out of range", n)
	}
	return int(n), nil
}

// splitField splits the first space-separated field off s.
// QUIRK: runs of spaces between fields are accepted.
func splitField(s string) (first, rest string) {
	first, rest, _ = strings.Cut(s, " ")
	return first, strings.TrimLeft(rest, " ")
}

// parseScanLine parses a scan listing (RFC 1939 §5 LIST):
// "msg size", then anything (RFC 1939 §5 leaves what follows the size open).
func parseScanLine(line string) (MessageInfo, error) {
	numS, rest := splitField(line)
	num, err := parseMsgNum(numS)
	if err != nil {
		return MessageInfo{}, err
	}
	sizeS, _ := splitField(rest)
	size, err := parseNumber(sizeS)
	if err != nil {
		return MessageInfo{}, fmt.Errorf("message %d: size: %w", num, err)
	}
	return MessageInfo{Num: num, Size: size}, nil
}

// parseUIDLine parses a unique-id listing line (RFC 1939 §7 UIDL): "msg uid".
func parseUIDLine(line string) (MessageInfo, error) {
	numS, uid := splitField(line)
	num, err := parseMsgNum(numS)
	if err != nil {
		return MessageInfo{}, err
	}
	uid = strings.TrimRight(uid, " ")
	if err := checkUID(uid); err != nil {
		return MessageInfo{}, fmt.Errorf("message %d: %w", num, err)
	}
	return MessageInfo{Num: num, Size: -1, UID: uid}, nil
}

// checkUID enforces RFC 1939 §7: a unique-id is 1 to 70 octets in
// 0x21-0x7E. QUIRK: we accept up to maxUIDLen octets, inner spaces and
// 8-bit octets, since rejecting them would make the whole maildrop
// unfetchable; control characters are refused as they could not be stored
// or logged safely.
func checkUID(uid string) error {
	if uid == "" {
		return errors.New("empty unique-id")
	}
	if len(uid) > maxUIDLen {
		return fmt.Errorf("unique-id of %d octets, more than %d", len(uid), maxUIDLen)
	}
	for i := 0; i < len(uid); i++ {
		if c := uid[i]; c < ' ' || c == 0x7f {
			return fmt.Errorf("unique-id %q contains a control character", clip(uid))
		}
	}
	return nil
}

// parseStat parses the text of a +OK to STAT (RFC 1939 §5): "nn mm".
// QUIRK: anything after the size is ignored.
func parseStat(text string) (count int, size int64, err error) {
	countS, rest := splitField(text)
	n, err := parseNumber(countS)
	if err != nil || n > 1<<31-1 {
		return 0, 0, fmt.Errorf("%w: STAT reply %q: bad message count", ErrProtocol, clip(text))
	}
	sizeS, _ := splitField(rest)
	size, err = parseNumber(sizeS)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: STAT reply %q: bad maildrop size", ErrProtocol, clip(text))
	}
	return int(n), size, nil
}

// entries collects a listing in chunks, then copies them into one slice of
// the exact length. Appending to one slice would leave each array it
// outgrew behind as garbage: for a long listing several times its size.
type entries struct {
	chunks [][]MessageInfo
	n      int
}

func (e *entries) add(mi MessageInfo) {
	if k := len(e.chunks); k == 0 || len(e.chunks[k-1]) == cap(e.chunks[k-1]) {
		e.chunks = append(e.chunks, make([]MessageInfo, 0, min(max(e.n, 16), 4096)))
	}
	last := &e.chunks[len(e.chunks)-1]
	*last = append(*last, mi)
	e.n++
}

func (e *entries) all() []MessageInfo {
	switch len(e.chunks) {
	case 0:
		return nil
	case 1:
		return e.chunks[0]
	}
	all := make([]MessageInfo, 0, e.n)
	for _, c := range e.chunks {
		all = append(all, c...)
	}
	return all
}
