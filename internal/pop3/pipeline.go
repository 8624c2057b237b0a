package pop3

import (
	"fmt"
	"strconv"
	"strings"
)

// replyKind says how the reply to a command is read.
type replyKind int

const (
	replySingle replyKind = iota // a status line
	replyMulti                   // a status line, and after +OK a dot-terminated listing
	replyBody                    // a status line, and after +OK a body read by a retrBody
)

// RFC 2449 §4: a command is at most 255 octets including CRLF.
const maxCommandLen = 255

// command is one command to send and how to read its reply.
type command struct {
	verb string
	args []string
	// secretArg is the 1-based position of an argument (and all after it)
	// that is never traced nor put in an error; 0 = none.
	secretArg int
	kind      replyKind
	// onLine, for replyMulti, receives each listing line, dot-unstuffed,
	// without line ending; the slice is only valid during the call.
	onLine func(line []byte) error
	// limit, for replyMulti, bounds the listing (limits.go).
	limit listingLimit
	// num and size, for a RETR, are the message and its listed size (-1:
	// unknown), for the pipelining window.
	num  int
	size int64
	// done, when set, receives the outcome of a single-line reply read
	// after the call that sent the command returned (DeleAsync).
	done func(error)
}

// line returns the command line without CRLF, or ErrInvalidArgument. The
// error never contains a secret argument.
func (cmd *command) line() (string, error) {
	for i, a := range cmd.args {
		// No CR, LF or NUL: an argument must not end the command early
		// and smuggle in another one.
		if strings.ContainsAny(a, "\r\n\x00") {
			what := fmt.Sprintf("%q", a)
			if cmd.secretArg > 0 && i >= cmd.secretArg-1 {
				what = "the secret"
			}
			return "", fmt.Errorf("%w: %s argument %s contains CR, LF or NUL", ErrInvalidArgument, cmd.verb, what)
		}
	}
	l := cmd.verb
	if len(cmd.args) > 0 {
		l += " " + strings.Join(cmd.args, " ")
	}
	// RFC 2449 §4: commands are at most 255 octets including CRLF.
	if len(l)+2 > maxCommandLen {
		return "", fmt.Errorf("%w: %s command would be %d octets, more than %d", ErrInvalidArgument, cmd.verb, len(l)+2, maxCommandLen)
	}
	return l, nil
}

// traceLine is the command line as Trace sees it.
func (cmd *command) traceLine(line string) string {
	if cmd.secretArg == 0 {
		return line
	}
	return strings.Join(append([]string{cmd.verb}, cmd.args[:cmd.secretArg-1]...), " ") + " <redacted>"
}

// send validates cmd and buffers it for writing; nothing reaches the network
// until flush. A validation error leaves the client usable. When no command
// is outstanding, whatever the server sent since the last reply is unasked
// and breaks the client (idle.go).
func (c *Client) send(cmd command) error {
	l, err := cmd.line()
	if err != nil {
		return err
	}
	if len(c.pending) == 0 {
		if err := c.expectIdle(true); err != nil {
			return err
		}
	}
	c.bw.WriteString(l)
	c.bw.WriteString("\r\n")
	c.trace("C", cmd.traceLine(l))
	c.pending = append(c.pending, cmd)
	return nil
}

// flush writes the buffered commands.
func (c *Client) flush() error {
	if err := c.bw.Flush(); err != nil {
		return c.fail(fmt.Errorf("write command: %w", err))
	}
	return nil
}

// roundTrip sends cmd and reads its reply. With PIPELINING it becomes: send
// each command, flush once, readReply once per command.
func (c *Client) roundTrip(cmd command) (reply, error) {
	if err := c.send(cmd); err != nil {
		return reply{}, err
	}
	if err := c.flush(); err != nil {
		return reply{}, err
	}
	// Replies owed to commands sent before (DELEs of DeleAsync, RETRs
	// sent ahead) come first.
	for len(c.pending) > 1 {
		if _, err := c.readOwed(); err != nil && c.broken != nil {
			return reply{}, err
		}
	}
	return c.readReply()
}

// readReply reads the reply to the oldest pending command: its status line,
// and for replyMulti its listing. A -ERR is returned as *Error and leaves
// the client usable; anything else that goes wrong breaks it, and so do
// octets that follow a complete reply unasked (idle.go). For replyBody the
// reply goes on with the body, which retrBody reads to its end.
func (c *Client) readReply() (reply, error) {
	if len(c.pending) == 0 {
		return reply{}, c.fail(fmt.Errorf("%w: reply read with no command pending", ErrProtocol))
	}
	cmd := c.pending[0]
	c.pending = c.pending[1:]
	// Each reply gets a fresh throughput window; a RETR body a new one.
	c.dc.startMeter()
	defer c.dc.stopMeter()
	b, err := readLine(c.br, maxReplyLine)
	if err != nil {
		return reply{}, c.fail(fmt.Errorf("read reply: %w", err))
	}
	line := string(b)
	if c.secret != "" {
		// A server that echoes the password must not put it in our logs.
		line = strings.ReplaceAll(line, c.secret, "<redacted>")
	}
	c.trace("S", line)
	r, err := parseReply(line)
	if err != nil {
		return reply{}, c.fail(fmt.Errorf("read reply: %w", err))
	}
	switch {
	case !r.ok:
		err = &Error{Command: cmd.verb, Code: r.code, Text: r.text}
	case cmd.kind == replyBody:
		return r, nil // the body follows; retrBody ends the reply
	case cmd.kind == replyMulti:
		if err = c.readListing(cmd); c.broken != nil {
			return r, err
		}
	}
	if ierr := c.replyDone(cmd.verb); ierr != nil {
		return r, ierr
	}
	return r, err
}

// readListing reads a multi-line reply to its terminating "." line. A line
// that onLine rejects does not break the client: the rest of the listing is
// read so the stream stays in step, and the first such error is returned.
// A listing past cmd.limit breaks it.
func (c *Client) readListing(cmd command) error {
	var firstErr error
	cost := 0
	for n := 1; ; n++ {
		b, err := readLine(c.br, maxListingLine)
		if err != nil {
			return c.fail(fmt.Errorf("read %s listing: %w", cmd.verb, err))
		}
		// RFC 1939 §3: a line of a single "." ends a multi-line response;
		// a line starting with "." has had a dot prepended (byte-stuffing).
		if len(b) == 1 && b[0] == '.' {
			return firstErr
		}
		if len(b) > 0 && b[0] == '.' {
			b = b[1:]
		}
		// Counted before onLine stores anything, and whether it does or
		// not: after a bad line onLine is no longer called.
		cost += cmd.limit.cost(b)
		if err := cmd.limit.check(cmd.verb, n, cost); err != nil {
			return c.fail(err)
		}
		if firstErr == nil && cmd.onLine != nil {
			if err := cmd.onLine(b); err != nil {
				firstErr = fmt.Errorf("%w: %s listing line %d: %v", ErrProtocol, cmd.verb, n, err)
			}
		}
	}
}

// The pipelining window (RFC 2449 §6.6): how many RETRs, and how many listed
// octets of them, may be outstanding ahead of the one being read. Commands
// are written by the client's own goroutine, never more than
// maxAhead+maxDeleAhead short lines (a few KB) ahead of the replies read:
// far less than what the socket buffers of both ends hold, so the server
// can never block writing replies while we block writing commands, the
// deadlock §6.6 warns about.
const (
	maxAhead      = 32
	maxAheadBytes = 4 << 20
	maxDeleAhead  = 256
)

// Pipelining reports whether the server announced PIPELINING (RFC 2449
// §6.6): then commands are sent without waiting for earlier replies.
func (c *Client) Pipelining() bool { return c.caps.Has("PIPELINING") }

// PlanRetr tells the client which messages Retr will be asked for next, in
// order. With PIPELINING their RETRs are sent ahead, within a window bounded
// by count and listed size, while earlier bodies are still being read.
// Retr may still be asked for any message: one not at the head of the plan
// drops the planned ones before it, and RETRs already sent for messages it
// skips are read and discarded. Without PIPELINING the plan is ignored.
func (c *Client) PlanRetr(msgs []MessageInfo) {
	c.plan = append(c.plan[:0], msgs...)
	c.planAt = make(map[int]int, len(msgs))
	for i, m := range msgs {
		c.planAt[m.Num] = i
	}
	c.planHead = 0
}

// ahead counts the RETRs sent and not yet answered, and their listed octets.
func (c *Client) ahead() (n int, size int64) {
	for _, cmd := range c.pending {
		if cmd.kind == replyBody {
			n++
			size += max(cmd.size, 0)
		}
	}
	return n, size
}

// pendingRetr reports whether a RETR num was sent and not yet answered.
func (c *Client) pendingRetr(num int) bool {
	for _, cmd := range c.pending {
		if cmd.kind == replyBody && cmd.num == num {
			return true
		}
	}
	return false
}

// advancePlan drops the planned messages up to and including num, when num
// is planned and not yet sent.
func (c *Client) advancePlan(num int) {
	if i, ok := c.planAt[num]; ok && i >= c.planHead {
		c.planHead = i + 1
	}
}

// fillWindow sends planned RETRs ahead while the window allows; they go out
// with the next flush.
func (c *Client) fillWindow() error {
	if !c.Pipelining() {
		return nil
	}
	n, size := c.ahead()
	for c.planHead < len(c.plan) && n < maxAhead && (n == 0 || size+max(c.plan[c.planHead].Size, 0) <= maxAheadBytes) {
		m := c.plan[c.planHead]
		c.planHead++
		if err := c.send(retrCommand(m.Num, m.Size)); err != nil {
			return err
		}
		n++
		size += max(m.Size, 0)
	}
	return nil
}

func retrCommand(num int, size int64) command {
	return command{verb: "RETR", args: []string{strconv.Itoa(num)}, kind: replyBody, num: num, size: size}
}

// retrReply reads up to the status line of the reply to RETR num, whose
// body follows. Replies owed before it are read first: those to DELEs sent
// by DeleAsync go to their done, and the bodies of RETRs sent ahead for
// messages the caller skipped are discarded.
func (c *Client) retrReply(num int) (reply, error) {
	c.advancePlan(num)
	if !c.pendingRetr(num) {
		if err := c.send(retrCommand(num, -1)); err != nil {
			return reply{}, err
		}
	}
	if err := c.fillWindow(); err != nil {
		return reply{}, err
	}
	if err := c.flush(); err != nil {
		return reply{}, err
	}
	c.wantRetr = num
	defer func() { c.wantRetr = 0 }()
	for {
		r, err := c.readOwed()
		if err != nil && c.broken != nil {
			return r, err
		}
		if r.retr == num {
			return r, err
		}
	}
}

// readOwed reads the reply to the oldest pending command when nobody waits
// for it in particular: a DELE's goes to its done, and the body of a RETR
// sent ahead for a message the caller then skipped is discarded. For a RETR
// it returns with the body unread, r.retr naming the message, when the
// status was +OK; the caller reads the body or discards it.
func (c *Client) readOwed() (reply, error) {
	head := c.pending[0]
	r, err := c.readReply()
	switch {
	case head.kind == replyBody:
		r.retr = head.num
		if err == nil && head.num != c.wantRetr {
			if derr := c.discardBody(head.num); derr != nil {
				return r, derr
			}
		}
	case head.done != nil && c.broken == nil:
		head.done(err)
	}
	return r, err
}

// discardBody reads the body of a RETR nobody asked for to its end.
func (c *Client) discardBody(num int) error {
	c.dc.startMeter() // ends in release
	b := &retrBody{c: c, op: fmt.Sprintf("retr %d (sent ahead, not needed)", num), stop: func() {},
		r: newBodyReader(c.br, c.cfg.MaxLineLength, c.cfg.MaxMessageSize)}
	c.body = b
	return b.Close()
}
