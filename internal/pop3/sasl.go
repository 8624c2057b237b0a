package pop3

// The AUTH command (RFC 5034): one SASL exchange, driven by a sasl.Client.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

var (
	// ErrAuthUnavailable: the mechanism asked for is not among those the
	// server lists in CAPA's SASL line. No credential was sent.
	ErrAuthUnavailable = errors.New("pop3: server does not offer this authentication mechanism")
	// ErrServerAuth: the server did not prove that it knows the password
	// (SCRAM: a missing or wrong server signature). It may be an impostor;
	// the login is refused even if the server said +OK.
	ErrServerAuth = errors.New("pop3: server failed to prove it knows the password")
)

const (
	// maxSASLRounds bounds the challenges of one exchange: the longest
	// mechanism we speak (SCRAM with its server-final as a challenge) needs
	// two, LOGIN two, an OAuth error one.
	maxSASLRounds = 10
	// maxChallenge bounds one challenge, in octets of base64. The ones we
	// expect (a SCRAM server-first, an OAuth error) are a few hundred.
	maxChallenge = 8 << 10
)

// SASL returns the mechanisms of the RFC 2449 §6.3 SASL capability,
// upper-cased, in the server's order; nil when it was not announced.
func (c Capabilities) SASL() []string {
	args := c["SASL"]
	if len(args) == 0 {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ToUpper(a)
	}
	return out
}

// saslFinisher is a mechanism that must have seen something before the
// server's +OK counts (SCRAM: the verified server signature).
type saslFinisher interface {
	finish() error
}

// saslExplainer is a mechanism that learnt why the server refused (an
// OAuth error challenge, a SCRAM "e="), for the error after the -ERR.
type saslExplainer interface {
	failure() string
}

// authenticate runs AUTH with mechanism m (RFC 5034 §4). hide says that
// challenges are password material too and are not traced; responses
// never are. A -ERR at any step is returned as *Error (Command "AUTH"); a
// challenge that does not decode, or a mechanism that cannot go on, is
// cancelled with "*" and the server's -ERR read before returning.
func (c *Client) authenticate(m sasl.Client, hide bool) error {
	mech, ir, err := m.Start()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	cmd := command{verb: "AUTH", args: []string{mech}}
	var withheld []byte // an initial response that did not fit the line
	if ir != nil {
		enc := encodeResponse(ir)
		if enc == "" {
			enc = "=" // RFC 5034 §4: an empty initial response is sent as "="
		}
		// RFC 5034 §4, RFC 2449 §4: the initial response goes on the
		// command line only if the whole line, CRLF included, fits in 255
		// octets; otherwise the server asks for it with an empty challenge.
		if len("AUTH ")+len(mech)+len(" ")+len(enc)+len("\r\n") <= maxCommandLen {
			cmd.args = append(cmd.args, enc)
			cmd.secretArg = 2
		} else {
			withheld = ir
		}
	}
	if err := c.send(cmd); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	for round := 1; ; round++ {
		challenge, err := c.readAuthStep(hide)
		var pe *Error
		switch {
		case errors.As(err, &pe):
			if x, ok := m.(saslExplainer); ok && x.failure() != "" {
				return fmt.Errorf("%w (%s: %s)", err, mech, x.failure())
			}
			return err
		case err != nil:
			return err
		case challenge == nil: // +OK
			if f, ok := m.(saslFinisher); ok {
				if err := f.finish(); err != nil {
					// Logged in with a server we do not trust: hang up
					// rather than fetch from it.
					return c.fail(fmt.Errorf("%s: %w", mech, err))
				}
			}
			return nil
		}
		if round > maxSASLRounds {
			return c.cancelAuth(fmt.Errorf("%w: %s: more than %d challenges", ErrProtocol, mech, maxSASLRounds))
		}
		data, err := decodeChallenge(*challenge)
		if err != nil {
			return c.cancelAuth(fmt.Errorf("%s: %w", mech, err))
		}
		var resp []byte
		if withheld != nil && len(data) == 0 {
			// RFC 5034 §4: the empty challenge asks for the initial
			// response we did not put on the command line.
			resp = withheld
		} else if resp, err = m.Next(data); err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrServerAuth) {
				// go-sasl's "unexpected server challenge" and the like: the
				// server did not follow the mechanism.
				err = fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			return c.cancelAuth(fmt.Errorf("%s: %w", mech, err))
		}
		withheld = nil
		traced := "<redacted>"
		if len(resp) == 0 {
			traced = ""
		}
		if err := c.sendAuthLine(encodeResponse(resp), traced); err != nil {
			return err
		}
	}
}

// readAuthStep reads one line of an AUTH exchange: a continuation, whose
// text after "+ " it returns, or the final reply, which ends the AUTH
// command (nil for +OK, *Error for -ERR).
func (c *Client) readAuthStep(hide bool) (*string, error) {
	c.dc.startMeter()
	defer c.dc.stopMeter()
	b, err := readLine(c.br, maxReplyLine)
	if err != nil {
		return nil, c.fail(fmt.Errorf("read reply: %w", err))
	}
	raw := string(b)
	line := raw
	if c.secret != "" {
		line = strings.ReplaceAll(line, c.secret, "<redacted>")
	}
	if data, ok := continuation(raw); ok {
		if hide && data != "" {
			c.trace("S", "+ <redacted>")
		} else {
			c.trace("S", line)
		}
		// The server waits for our response: anything it sends before
		// it came unasked, and would be read as the next step.
		if n := c.br.Buffered(); n > 0 {
			return nil, c.fail(fmt.Errorf("%w: server sent %d octets after an AUTH challenge without waiting for the response", ErrProtocol, n))
		}
		return &data, nil
	}
	c.trace("S", line)
	r, err := parseReply(line)
	if err != nil {
		return nil, c.fail(fmt.Errorf("read reply: %w", err))
	}
	if len(c.pending) == 0 || c.pending[0].verb != "AUTH" {
		return nil, c.fail(fmt.Errorf("%w: AUTH reply read with no AUTH pending", ErrProtocol))
	}
	c.pending = c.pending[1:]
	if !r.ok {
		err = &Error{Command: "AUTH", Code: r.code, Text: r.text}
	}
	if ierr := c.replyDone("AUTH"); ierr != nil {
		return nil, ierr
	}
	return nil, err
}

// sendAuthLine sends one response line of an AUTH exchange; Trace sees
// traced instead.
func (c *Client) sendAuthLine(line, traced string) error {
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	c.trace("C", traced)
	return c.flush()
}

// cancelAuth ends an exchange the client cannot go on with: RFC 5034 §4,
// "*" cancels and the server answers -ERR. It returns cause, or breaks the
// client if the server answers anything but -ERR.
func (c *Client) cancelAuth(cause error) error {
	if err := c.sendAuthLine("*", "*"); err != nil {
		return fmt.Errorf("%w; cancelling: %w", cause, err)
	}
	// The -ERR that follows answers the cancel, not the credentials: it is
	// not returned, so that IsAuth does not blame the password for what
	// the client refused.
	challenge, err := c.readAuthStep(true)
	var pe *Error
	switch {
	case errors.As(err, &pe):
		return cause
	case err != nil:
		return fmt.Errorf("%w; cancelling: %w", cause, err)
	case challenge != nil:
		return c.fail(fmt.Errorf("%w: server sent a challenge after the client cancelled AUTH (cancelled because: %v)", ErrProtocol, cause))
	}
	return c.fail(fmt.Errorf("%w: server accepted a cancelled AUTH (cancelled because: %v)", ErrProtocol, cause))
}

// continuation reports whether line is a continuation request and returns
// its text. RFC 5034 §4: continue-req = "+" SP [base64] CRLF.
// QUIRK: a bare "+" (a server or proxy that trims trailing spaces) is an
// empty challenge too.
func continuation(line string) (string, bool) {
	if line == "+" {
		return "", true
	}
	return strings.CutPrefix(line, "+ ")
}

// decodeChallenge decodes the text of a continuation line strictly: the
// RFC 4648 base64 alphabet with padding, nothing else, not even spaces,
// and canonical (no stray bits in the padding).
func decodeChallenge(s string) ([]byte, error) {
	if len(s) > maxChallenge {
		return nil, fmt.Errorf("%w: challenge of %d octets, more than %d", ErrProtocol, len(s), maxChallenge)
	}
	for i := 0; i < len(s); i++ {
		// encoding/base64 skips CR and LF; we do not.
		if c := s[i]; !isBase64Char(c) && c != '=' {
			return nil, fmt.Errorf("%w: challenge is not base64 (octet %#02x at %d)", ErrProtocol, c, i)
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: challenge is not base64: %v", ErrProtocol, err)
	}
	return b, nil
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// encodeResponse is a response as it goes on the wire; "" for an empty one
// (RFC 5034 §4: an empty line, after a challenge).
func encodeResponse(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}
