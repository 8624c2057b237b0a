package pop3

import (
	"fmt"
	"math"
	"time"
	"unsafe"
)

// What a hostile server may cost us. A server decides how much it sends; these
// bounds decide how much of it we hold, and for how long we listen.

// listingLimit bounds one multi-line reply (LIST, UIDL, CAPA). Past it the
// listing is refused and the client broken: reading on would hold memory
// without end, and stopping halfway leaves the stream out of step.
type listingLimit struct {
	lines     int    // most lines
	heap      int    // most memory the stored lines may cost
	perLine   int    // what storing a line costs besides its octets
	keepsLine bool   // the stored entry keeps the line's octets
	unit      string // what a line lists, for the error
}

// A LIST or UIDL entry is a MessageInfo (32 octets), and for UIDL the
// listing line its UID was cut from. At most 500,000 entries, and for UIDL
// 16 MiB for the entries and their lines, keep a listing under ~32 MiB of
// heap at its largest: when the entries collected are copied into the slice
// returned. A real maildrop of 500,000 messages, fetched over POP3, is
// unheard of: the largest seen hold tens of thousands. 100,000 messages
// cost 3 MiB in LIST, and 10.5 MiB in UIDL with 70-octet UIDs.
var (
	listListing = listingLimit{lines: 500_000, heap: 500_000 * entrySize, perLine: entrySize, unit: "messages"}
	uidlListing = listingLimit{lines: 500_000, heap: 16 << 20, perLine: entrySize, keepsLine: true, unit: "messages"}
	// RFC 2449 §5: servers announce a dozen or two capabilities.
	capaListing = listingLimit{lines: 256, heap: 64 << 10, keepsLine: true, unit: "capabilities"}
)

const entrySize = int(unsafe.Sizeof(MessageInfo{}))

// cost is what storing line costs.
func (l listingLimit) cost(line []byte) int {
	if l.keepsLine {
		return l.perLine + len(line)
	}
	return l.perLine
}

// check returns the error for a listing that has reached n lines costing
// cost in all, or nil while it is within the limit.
func (l listingLimit) check(verb string, n, cost int) error {
	switch {
	case n > l.lines:
		return fmt.Errorf("%w: server lists more than %d %s in reply to %s; fetchd refuses such a listing", ErrProtocol, l.lines, l.unit, verb)
	case cost > l.heap:
		return fmt.Errorf("%w: server's %s listing would take more than %d KiB of memory (%d %s so far); fetchd refuses such a listing", ErrProtocol, verb, l.heap>>10, n, l.unit)
	}
	return nil
}

// When a RETR body is closed before its end (the caller stopped reading, or
// it hit MaxMessageSize or MaxLineLength), Close reads and discards the rest
// so that the next command's reply is read in step: one oversized message
// must not block the rest of the maildrop. Discarding holds no memory, but a
// server that streams forever would hold the poll until the session limit,
// so the drain is bounded in octets and in time; past either the connection
// is dropped (ErrBroken) and the message stays on the server.
const (
	// minDrain is the least drained with a MaxMessageSize, however small.
	minDrain = 1 << 20
	// drainUncapped is the drain bound without MaxMessageSize.
	drainUncapped = 256 << 20
	// minDrainTime is the least time a drain may take.
	minDrainTime = 2 * time.Minute
)

// drainLimits returns how many octets Close may discard, and for how long:
// 4 × MaxMessageSize (at least minDrain; drainUncapped without a cap) —
// enough for a server whose LIST size understated the message (LF against
// CRLF counts) — within 4 × Timeout or minDrainTime, whichever is longer.
func (cfg *Config) drainLimits() (octets int64, d time.Duration) {
	octets = drainUncapped
	if m := cfg.MaxMessageSize; m > 0 {
		octets = max(min(m, math.MaxInt64/4)*4, minDrain)
	}
	return octets, max(4*cfg.Timeout, minDrainTime)
}
