package pop3

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Replies are matched to commands by their order alone (pipeline.go), so a
// byte the server sends while no command is outstanding would be read as
// the reply to the next command: a LIST reply sent twice would answer RETR 1,
// and the listing would be delivered as message 1, then DELEd. RFC 1939 §3:
// the server only ever answers a command. So while no command is
// outstanding the connection must be idle; it is checked twice:
//
//   - when a reply has been read to its end (the status line of a single-line
//     reply, the "." of a listing, the terminator of a RETR body) and no
//     other command is outstanding, anything already buffered came unasked
//     (replyDone);
//   - right before a command is sent while none is outstanding, anything
//     that arrived since came unasked (expectIdle, with a probe).
//
// Either breaks the client with ErrProtocol. With RFC 2449 PIPELINING the
// replies to commands still outstanding may already be buffered: both checks
// apply only when the pending queue is empty, which keeps them right then.
//
// The check before a command asks the kernel how many octets wait in the
// socket (SIOCINQ, on Linux): it costs no wait. Over TLS that count proves
// nothing (crypto/tls may already hold records it read, and a waiting
// record may be a session ticket rather than data), so there, and on
// connections that are not sockets, it is a probe read of idleProbe. With
// PIPELINING few commands are sent while none is outstanding.

// idleProbe is how long the fallback probe waits for octets already in
// flight. A zero timeout would not do: Go fails a read whose deadline has
// passed without looking at the socket. Data the server sends later than
// the check is caught by the next reply's check or read as a malformed
// reply.
const idleProbe = time.Millisecond

// replyDone is called when the reply to verb has been read to its end.
func (c *Client) replyDone(verb string) error {
	c.lastReply = verb
	if len(c.pending) > 0 || lastOnStream(verb) {
		return nil
	}
	return c.expectIdle(false)
}

// lastOnStream reports whether no POP3 reply follows verb's on this stream:
// after QUIT's the connection closes, and what else the server sends does
// not matter; after STLS's comes the TLS handshake, and startTLS refuses any
// octet before it as an injection (ErrInjection).
func lastOnStream(verb string) bool {
	return verb == "QUIT" || verb == "STLS"
}

// expectIdle fails, breaking the client, if the server has sent anything
// since the last reply: what is buffered, and with probe what the
// connection delivers within idleProbe. Nothing read is consumed.
func (c *Client) expectIdle(probe bool) error {
	n := c.br.Buffered()
	if n == 0 && probe && c.tls == nil {
		// Over TLS the kernel's count proves nothing: crypto/tls may hold
		// records it has already read from the socket.
		if waiting, ok := socketPending(c.raw); ok {
			n, probe = waiting, false
		}
	}
	if n == 0 && probe {
		c.dc.probing = true
		_, err := c.br.Peek(1)
		c.dc.probing = false
		// A timeout is the answer we hope for. The bufio.Reader hands the
		// error over once and forgets it, and each read sets its own
		// deadline, so nothing is left to restore.
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return c.fail(fmt.Errorf("before sending a command: %w", err))
		}
		n = c.br.Buffered()
	}
	if n == 0 {
		return nil
	}
	after := "the reply to " + c.lastReply
	if c.lastReply == "greeting" {
		after = "the greeting"
	}
	return c.fail(fmt.Errorf("%w: server sent %d octets nobody asked for after %s", ErrProtocol, n, after))
}
