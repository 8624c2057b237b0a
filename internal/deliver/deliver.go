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
	"fmt"
	"io"
	"sort"
	"strings"
)

// Envelope describes one message being delivered to one target. The poll
// decides it per target: recipients and sender come from the target's own
// configuration, falling back to the message's Return-Path and the local user.
type Envelope struct {
	Account    string   // account display name (logs)
	UIDL       string   // the server's unique id for the message
	From       string   // envelope sender, a bare address ("" = the null sender <>)
	Recipients []string // envelope recipients, bare addresses; for a retry, only those that have not accepted yet
	Size       int64    // size the server announced (a hint; may be -1)
	Trace      Trace    // header lines to prepend; zero value: none
}

// Trace holds the trace header fields fetchd adds in front of a message, as
// fetchmail and getmail do. Local targets (maildir, mbox, MDA) prepend all
// three; relays (SMTP, LMTP) prepend only Received, since the final MTA adds
// Return-Path and Delivered-To itself.
type Trace struct {
	Received    string // value of a Received: field, without the name ("" = none)
	ReturnPath  string // value of Return-Path:, e.g. "<a@example.com>" ("" = none)
	DeliveredTo string // value of Delivered-To: ("" = none)
}

// Header returns the trace header lines in wire form (CRLF line ends), for a
// local target or a relay; nil when there is nothing to add.
func (t Trace) Header(local bool) []byte {
	var b []byte
	add := func(name, value string) {
		if value != "" {
			b = append(b, name...)
			b = append(b, ": "...)
			b = append(b, value...)
			b = append(b, "\r\n"...)
		}
	}
	if local {
		add("Return-Path", t.ReturnPath)
		add("Delivered-To", t.DeliveredTo)
	}
	add("Received", t.Received)
	return b
}

// Owner is the local user a delivery runs as (the account's run_as): files
// are created owned by them with mode 0600, and commands run with their uid,
// gid and a clean environment. A nil *Owner means the user running fetchd.
type Owner struct {
	Name string // login name, for USER and LOGNAME
	UID  int
	GID  int
	Home string // HOME and the working directory of commands
}

// RecipientsError reports a delivery that some recipients accepted and others
// did not (LMTP gives one reply per recipient; SMTP may refuse some RCPTs).
// The accepted recipients have the message for good: a retry must go only to
// the failed ones. It is temporary unless every failure is permanent.
type RecipientsError struct {
	Target   string
	Accepted []string         // recipients that have the message
	Failed   map[string]error // recipient → its failure (an *Error each)
}

func (e *RecipientsError) Error() string {
	rcpts := make([]string, 0, len(e.Failed))
	for r := range e.Failed {
		rcpts = append(rcpts, r)
	}
	sort.Strings(rcpts)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %d recipient(s) accepted, %d failed:", e.Target, len(e.Accepted), len(e.Failed))
	for _, r := range rcpts {
		fmt.Fprintf(&sb, " <%s>: %v;", r, e.Failed[r])
	}
	return strings.TrimSuffix(sb.String(), ";")
}

// Permanent reports whether retrying cannot help any failed recipient.
func (e *RecipientsError) Permanent() bool {
	for _, err := range e.Failed {
		if !IsPermanent(err) {
			return false
		}
	}
	return len(e.Failed) > 0
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

	// String names the target for logs, e.g. "maildir /home/u/Mail". It is
	// also its identity in the state store's per-target progress, so it must
	// be stable across runs for the same configuration.
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
