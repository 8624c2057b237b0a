package deliver

import (
	"errors"
	"strings"
)

// Error is a delivery failure. Failures are temporary unless marked permanent:
// after a temporary failure the message stays on the server and is retried
// next poll. Permanent means retrying the same message at the same target
// cannot succeed (an SMTP 5xx, an MDA exit code other than 75).
type Error struct {
	Target    string // the Deliverer's String(), e.g. "maildir /home/u/Mail"
	Op        string // what failed, e.g. "write tmp/1700000000.M1P2Q3R4.host"
	Permanent bool
	Err       error
}

// Error returns "target: op: err", leaving out empty parts.
func (e *Error) Error() string {
	parts := make([]string, 0, 3)
	if e.Target != "" {
		parts = append(parts, e.Target)
	}
	if e.Op != "" {
		parts = append(parts, e.Op)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	if len(parts) == 0 {
		return "delivery failed"
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the failure is temporary, as go-smtp's SMTPError
// does: the opposite of Permanent.
func (e *Error) Temporary() bool { return !e.Permanent }

// IsPermanent reports whether err is, or wraps, an *Error marked permanent. It
// is false for nil and for any error nobody classified: an unclassified
// failure keeps the message on the server. When *Errors are nested the
// outermost one decides.
func IsPermanent(err error) bool {
	var re *RecipientsError
	if errors.As(err, &re) {
		return re.Permanent()
	}
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// Temporary returns a temporary *Error.
func Temporary(target, op string, err error) error {
	return &Error{Target: target, Op: op, Err: err}
}

// Permanent returns a permanent *Error.
func Permanent(target, op string, err error) error {
	return &Error{Target: target, Op: op, Permanent: true, Err: err}
}
