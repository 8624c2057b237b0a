package pop3

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// Sentinel errors. They are returned wrapped with the operation that failed
// ("retr 3: read body: …"); test for them with errors.Is.
var (
	// ErrNoUIDL: the server answered -ERR to UIDL (RFC 1939 §7 makes UIDL optional).
	ErrNoUIDL = errors.New("pop3: server does not support UIDL")
	// ErrBroken: an earlier error left the connection out of step (I/O error,
	// timeout, cancelled context, undrainable body, protocol violation) or the
	// client was closed. Nothing more is sent; reconnect.
	ErrBroken = errors.New("pop3: connection unusable after an earlier error")
	// ErrLineTooLong: a reply line or a message line exceeded its cap.
	ErrLineTooLong = errors.New("pop3: line too long")
	// ErrMessageTooLarge: a RETR body exceeded Config.MaxMessageSize.
	ErrMessageTooLarge = errors.New("pop3: message too large")
	// ErrInsecure: credentials would have gone over a connection without TLS
	// and Config.AllowInsecure is false, or the TLS configuration disables
	// certificate verification. Nothing was sent.
	ErrInsecure = errors.New("pop3: refusing to send credentials without TLS")
	// ErrSTLSUnavailable: TLSStartTLS was asked for and the server does not
	// offer STLS or refused it. No credentials were sent.
	ErrSTLSUnavailable = errors.New("pop3: server does not offer STLS")
	// ErrInjection: bytes followed the +OK to STLS before the TLS handshake
	// (response injection, CVE-2011-0411). The connection was dropped.
	ErrInjection = errors.New("pop3: data injected before TLS handshake")
	// ErrProtocol: the server sent something POP3 does not allow.
	ErrProtocol = errors.New("pop3: protocol violation")
	// ErrInvalidArgument: a command argument contained CR, LF or NUL, or the
	// command would exceed 255 octets (RFC 2449 §4). Nothing was sent.
	ErrInvalidArgument = errors.New("pop3: invalid command argument")
	// ErrTooSlow: the server sent slower than Config.MinRate (a slowloris
	// server that keeps every read under its deadline). Temporary; the
	// client is broken.
	ErrTooSlow = errors.New("pop3: server too slow")
	// ErrAPOPUnavailable: AuthAPOP was asked for but the greeting carried no
	// timestamp (RFC 1939 §7).
	ErrAPOPUnavailable = errors.New("pop3: server greeting has no APOP timestamp")
)

// Error is a -ERR reply.
type Error struct {
	Command string // the verb that was answered ("PASS", "RETR", "greeting"); never an argument
	Code    string // RFC 2449 §8 response code without brackets, upper-cased ("IN-USE", "SYS/TEMP"); "" if none
	Text    string // the rest of the reply line
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("server rejected ")
	b.WriteString(e.Command)
	b.WriteString(": -ERR")
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(e.Code)
		b.WriteString("]")
	}
	if e.Text != "" {
		b.WriteString(" ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// codeIs reports whether the response code is name or a sub-code of it
// (RFC 2449 §8: codes are hierarchical, "SYS/TEMP/X" is a kind of "SYS/TEMP").
func (e *Error) codeIs(name string) bool {
	return e.Code == name || strings.HasPrefix(e.Code, name+"/")
}

func (e *Error) hasTempCode() bool {
	return e.codeIs("IN-USE") || e.codeIs("LOGIN-DELAY") || e.codeIs("SYS/TEMP")
}

// Temporary reports whether trying again later may succeed. A reply without a
// code, or with a code we do not know, is temporary: the message stays on the
// server. [AUTH] (RFC 3206 §4) and [SYS/PERM] (RFC 3206 §5) are permanent.
func (e *Error) Temporary() bool {
	return !e.codeIs("AUTH") && !e.codeIs("SYS/PERM")
}

// IsAuth reports whether the server rejected the credentials: an [AUTH] code
// (RFC 3206 §4), or a -ERR to PASS or APOP that carries no temporary code.
// A codeless -ERR to PASS, APOP or AUTH (Microsoft's answer to a bad
// token) is both IsAuth and Temporary: many servers say
// "-ERR invalid login" and "-ERR mailbox locked" alike.
func (e *Error) IsAuth() bool {
	if e.codeIs("AUTH") {
		return true
	}
	return (e.Command == "PASS" || e.Command == "APOP" || e.Command == "AUTH") && !e.hasTempCode()
}

// IsTemporary reports whether err may go away by trying again later.
// Network errors, timeouts, cancelled contexts, ErrTooSlow, ErrBroken,
// ErrProtocol and temporary -ERR replies are temporary; so is any error nobody classified.
// Refused-by-policy errors (ErrInsecure, ErrSTLSUnavailable, ErrInjection,
// ErrInvalidArgument, ErrAPOPUnavailable, ErrPinMismatch, ErrTLSVersion),
// certificate verification failures, limits that a retry would hit again (ErrLineTooLong,
// ErrMessageTooLarge), ErrNoUIDL, and -ERR [AUTH]/[SYS/PERM] are not.
// IsTemporary(nil) is false.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	for _, perm := range []error{ErrInsecure, ErrSTLSUnavailable, ErrInjection, ErrAuthUnavailable, ErrServerAuth,
		ErrInvalidArgument, ErrAPOPUnavailable, ErrLineTooLong, ErrMessageTooLarge, ErrNoUIDL,
		ErrPinMismatch, ErrTLSVersion} {
		if errors.Is(err, perm) {
			return false
		}
	}
	if isCertError(err) {
		return false
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Temporary()
	}
	// Network errors, timeouts, cancelled contexts, ErrBroken, ErrProtocol and
	// anything unclassified: temporary (house rule), the message stays on the
	// server.
	return true
}

// isCertError reports a TLS certificate or host name verification failure,
// or a peer that does not speak TLS at all: configuration, not weather.
func isCertError(err error) bool {
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) ||
		errors.As(err, &ci) || errors.As(err, &rh)
}
