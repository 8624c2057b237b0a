package deliver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/emersion/go-smtp"
)

// smtpReply is a negative reply from an SMTP or LMTP server. It prints as
// "550 5.1.1 No such user" and unwraps to go-smtp's *smtp.SMTPError, so a
// caller can get at the code with errors.As.
type smtpReply struct{ *smtp.SMTPError }

func (e smtpReply) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%03d", e.Code)
	if ec := e.EnhancedCode; ec[0] > 0 {
		fmt.Fprintf(&b, " %d.%d.%d", ec[0], ec[1], ec[2])
	}
	if e.Message != "" {
		b.WriteByte(' ')
		b.WriteString(strings.ReplaceAll(e.Message, "\n", " / "))
	}
	return b.String()
}

func (e smtpReply) Unwrap() error { return e.SMTPError }

// smtpReplyPermanent reports whether a negative reply means retrying cannot
// help. Anything that is not a 5xx is temporary, as is:
func smtpReplyPermanent(e *smtp.SMTPError, atRcpt bool) bool {
	// RFC 3463 §3.3: X.2.2 is "mailbox full", a condition that passes.
	// QUIRK: some servers send it with a 5xx code.
	if ec := e.EnhancedCode; (ec[0] == 4 || ec[0] == 5) && ec[1] == 2 && ec[2] == 2 {
		return false
	}
	// RFC 5321 §4.5.3.1.10: a 552 to RCPT ("too many recipients") is to be
	// treated as the temporary 452.
	if atRcpt && e.Code == 552 {
		return false
	}
	return e.Code/100 == 5
}

// smtpReplyError classifies a server's negative reply to the command op.
func smtpReplyError(target, op string, e *smtp.SMTPError, atRcpt bool) *Error {
	return &Error{Target: target, Op: op, Permanent: smtpReplyPermanent(e, atRcpt), Err: smtpReply{e}}
}

// textprotoReply turns a reply read with net/textproto (before go-smtp takes
// over the connection) into the *smtp.SMTPError go-smtp would have made.
func textprotoReply(err error) (*smtp.SMTPError, bool) {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return nil, false
	}
	e := &smtp.SMTPError{Code: te.Code, Message: te.Msg}
	var ec smtp.EnhancedCode
	if code, msg, ok := strings.Cut(te.Msg, " "); ok {
		if n, _ := fmt.Sscanf(code, "%d.%d.%d", &ec[0], &ec[1], &ec[2]); n == 3 && !strings.ContainsAny(code, "+-") {
			e.EnhancedCode, e.Message = ec, msg
		}
	}
	return e, true
}

// smtpConnError classifies a failure that is not a server reply: I/O, a
// timeout, a cancelled context, a TLS handshake. All are temporary except a
// server certificate that does not verify, which is a configuration problem
// that retrying cannot fix.
func smtpConnError(ctx context.Context, target, op string, err error) *Error {
	if cerr := ctx.Err(); cerr != nil {
		return &Error{Target: target, Op: op, Err: fmt.Errorf("%w (%v)", cerr, err)}
	}
	return &Error{Target: target, Op: op, Permanent: tlsVerifyFailed(err), Err: err}
}

// smtpCmdError classifies the failure of a command: a reply, or a broken
// connection.
func smtpCmdError(ctx context.Context, target, op string, err error, atRcpt bool) *Error {
	if e, ok := err.(*smtp.SMTPError); ok {
		return smtpReplyError(target, op, e, atRcpt)
	}
	if e, ok := textprotoReply(err); ok {
		return smtpReplyError(target, op, e, atRcpt)
	}
	return smtpConnError(ctx, target, op, err)
}

func tlsVerifyFailed(err error) bool {
	var (
		ve *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &ve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// relayRcptErrors lists the failures of several recipients, in envelope
// order, for the plain *Error returned when none accepted the message.
type relayRcptErrors struct {
	order  []string
	failed map[string]error
}

func (e relayRcptErrors) Error() string {
	parts := make([]string, len(e.order))
	for i, r := range e.order {
		parts[i] = fmt.Sprintf("<%s>: %v", r, e.failed[r])
	}
	return strings.Join(parts, "; ")
}

func (e relayRcptErrors) Unwrap() []error {
	errs := make([]error, len(e.order))
	for i, r := range e.order {
		errs[i] = e.failed[r]
	}
	return errs
}

// withTarget returns err with its Target set, when it is an *Error without.
func withTarget(err error, target string) error {
	if e, ok := err.(*Error); ok && e.Target == "" {
		c := *e
		c.Target = target
		return &c
	}
	return err
}
