package pop3test

import (
	"maps"
	"strings"
)

// Faults scripts misbehaviour. The zero value is a well-behaved server.
//
// Command patterns (DropAt, StallAt and the keys of Replies) match a received
// command line word by word: the verb case-insensitively, then each given
// argument exactly. "DELE" matches every DELE, "RETR 2" matches "RETR 2" but
// not "RETR 20". When several Replies keys match, the longest one wins.
//
// Checks run in this order on each command line, after it has been recorded
// in Commands: DropAt, StallAt, Replies, then normal handling (where InUse,
// LoginDelay, STLSRefuse, StripSTLS and the body faults apply).
type Faults struct {
	// Sessions limits the faults to the first N sessions accepted after they
	// were installed (by Start or SetFaults); 0 means every session.
	Sessions int

	// Greeting is sent instead of the normal greeting; CRLF is appended if it
	// does not end with "\n". A "<...>" in it becomes the APOP timestamp.
	Greeting string

	// DropAt closes the connection, without a reply, on receiving a matching
	// command. Pending deletions are rolled back.
	DropAt string

	// DropAtBody, if > 0, closes the connection after that many bytes of a
	// RETR body have been sent, counted on the wire (after dot-stuffing,
	// after the "+OK" line). If the body is shorter, all of it is sent but not
	// the ".\r\n" terminator. DropAtBodyMsg selects the message number
	// (0 = any); it also selects for StallAtBody.
	DropAtBody    int64
	DropAtBodyMsg int

	// StallAt stops replying on receiving a matching command: the server
	// keeps the connection open and discards anything further the client
	// sends, until the client closes the connection or Close is called.
	// Pending deletions are rolled back and the mailbox lock released then.
	StallAt string

	// StallAtBody, if > 0, stalls (as StallAt) after that many RETR body
	// bytes, counted as for DropAtBody. With both set, the smaller count
	// wins (DropAtBody on a tie).
	StallAtBody int64

	// Replies maps a command pattern to raw bytes sent instead of the normal
	// handling (no state changes). They are sent exactly as given: include
	// the CRLFs, and the ".\r\n" of a multi-line reply if wanted.
	Replies map[string]string

	// STLSInject is written in the same write as the "+OK" reply to STLS,
	// before the TLS handshake (an RFC 2595 §4 response injection).
	STLSInject string

	// STLSRefuse makes STLS answer "-ERR [SYS/TEMP] TLS not available",
	// while CAPA still lists it.
	STLSRefuse bool

	// StripSTLS hides STLS from CAPA and answers STLS with -ERR, as a
	// downgrade attacker between client and server would.
	StripSTLS bool

	// InUse answers a correct PASS/APOP with "-ERR [IN-USE] mailbox locked".
	InUse bool

	// LoginDelay answers a correct PASS/APOP with "-ERR [LOGIN-DELAY] wait".
	LoginDelay bool

	// DropAfterQuitCommit makes QUIT in TRANSACTION state commit the
	// deletions and then close the connection without sending "+OK": the
	// client cannot know its deletions happened.
	DropAfterQuitCommit bool

	// SASL scripts a hostile AUTH exchange (sasl_faults.go).
	SASL SASLFaults
}

// clone returns a copy that shares no mutable state with f.
func (f Faults) clone() Faults {
	f.Replies = maps.Clone(f.Replies)
	return f
}

// reply returns the override for line, preferring the longest matching key.
func (f *Faults) reply(line string) (string, bool) {
	best, found := "", false
	for k := range f.Replies {
		if !matchCommand(k, line) {
			continue
		}
		if !found || len(k) > len(best) || (len(k) == len(best) && k < best) {
			best, found = k, true
		}
	}
	if !found {
		return "", false
	}
	return f.Replies[best], true
}

// bodyFault reports whether the RETR body faults apply to message num.
func (f *Faults) bodyFault(num int) bool {
	return (f.DropAtBody > 0 || f.StallAtBody > 0) &&
		(f.DropAtBodyMsg == 0 || f.DropAtBodyMsg == num)
}

// matchCommand reports whether line matches pattern: same verb (case
// folded), then pattern's arguments as a word-wise prefix of line's.
func matchCommand(pattern, line string) bool {
	pattern = strings.TrimSpace(pattern)
	if pattern == "" {
		return false
	}
	pv, pa, _ := strings.Cut(pattern, " ")
	lv, la, _ := strings.Cut(line, " ")
	if !strings.EqualFold(pv, lv) {
		return false
	}
	return pa == "" || la == pa || strings.HasPrefix(la, pa+" ")
}
