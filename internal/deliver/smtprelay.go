package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// relay is what SMTP and LMTP share: one session kept open across the
// messages of a poll, and the mail transaction that Stage runs on it.
//
// The server's reply to the final dot is the commit point: once it has been
// sent there is nothing to stage, so the whole transaction runs in Stage and
// Commit is a no-op. A message is never sent twice by us: when the final dot
// went out and no reply came back, Stage returns a temporary error and the
// poll decides (it retries, choosing a possible duplicate over a loss).
type relay struct {
	name        string        // String(): "smtp host:port", "lmtp /path"
	lmtp        bool          // LHLO, and one reply per recipient after the dot
	helo        string        // our name for EHLO/LHLO
	timeout     time.Duration // per command, and per write of the body
	dataTimeout time.Duration // for the reply(ies) to the final dot
	dial        func(ctx context.Context) (*relaySession, error)

	mu   sync.Mutex
	sess *relaySession // nil: connect on the next Stage
}

// relaySession is one greeted connection (for SMTP also secured and
// authenticated as configured).
type relaySession struct {
	raw     net.Conn // the socket under any TLS: write deadlines and a hard close
	c       *smtp.Client
	maxSize int64 // the server's SIZE limit; 0 = none announced
	utf8    bool  // the server offers SMTPUTF8 (RFC 6531)
}

// relayed is what SMTP and LMTP Stage return: the message is already with
// the server, so Commit and Abort have nothing to do.
type relayed struct{}

func (relayed) Commit(context.Context) error { return nil }
func (relayed) Abort() error                 { return nil }

// greet wraps conn in a go-smtp client and says EHLO (LHLO for LMTP).
func (r *relay) greet(ctx context.Context, raw, conn net.Conn) (*relaySession, error) {
	var c *smtp.Client
	op := "EHLO"
	if r.lmtp {
		c, op = smtp.NewClientLMTP(conn), "LHLO"
	} else {
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout, c.SubmissionTimeout = r.timeout, r.dataTimeout
	if err := c.Hello(r.helo); err != nil {
		c.Close()
		return nil, smtpCmdError(ctx, r.name, op, err, false)
	}
	s := &relaySession{raw: raw, c: c}
	s.utf8, _ = c.Extension("SMTPUTF8")
	if n, ok := c.MaxMessageSize(); ok {
		s.maxSize = int64(n)
	}
	return s, nil
}

// drop closes s without QUIT: the server discards an unfinished message.
func (r *relay) drop(s *relaySession) {
	if r.sess == s {
		r.sess = nil
	}
	s.c.Close()
}

// fail handles the failure of a command on s. After a reply the session is
// still in step and a RSET ends the transaction (RFC 5321 §4.1.1.5); after
// anything else, or a 421 (the server is closing), the session is dropped.
func (r *relay) fail(ctx context.Context, s *relaySession, target, op string, err error, atRcpt bool) *Error {
	if e, ok := err.(*smtp.SMTPError); ok && e.Code != 421 {
		if err := s.c.Reset(); err != nil {
			r.drop(s)
		}
	} else {
		r.drop(s)
	}
	return smtpCmdError(ctx, target, op, err, atRcpt)
}

func (r *relay) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.sess; s != nil {
		r.sess = nil
		// QUIT errors do not matter: every message already has its outcome.
		// Nor is it worth waiting long for the reply at shutdown.
		s.c.CommandTimeout = min(r.timeout, 10*time.Second)
		if err := s.c.Quit(); err != nil {
			s.c.Close()
		}
	}
	return nil
}

// stage runs one mail transaction: MAIL, RCPT for each recipient, DATA.
func (r *relay) stage(ctx context.Context, env *Envelope, body io.Reader) (Staged, error) {
	rcpts, err := r.check(env)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	hdr := env.Trace.Header(false)
	s, stop, err := r.mail(ctx, env, rcpts, int64(len(hdr)))
	if err != nil {
		return nil, err
	}
	defer func() {
		if !stop() { // ctx ended while we worked and closed the socket
			r.drop(s)
		}
	}()

	o := &relayOutcome{failed: make(map[string]error)}
	for _, rcpt := range rcpts {
		if !s.utf8 && !relayASCII(rcpt) {
			o.fail(rcpt, &Error{Op: "RCPT", Permanent: true, Err: errors.New("non-ASCII address and the server does not offer SMTPUTF8")})
			continue
		}
		err := s.c.Rcpt(rcpt, nil)
		if err == nil {
			o.accepted = append(o.accepted, rcpt)
			continue
		}
		e, ok := err.(*smtp.SMTPError)
		if !ok || e.Code == 421 { // the session is gone; nothing was delivered
			return nil, r.fail(ctx, s, r.name, "RCPT TO:<"+rcpt+">", err, true)
		}
		o.fail(rcpt, smtpReplyError("", "RCPT", e, true))
	}
	if len(o.accepted) == 0 {
		if r.sess == s {
			if err := s.c.Reset(); err != nil {
				r.drop(s)
			}
		}
		return o.result(r.name)
	}

	w, err := s.c.Data()
	if err != nil {
		if _, ok := err.(*smtp.SMTPError); !ok {
			return nil, r.fail(ctx, s, r.name, "DATA", err, false)
		}
		o.failAll(r.fail(ctx, s, "", "DATA", err, false))
		return o.result(r.name)
	}
	if err := r.send(ctx, s, w, hdr, body); err != nil {
		r.drop(s) // without the final dot: the server discards the message
		return nil, err
	}
	if r.lmtp {
		r.lmtpReplies(ctx, s, w, o)
	} else {
		r.smtpReply(ctx, s, w, o)
	}
	return o.result(r.name)
}

// check validates the envelope and returns its recipients without duplicates.
func (r *relay) check(env *Envelope) ([]string, error) {
	if err := checkRelayAddr(env.From, true); err != nil {
		return nil, Permanent(r.name, "MAIL", err)
	}
	seen := make(map[string]bool, len(env.Recipients))
	rcpts := make([]string, 0, len(env.Recipients))
	for _, rcpt := range env.Recipients {
		if err := checkRelayAddr(rcpt, false); err != nil {
			return nil, Permanent(r.name, "RCPT", err)
		}
		if !seen[rcpt] {
			seen[rcpt] = true
			rcpts = append(rcpts, rcpt)
		}
	}
	if len(rcpts) == 0 {
		return nil, Permanent(r.name, "RCPT", errors.New("no recipients"))
	}
	return rcpts, nil
}

// checkRelayAddr refuses what would break out of "MAIL FROM:<...>" or
// "RCPT TO:<...>": the angle brackets and control characters (CR and LF
// above all: command injection).
func checkRelayAddr(addr string, null bool) error {
	if addr == "" && !null {
		return errors.New("empty address")
	}
	if i := strings.IndexFunc(addr, func(c rune) bool { return c < 0x20 || c == 0x7f || c == '<' || c == '>' }); i >= 0 {
		return fmt.Errorf("address %q: invalid character %q", addr, addr[i])
	}
	return nil
}

func relayASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
