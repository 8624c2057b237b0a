package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"fetchd/internal/crashpoint"
)

// Stat returns the number of messages and their total size (RFC 1939 §5).
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	r, err := c.simple(ctx, "stat", true, command{verb: "STAT"})
	if err != nil {
		return 0, 0, err
	}
	count, size, err = parseStat(r.text)
	if err != nil {
		return 0, 0, fmt.Errorf("stat: %w", err)
	}
	return count, size, nil
}

// List returns the scan listing (RFC 1939 §5 LIST without argument), in the
// server's order. UID is "".
func (c *Client) List(ctx context.Context) ([]MessageInfo, error) {
	return c.listing(ctx, "list", "LIST", listListing, parseScanLine)
}

// UIDL returns the unique-id listing (RFC 1939 §7 UIDL without argument),
// in the server's order, duplicates included. Size is -1. A server that
// answers -ERR gives ErrNoUIDL (wrapping the *Error), unless the -ERR carries
// a temporary response code.
func (c *Client) UIDL(ctx context.Context) ([]MessageInfo, error) {
	msgs, err := c.listing(ctx, "uidl", "UIDL", uidlListing, parseUIDLine)
	var pe *Error
	if errors.As(err, &pe) && !pe.hasTempCode() {
		return nil, fmt.Errorf("uidl: %w: %w", ErrNoUIDL, pe)
	}
	return msgs, err
}

// UIDLAndList returns the unique-id and the scan listings, as UIDL and List
// do; with PIPELINING both commands go out together, saving a round trip.
// uidlErr is what UIDL would have returned as its error (ErrNoUIDL for a
// server without UIDL); err is List's, or the connection's.
func (c *Client) UIDLAndList(ctx context.Context) (uidl []MessageInfo, uidlErr error, list []MessageInfo, err error) {
	if !c.Pipelining() {
		uidl, uidlErr = c.UIDL(ctx)
		if uidlErr != nil && c.broken != nil {
			return nil, uidlErr, nil, uidlErr
		}
		list, err = c.List(ctx)
		return uidl, uidlErr, list, err
	}
	stop, err := c.begin(ctx, "uidl", true)
	if err != nil {
		return nil, err, nil, err
	}
	defer stop()
	read, err := c.sendListings()
	if err != nil {
		return nil, err, nil, err
	}
	return read()
}

// sendListings queues UIDL and LIST, and returns what reads their replies
// (after the replies owed before them), as UIDLAndList returns them.
func (c *Client) sendListings() (read func() ([]MessageInfo, error, []MessageInfo, error), err error) {
	var uids, scan entries
	collect := func(into *entries, parse func(string) (MessageInfo, error)) func([]byte) error {
		return func(line []byte) error {
			mi, err := parse(string(line))
			if err != nil {
				return err
			}
			into.add(mi)
			return nil
		}
	}
	err = c.send(command{verb: "UIDL", kind: replyMulti, limit: uidlListing, onLine: collect(&uids, parseUIDLine)})
	if err == nil {
		err = c.send(command{verb: "LIST", kind: replyMulti, limit: listListing, onLine: collect(&scan, parseScanLine)})
	}
	if err != nil {
		return nil, fmt.Errorf("uidl: %w", err)
	}
	return func() (uidl []MessageInfo, uidlErr error, list []MessageInfo, err error) {
		err = c.flush()
		for len(c.pending) > 2 && err == nil {
			if _, oerr := c.readOwed(); oerr != nil && c.broken != nil {
				err = oerr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("uidl: %w", err), nil, fmt.Errorf("uidl: %w", err)
		}
		if _, uidlErr = c.readReply(); uidlErr != nil {
			uidlErr = fmt.Errorf("uidl: %w", uidlErr)
			var pe *Error
			if errors.As(uidlErr, &pe) && !pe.hasTempCode() {
				uidlErr = fmt.Errorf("uidl: %w: %w", ErrNoUIDL, pe)
			}
			if c.broken != nil {
				return nil, uidlErr, nil, uidlErr
			}
		} else {
			uidl = uids.all()
		}
		if _, err = c.readReply(); err != nil {
			return uidl, uidlErr, nil, fmt.Errorf("list: %w", err)
		}
		return uidl, uidlErr, scan.all(), nil
	}, nil
}

func (c *Client) listing(ctx context.Context, op, verb string, limit listingLimit, parse func(string) (MessageInfo, error)) ([]MessageInfo, error) {
	var msgs entries
	_, err := c.simple(ctx, op, true, command{verb: verb, kind: replyMulti, limit: limit, onLine: func(line []byte) error {
		mi, err := parse(string(line))
		if err != nil {
			return err
		}
		msgs.add(mi)
		return nil
	}})
	if err != nil {
		return nil, err
	}
	return msgs.all(), nil
}

// Dele marks message num deleted (RFC 1939 §5). The server removes it only
// when QUIT is answered with +OK.
func (c *Client) Dele(ctx context.Context, num int) error {
	return c.numbered(ctx, "dele", "DELE", num)
}

// Rset unmarks all messages marked deleted (RFC 1939 §5).
func (c *Client) Rset(ctx context.Context) error {
	_, err := c.simple(ctx, "rset", true, command{verb: "RSET"})
	return err
}

// Noop does nothing; it checks the connection is alive (RFC 1939 §5).
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.simple(ctx, "noop", true, command{verb: "NOOP"})
	return err
}

func (c *Client) numbered(ctx context.Context, op, verb string, num int) error {
	if verb == "DELE" {
		c.deleSent = true
	}
	op = fmt.Sprintf("%s %d", op, num)
	if num < 1 {
		return fmt.Errorf("%s: %w: message numbers start at 1", op, ErrInvalidArgument)
	}
	_, err := c.simple(ctx, op, true, command{verb: verb, args: []string{strconv.Itoa(num)}})
	return err
}

// DeleAsync marks message num deleted, like Dele. With PIPELINING it
// returns once the command is queued, and done receives the outcome when
// the reply is read: by a later Retr, DeleAsync or Quit, in the order sent.
// done is never called when the connection broke first: then the deletion
// may not have happened. Without PIPELINING it waits, and calls done before
// returning. The error returned is for the connection only (a -ERR goes to
// done).
func (c *Client) DeleAsync(ctx context.Context, num int, done func(error)) error {
	if !c.Pipelining() {
		err := c.Dele(ctx, num)
		var pe *Error
		if err == nil || errors.As(err, &pe) {
			done(err)
			return nil
		}
		return err
	}
	op := fmt.Sprintf("dele %d", num)
	if num < 1 {
		return fmt.Errorf("%s: %w: message numbers start at 1", op, ErrInvalidArgument)
	}
	stop, err := c.begin(ctx, op, true)
	if err != nil {
		return err
	}
	defer stop()
	if err := c.send(command{verb: "DELE", args: []string{strconv.Itoa(num)}, done: func(err error) {
		if err != nil {
			err = fmt.Errorf("%s: %w", op, err)
		}
		done(err)
	}}); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	c.deleSent = true
	// Replies already owed are read as they come, so DELEs never pile up
	// past the window; the rest are read by the next command that waits.
	for c.owedDeles() > maxDeleAhead {
		if err := c.flush(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if _, err := c.readOwed(); err != nil && c.broken != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return nil
}

// owedDeles counts the pending commands with a done.
func (c *Client) owedDeles() int {
	n := 0
	for _, cmd := range c.pending {
		if cmd.done != nil {
			n++
		}
	}
	return n
}

// Quit ends the session (RFC 1939 §6) and closes the connection. The server
// removes the messages marked deleted when it answers +OK; any error means
// that may not have happened: deletions may be rolled back, and the caller
// must not record them as done. Replies still owed are read first (DELEs'
// go to their done; the bodies of RETRs sent ahead and not asked for are
// discarded).
func (c *Client) Quit(ctx context.Context) error {
	defer c.Close()
	stop, err := c.begin(ctx, "quit", false)
	if err != nil {
		return fmt.Errorf("%w (deletions not confirmed)", err)
	}
	defer stop()
	c.plan, c.planAt = nil, nil
	err = c.send(command{verb: "QUIT"})
	if err == nil {
		err = c.flush()
	}
	if err == nil {
		// The server may commit the deletions from here on, and we may
		// never hear of it: the crash campaigns stop here.
		crashpoint.Hit(ctx, "quit.sent")
		for len(c.pending) > 1 && err == nil {
			if _, oerr := c.readOwed(); oerr != nil && c.broken != nil {
				err = oerr
			}
		}
	}
	if err == nil {
		_, err = c.readReply()
	}
	if err != nil {
		return fmt.Errorf("quit: deletions not confirmed: %w", err)
	}
	return nil
}

// QuitNoWait ends a session that deleted nothing: it sends QUIT and closes
// without waiting for the answer, which could only confirm deletions. After
// a DELE it is Quit.
func (c *Client) QuitNoWait(ctx context.Context) error {
	if c.deleSent {
		return c.Quit(ctx)
	}
	defer c.Close()
	stop, err := c.begin(ctx, "quit", false)
	if err != nil {
		return err
	}
	defer stop()
	c.plan, c.planAt = nil, nil
	if err := c.send(command{verb: "QUIT"}); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	if err := c.flush(); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}

// Retr starts retrieving message num (RFC 1939 §5). The body is streamed:
// read it to io.EOF, then Close it. It is the message as sent, line ends
// CRLF, with the dot-stuffing removed and every other octet kept. Close
// reads and discards what was not read so the connection stays in step,
// within bounds (Config.drainLimits); if that fails the client is broken. Starting another command closes an
// unclosed body first. ctx covers reading the body until Close.
func (c *Client) Retr(ctx context.Context, num int) (io.ReadCloser, error) {
	op := fmt.Sprintf("retr %d", num)
	if num < 1 {
		return nil, fmt.Errorf("%s: %w: message numbers start at 1", op, ErrInvalidArgument)
	}
	stop, err := c.begin(ctx, op, true)
	if err != nil {
		return nil, err
	}
	if _, err := c.retrReply(num); err != nil {
		stop()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	c.dc.startMeter() // ends in release
	b := &retrBody{c: c, op: op, stop: stop, r: newBodyReader(c.br, c.cfg.MaxLineLength, c.cfg.MaxMessageSize)}
	c.body = b
	return b, nil
}

// retrBody is the reply to RETR after its +OK: it ties a bodyReader to the
// client's state.
type retrBody struct {
	c      *Client
	op     string
	r      *bodyReader
	stop   func() // ends the context watch begun by Retr
	err    error  // sticky, wrapped with op
	done   bool   // the terminator was read
	closed bool
}

func (b *retrBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, fmt.Errorf("%s: read after close", b.op)
	}
	if b.done {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		b.done = true
		b.release()
		// Octets after the terminator came unasked: the client is broken
		// and sends nothing more (no DELE). The body itself was framed
		// correctly, and is passed on.
		b.c.replyDone("RETR")
	case err != nil:
		b.err = fmt.Errorf("%s: read body: %w", b.op, err)
		if !errors.Is(err, ErrLineTooLong) && !errors.Is(err, ErrMessageTooLarge) {
			// An I/O error or a timeout: the stream is lost.
			b.c.fail(b.err)
		}
		err = b.err
	}
	return n, err
}

// Close discards the rest of the body, without holding it in memory, so
// that the next command's reply is read in step. It gives up, breaking the
// client, past the bounds of Config.drainLimits.
func (b *retrBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	defer b.release()
	if b.done {
		return nil
	}
	if errors.Is(b.err, ErrLineTooLong) || errors.Is(b.err, ErrMessageTooLarge) {
		// The caps protect the caller's memory; discarding holds nothing,
		// so the rest of the message is drained and the session stays
		// usable for the messages after this one.
		b.r.err, b.err = nil, nil
	}
	if b.err == nil {
		if err := b.drain(b.c.cfg.drainLimits()); err != nil {
			b.err = fmt.Errorf("%s: drain body: %w", b.op, err)
		} else if err := b.c.replyDone("RETR"); err != nil {
			b.err = fmt.Errorf("%s: %w", b.op, err)
		}
	}
	if b.err != nil {
		b.c.fail(b.err)
		return fmt.Errorf("%w: %w", ErrBroken, b.err)
	}
	b.done = true
	return nil
}

// drain reads the body to its end, uncapped, discarding it. An endless body
// would hold the session until its limit: past limit octets or d it gives up.
func (b *retrBody) drain(limit int64, d time.Duration) error {
	b.r.maxLine, b.r.maxSize = 0, 0
	until := time.Now().Add(d)
	buf := make([]byte, 32<<10)
	for n := int64(0); ; {
		k, err := b.r.Read(buf)
		n += int64(k)
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		case n > limit:
			return fmt.Errorf("gave up after discarding %d octets without reaching the end; the message stays on the server", limit)
		case time.Now().After(until):
			return fmt.Errorf("gave up after %s of discarding without reaching the end; the message stays on the server", d)
		}
	}
}

// release ends the body's hold on the client.
func (b *retrBody) release() {
	if b.c.body == b {
		b.c.body = nil
		b.c.dc.stopMeter()
		b.stop()
	}
}
