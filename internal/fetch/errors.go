package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"fetchd/internal/pop3"
)

// configError is a poll failure that retrying unchanged cannot cure: the
// account's configuration or the server's abilities must change first.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// ErrDrained ends a poll that stopped early because Poller.Drain was
// closed: what was delivered is recorded and its deletions committed; the
// rest waits for the next poll.
var ErrDrained = errors.New("poll stopped after the message in flight: fetchd is shutting down")

// GuardError is a poll the lost-state or mass-UIDL-change guard stopped
// before it fetched anything. Retrying unchanged trips it again; the user
// must choose (--mark-seen or --initial-sync).
type GuardError struct {
	Kind string // "lost_state" or "uidl_change"
	error
}

func (e *GuardError) Unwrap() error { return e.error }

// Failure is what kind of failure ended a poll, for the scheduler's backoff.
type Failure int

const (
	FailureNone       Failure = iota // the poll reached QUIT
	FailureAuth                      // the server rejected the credentials
	FailureInUse                     // [IN-USE]: another client holds the mailbox
	FailureLoginDelay                // [LOGIN-DELAY]: the server wants fewer logins
	FailureTemporary                 // worth retrying unchanged later
	FailurePermanent                 // retrying unchanged fails again
	FailureDrained                   // stopped for shutdown; not a failure of the account
)

// Classify says what kind of failure a poll error is.
func Classify(err error) Failure {
	if err == nil {
		return FailureNone
	}
	if errors.Is(err, ErrDrained) {
		return FailureDrained
	}
	var perr *pop3.Error
	if errors.As(err, &perr) {
		switch {
		case perr.Code == "IN-USE" || strings.HasPrefix(perr.Code, "IN-USE/"):
			return FailureInUse
		case perr.Code == "LOGIN-DELAY" || strings.HasPrefix(perr.Code, "LOGIN-DELAY/"):
			return FailureLoginDelay
		case perr.IsAuth():
			return FailureAuth
		}
	}
	if IsTemporary(err) {
		return FailureTemporary
	}
	return FailurePermanent
}

// IsTemporary reports whether a poll error is worth retrying unchanged:
// network trouble and server-side temporary conditions are; rejected
// credentials, refused TLS and configuration problems are not.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var ce configError
	var ge *GuardError
	if errors.As(err, &ce) || errors.As(err, &ge) {
		return false
	}
	return pop3.IsTemporary(err)
}

// isConnectionLost reports an error of the connection itself, after login.
func isConnectionLost(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pop3.ErrBroken) || errors.Is(err, syscall.ECONNRESET)
}

// withHint adds what the user can do to the errors whose cure is known.
func withHint(err error) error {
	if err == nil {
		return nil
	}
	var hint string
	var perr *pop3.Error
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, pop3.ErrInsecure):
		hint = `use tls = "implicit" or "starttls"; allow_insecure = true sends the password in clear`
	case errors.Is(err, pop3.ErrSTLSUnavailable):
		hint = `the server, or something between, does not offer STLS: try tls = "implicit" (port 995); fetchd never falls back to plaintext`
	case errors.Is(err, pop3.ErrInjection):
		hint = "someone between fetchd and the server tampered with the connection; no password was sent"
	case errors.Is(err, pop3.ErrPinMismatch):
		hint = "the server's certificate is not the pinned one: if its key changed, check the new fingerprint with the provider (`fetchd doctor ACCOUNT` shows it) before pinning it"
	case errors.Is(err, pop3.ErrTLSVersion):
		hint = "the server speaks only TLS 1.1 or older, which fetchd refuses"
	case errors.As(err, &hostErr):
		hint = "the server's certificate does not name the configured server: check the server key"
	case errors.As(err, &authErr), errors.As(err, &certErr):
		hint = "the server's certificate is not trusted by this system; fetchd never skips verification: trust its CA with ca_file, or pin it with tls_fingerprint (`fetchd doctor ACCOUNT` shows it)"
	case errors.As(err, &perr) && perr.IsAuth():
		hint = "check user and password; fetchd does not retry other login methods"
	case errors.As(err, &perr) && perr.Code == "IN-USE":
		hint = "another client holds the mailbox; fetchd tries again next poll"
	case isConnectionLost(err):
		hint = "connection lost: what was delivered is recorded and is deleted on the server next poll; nothing is lost"
	}
	if hint == "" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, hint)
}
