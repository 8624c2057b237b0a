// Package deliver holds the delivery targets: where a message goes once it has
// been fully received from the POP3 server. This round: Maildir
// (https://cr.yp.to/proto/maildir.html, with Dovecot's file-name conventions).
// The MDA command, SMTP (RFC 5321), LMTP (RFC 2033) and mbox targets will
// implement the same Deliverer interface.
//
// Our first promise is never to lose a message, so every poll keeps this order:
//
//	message fully received → delivered durably → UIDL recorded → DELE
//
// A Deliverer works in two phases, as maddy's delivery targets do. Stage reads
// the whole body and makes it durable but not yet visible (Maildir: written to
// tmp/ and fsynced). Commit makes it visible and durable (Maildir: linked into
// new/ and the directory fsynced). Only after Commit returns nil may the caller
// record the UIDL, and only after that may it send DELE. Splitting the phases
// lets a later batch share one directory fsync across many messages.
//
// Failures are reported as *Error and are temporary unless marked permanent: a
// temporary failure leaves the message on the server to be retried next poll.
// Where a crash or an error leaves a choice between losing a message and
// delivering it twice, this package always chooses twice.
package deliver

import (
	"context"
	"io"
)

// Envelope describes one message being delivered.
type Envelope struct {
	Account    string   // account display name (logs)
	UIDL       string   // the server's unique id for the message
	From       string   // envelope sender if known
	Recipients []string // envelope recipients if known
	Size       int64    // size the server announced (a hint; may be -1)
}

// Deliverer is a delivery target. A Deliverer may be used by several goroutines
// at once; the Staged values it returns may not.
type Deliverer interface {
	// Stage reads body to EOF and makes the message durable but not yet
	// visible. body is in wire form: CRLF line ends, dot-stuffing already
	// removed. If reading body fails, Stage discards what it wrote and returns
	// the reader's error wrapped in a temporary *Error. ctx is checked between
	// chunks of the body; a cancelled ctx discards the message too.
	Stage(ctx context.Context, env *Envelope, body io.Reader) (Staged, error)

	// String names the target for logs, e.g. "maildir /home/u/Mail".
	String() string

	// Close releases what the target holds. It does not touch messages that
	// are staged or committed.
	Close() error
}

// Staged is a message that has been staged by a Deliverer: durable, not yet
// visible. Exactly one of Commit or Abort should end its life; calling Abort
// after Commit (for example from a defer) is always safe.
type Staged interface {
	// Commit makes the message visible and durable. When it returns nil the
	// caller may record the UIDL as delivered.
	Commit(ctx context.Context) error

	// Abort discards the staged message. It is safe to call after Commit
	// failed, and a no-op after a successful Commit.
	Abort() error
}
