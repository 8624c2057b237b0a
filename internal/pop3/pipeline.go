package pop3

import (
	"fmt"
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
