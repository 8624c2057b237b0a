package pop3test

import (
	"fmt"
	"strings"
)

// handleTransaction serves the TRANSACTION state (RFC 1939 §5, §7).
func (ss *session) handleTransaction(verb, arg string) error {
	var args []string
	if arg != "" {
		args = strings.Split(arg, " ")
	}
	switch verb {
	case "STAT":
		if len(args) != 0 {
			return ss.reply("-ERR STAT takes no argument")
		}
		n, size := ss.stat()
		return ss.reply("+OK %d %d", n, size)
	case "LIST", "UIDL":
		return ss.listing(verb, args)
	case "RETR":
		if len(args) != 1 {
			return ss.reply("-ERR usage: RETR msg")
		}
		return ss.withMessage(args[0], ss.retr)
	case "TOP":
		if len(args) != 2 {
			return ss.reply("-ERR usage: TOP msg lines")
		}
		lines, ok := parseNumber(args[1], 0)
		if !ok {
			return ss.reply("-ERR invalid line count")
		}
		return ss.withMessage(args[0], func(num int) error {
			m := ss.msgs[num-1]
			return ss.send("+OK top of message follows\r\n" + string(stuff(top(m.body, lines))) + ".\r\n")
		})
	case "DELE":
		if len(args) != 1 {
			return ss.reply("-ERR usage: DELE msg")
		}
		return ss.withMessage(args[0], func(num int) error {
			ss.deleted[num-1] = true
			return ss.reply("+OK message %d deleted", num)
		})
	case "RSET":
		clear(ss.deleted)
		n, size := ss.stat()
		return ss.reply("+OK maildrop has %d messages (%d octets)", n, size)
	case "NOOP":
		return ss.reply("+OK")
	case "USER", "PASS", "APOP", "STLS":
		return ss.reply("-ERR not valid in TRANSACTION state")
	}
	return ss.reply("-ERR unknown command")
}

// stat counts the messages not marked deleted and their octets.
func (ss *session) stat() (n int, size int64) {
	for i, m := range ss.msgs {
		if !ss.deleted[i] {
			n++
			size += int64(len(m.body))
		}
	}
	return n, size
}

// listing serves LIST and UIDL, with or without a message number.
func (ss *session) listing(verb string, args []string) error {
	entry := func(num int) string {
		m := ss.msgs[num-1]
		if verb == "LIST" {
			return fmt.Sprintf("%d %d", num, len(m.body))
		}
		return fmt.Sprintf("%d %s", num, m.uid)
	}
	switch len(args) {
	case 0:
		var lines []string
		for i := range ss.msgs {
			if !ss.deleted[i] {
				lines = append(lines, entry(i+1))
			}
		}
		if verb == "LIST" {
			n, size := ss.stat()
			return ss.multi(fmt.Sprintf("+OK %d messages (%d octets)", n, size), lines)
		}
		return ss.multi("+OK unique-id listing follows", lines)
	case 1:
		return ss.withMessage(args[0], func(num int) error {
			return ss.reply("+OK %s", entry(num))
		})
	}
	return ss.reply("-ERR usage: %s [msg]", verb)
}

// withMessage runs fn with a valid message number, or answers -ERR: a
// number out of range, or a message marked deleted (RFC 1939 §5).
func (ss *session) withMessage(arg string, fn func(num int) error) error {
	num, ok := parseNumber(arg, 1)
	if !ok || num > len(ss.msgs) {
		return ss.reply("-ERR no such message")
	}
	if ss.deleted[num-1] {
		return ss.reply("-ERR no such message: %d is marked deleted", num)
	}
	return fn(num)
}

// retr sends a message, applying the body faults.
func (ss *session) retr(num int) error {
	m := ss.msgs[num-1]
	wire := stuff(m.body)
	if err := ss.send(fmt.Sprintf("+OK %d octets\r\n", len(m.body))); err != nil {
		return err
	}
	if ss.f.bodyFault(num) {
		drop, stallAt := ss.f.DropAtBody, ss.f.StallAtBody
		stall := stallAt > 0 && (drop <= 0 || stallAt < drop)
		limit := drop
		if stall {
			limit = stallAt
		}
		limit = min(limit, int64(len(wire)))
		if err := ss.sendBody(wire[:limit], nil); err != nil {
			return err
		}
		if stall {
			return ss.stall()
		}
		return errEnd
	}
	// Count before the write that ends the body, so that a client which has
	// read the terminator sees the count; a failed write takes it back.
	s := ss.srv
	count := func(d int) {
		s.mu.Lock()
		s.retrieved[m.uid] += d
		if s.retrieved[m.uid] == 0 {
			delete(s.retrieved, m.uid)
		}
		s.mu.Unlock()
	}
	counted := false
	err := ss.sendBody(append(wire, ".\r\n"...), func() { count(1); counted = true })
	if err != nil && counted {
		count(-1)
	}
	return err
}

// parseNumber parses a decimal number of at most 9 digits, no sign, that is
// at least lowest.
func parseNumber(s string, lowest int) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= lowest
}
