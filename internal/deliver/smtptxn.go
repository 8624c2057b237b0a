package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"fetchd/internal/crashpoint"
	"github.com/emersion/go-smtp"
)

// mail gets a session, connecting if there is none, and starts a transaction
// with MAIL FROM. It returns the session and the stop function of the
// context watch that closes the socket when ctx ends.
//
// A session kept from an earlier Stage may have been closed by the server
// meanwhile (RFC 5321 §4.5.3.2.7 lets it drop a client idle for 5 minutes,
// usually with a 421). Nothing of the message has been sent before MAIL's
// reply, so when MAIL fails that way on a kept session we reconnect once and
// try again.
func (r *relay) mail(ctx context.Context, env *Envelope, rcpts []string, extra int64) (*relaySession, func() bool, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, Temporary(r.name, "connect", err)
		}
		s, kept := r.sess, r.sess != nil
		if !kept {
			var err error
			if s, err = r.dial(ctx); err != nil {
				return nil, nil, err
			}
			r.sess = s
		}
		// RFC 1870 §6: declare the size, and do not send what the server
		// said it would refuse.
		var size int64
		if env.Size > 0 {
			size = env.Size + extra
			if s.maxSize > 0 && size > s.maxSize {
				return nil, nil, Permanent(r.name, "MAIL", fmt.Errorf("552 message size %d exceeds the server's limit of %d octets (RFC 1870)", size, s.maxSize))
			}
		}
		// RFC 6531 §3.4: SMTPUTF8 only when an address needs it.
		utf8 := !relayASCII(env.From) || !allRelayASCII(rcpts)
		if utf8 && !s.utf8 {
			if !relayASCII(env.From) {
				return nil, nil, Permanent(r.name, "MAIL", fmt.Errorf("sender %q is not ASCII and the server does not offer SMTPUTF8", env.From))
			}
			utf8 = false // the non-ASCII recipients fail one by one
		}
		stop := context.AfterFunc(ctx, func() { s.raw.Close() })
		err := s.c.Mail(env.From, &smtp.MailOptions{Size: size, UTF8: utf8})
		if err == nil {
			return s, stop, nil
		}
		stop()
		if e, ok := err.(*smtp.SMTPError); attempt == 0 && kept && ctx.Err() == nil && (!ok || e.Code == 421) {
			r.drop(s)
			continue
		}
		return nil, nil, r.fail(ctx, s, r.name, "MAIL FROM:<"+env.From+">", err, false)
	}
}

// send streams the trace header and body into the DATA writer, normalising
// line ends on the way (see crlfWriter). It does not send the final dot. On
// error the caller must drop the session so that no final dot follows.
func (r *relay) send(ctx context.Context, s *relaySession, w io.Writer, hdr []byte, body io.Reader) error {
	cw := newCRLFWriter(w)
	write := func(p []byte) error {
		s.raw.SetWriteDeadline(time.Now().Add(r.timeout))
		if _, err := cw.Write(p); err != nil {
			return smtpConnError(ctx, r.name, "DATA", err)
		}
		return nil
	}
	if err := write(hdr); err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return Temporary(r.name, "DATA", err)
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if err := write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Temporary(r.name, "read message", rerr)
		}
	}
	s.raw.SetWriteDeadline(time.Now().Add(r.timeout))
	if err := cw.Close(); err != nil {
		return smtpConnError(ctx, r.name, "DATA", err)
	}
	return nil
}

// errNoReply is why a message whose final dot was sent may or may not have
// been delivered.
var errNoReply = errors.New("no reply to the final dot: the message may have been delivered")

// smtpReply sends the final dot and reads the one reply (RFC 5321 §4.1.1.4).
func (r *relay) smtpReply(ctx context.Context, s *relaySession, w *smtp.DataCommand, o *relayOutcome) {
	_, err := w.CloseWithResponse()
	if err == nil {
		return
	}
	e, ok := err.(*smtp.SMTPError)
	if !ok {
		r.drop(s)
		o.failAll(smtpConnError(ctx, "", "end of DATA", fmt.Errorf("%w: %w", errNoReply, err)))
		return
	}
	if e.Code == 421 {
		r.drop(s)
	}
	o.failAll(smtpReplyError("", "end of DATA", e, false))
}

// lmtpReplies sends the final dot and reads one reply per accepted
// recipient (RFC 2033 §4.2).
func (r *relay) lmtpReplies(ctx context.Context, s *relaySession, w *smtp.DataCommand, o *relayOutcome) {
	resp, err := w.CloseWithLMTPResponse()
	var replies smtp.LMTPDataError
	var broken error
	if err != nil {
		if e, ok := err.(smtp.LMTPDataError); ok {
			replies = e
		} else {
			errors.As(err, &replies)
			r.drop(s)
			broken = smtpConnError(ctx, "", "end of DATA", fmt.Errorf("%w: %w", errNoReply, err))
		}
	}
	crashpoint.Hit(ctx, "lmtp.accepted")
	accepted := o.accepted
	o.accepted = nil
	for _, rcpt := range accepted {
		switch {
		case resp[rcpt] != nil:
			o.accepted = append(o.accepted, rcpt)
		case replies[rcpt] != nil:
			o.fail(rcpt, smtpReplyError("", "end of DATA", replies[rcpt], false))
		case broken != nil:
			o.fail(rcpt, broken)
		default:
			o.fail(rcpt, &Error{Op: "end of DATA", Err: errNoReply})
		}
	}
	if broken == nil && len(replies) > 0 {
		for _, e := range replies {
			if e.Code == 421 {
				r.drop(s)
				break
			}
		}
	}
}

// relayOutcome collects what happened to each recipient of a transaction.
type relayOutcome struct {
	accepted []string
	failed   map[string]error // recipient → *Error without Target
	order    []string         // failed recipients in envelope order
}

func (o *relayOutcome) fail(rcpt string, err error) {
	o.failed[rcpt] = err
	o.order = append(o.order, rcpt)
}

// failAll fails every accepted recipient with the same error.
func (o *relayOutcome) failAll(err error) {
	for _, rcpt := range o.accepted {
		o.fail(rcpt, err)
	}
	o.accepted = nil
}

// result is Stage's return: success when every recipient accepted, a
// *RecipientsError when some did, and a plain *Error when none did.
func (o *relayOutcome) result(target string) (Staged, error) {
	switch {
	case len(o.order) == 0:
		return relayed{}, nil
	case len(o.accepted) > 0:
		return nil, &RecipientsError{Target: target, Accepted: o.accepted, Failed: o.failed}
	}
	first := o.failed[o.order[0]]
	same, permanent := true, true
	for _, rcpt := range o.order {
		err := o.failed[rcpt]
		same = same && err == first
		permanent = permanent && IsPermanent(err)
	}
	if same {
		if e, ok := first.(*Error); ok && e.Op == "RCPT" && len(o.order) == 1 {
			c := *e
			c.Op = "RCPT TO:<" + o.order[0] + ">"
			first = &c
		}
		return nil, withTarget(first, target)
	}
	return nil, &Error{Target: target, Permanent: permanent, Err: relayRcptErrors{o.order, o.failed}}
}

func allRelayASCII(ss []string) bool {
	for _, s := range ss {
		if !relayASCII(s) {
			return false
		}
	}
	return true
}
