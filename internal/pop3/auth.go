package pop3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AuthMethod selects how Login proves who we are.
type AuthMethod int

const (
	AuthAuto        AuthMethod = iota // the strongest the server offers (see Login)
	AuthUser                          // USER and PASS (RFC 1939 §7)
	AuthAPOP                          // APOP (RFC 1939 §7)
	AuthPlain                         // AUTH PLAIN (RFC 5034, RFC 4616)
	AuthLogin                         // AUTH LOGIN (draft-murchison-sasl-login)
	AuthCRAMMD5                       // AUTH CRAM-MD5 (RFC 2195)
	AuthSCRAMSHA1                     // AUTH SCRAM-SHA-1 (RFC 5802)
	AuthSCRAMSHA256                   // AUTH SCRAM-SHA-256 (RFC 7677)
	AuthXOAUTH2                       // AUTH XOAUTH2 (Google, Microsoft); the secret is an access token
	AuthOAuthBearer                   // AUTH OAUTHBEARER (RFC 7628); the secret is an access token
)

var authNames = map[AuthMethod]string{
	AuthAuto: "auto", AuthUser: "user", AuthAPOP: "apop", AuthPlain: "plain", AuthLogin: "login",
	AuthCRAMMD5: "cram-md5", AuthSCRAMSHA1: "scram-sha-1", AuthSCRAMSHA256: "scram-sha-256",
	AuthXOAUTH2: "xoauth2", AuthOAuthBearer: "oauthbearer",
}

// String is the method's name as the configuration spells it.
func (m AuthMethod) String() string {
	if n, ok := authNames[m]; ok {
		return n
	}
	return fmt.Sprintf("AuthMethod(%d)", int(m))
}

// ParseAuthMethod is the inverse of String.
func ParseAuthMethod(s string) (AuthMethod, bool) {
	for m, n := range authNames {
		if n == s {
			return m, true
		}
	}
	return 0, false
}

// Login authenticates and enters the TRANSACTION state (RFC 1939 §5).
// When the CAPA answer had a per-user EXPIRE or LOGIN-DELAY, it asks for
// the capabilities again once logged in. For AuthXOAUTH2 and
// AuthOAuthBearer the password is the OAuth2 access token.
//
// AuthAuto uses what AuthChoice says. An explicit SASL method that the
// server's CAPA SASL line does not list fails with ErrAuthUnavailable
// before any credential is sent; when CAPA lists no SASL line at all it
// is tried anyway (an older server may still know AUTH).
//
// Without TLS no credential is sent unless Config.AllowInsecure is set
// (ErrInsecure). Exactly one method is tried: once the server has rejected
// credentials no other is, as retrying with others is how accounts get
// locked. The error is then an *Error (Command "PASS", "APOP" or "AUTH")
// whose IsAuth tells a wrong password apart from a locked maildrop. A SCRAM
// server that cannot prove it knows the password fails with ErrServerAuth,
// even after +OK. Neither the password or token, nor anything derived from
// it (APOP digest, SASL responses), appears in errors or in Trace.
func (c *Client) Login(ctx context.Context, user, password string, m AuthMethod) error {
	stop, err := c.begin(ctx, "login", false)
	if err != nil {
		return err
	}
	defer stop()
	if err := c.login(user, password, m, nil); err != nil {
		return err
	}
	return c.afterLogin()
}

// LoginAndList is Login followed by UIDLAndList. When the server pipelined
// in an earlier session (Config.ExpectPipelining) and m is AuthUser, CAPA,
// USER, PASS, UIDL and LIST go out in one flush: a poll that finds nothing
// new costs the greeting and one round trip. err is Login's error, else
// UIDLAndList's.
func (c *Client) LoginAndList(ctx context.Context, user, password string, m AuthMethod) (uidl []MessageInfo, uidlErr error, list []MessageInfo, err error) {
	if c.owedCaps == nil || m != AuthUser {
		if err := c.Login(ctx, user, password, m); err != nil {
			return nil, err, nil, err
		}
		return c.UIDLAndList(ctx)
	}
	stop, err := c.begin(ctx, "login", false)
	if err != nil {
		return nil, err, nil, err
	}
	defer stop()
	var read func() ([]MessageInfo, error, []MessageInfo, error)
	err = c.login(user, password, m, func() error {
		var qerr error
		read, qerr = c.sendListings()
		return qerr
	})
	if err != nil {
		// The listings' replies are owed still, and would answer the next
		// command: the session is over.
		c.fail(err)
		return nil, err, nil, err
	}
	// A server that echoes the password must not put it in our logs,
	// whatever line it echoes it on.
	c.secret = password
	uidl, uidlErr, list, err = read()
	c.secret = ""
	if c.broken != nil {
		return uidl, uidlErr, list, err
	}
	if aerr := c.afterLogin(); aerr != nil {
		return nil, aerr, nil, aerr
	}
	return uidl, uidlErr, list, err
}

// login authenticates with method m; queue, when not nil, sends more
// commands right behind PASS in a pipelined USER/PASS exchange.
func (c *Client) login(user, password string, m AuthMethod, queue func() error) error {
	if c.state != stateAuthorization {
		return errors.New("login: already logged in")
	}
	// RFC 8314 §5, RFC 2595 §2.2: no cleartext credentials unless asked for.
	if c.tls == nil && !c.cfg.AllowInsecure {
		return fmt.Errorf("login: %w: the connection is not encrypted (use TLS, or allow insecure authentication)", ErrInsecure)
	}
	c.secret = password
	defer func() { c.secret = "" }()
	var err error
	if c.owedCaps != nil && m == AuthUser {
		// USER and PASS go right behind the CAPA of a server that
		// pipelined last time; userPass reads CAPA's answer first.
		err = c.userPass(user, password, queue)
	} else {
		if err := c.settleCapa(); err != nil {
			return fmt.Errorf("login: %w", err)
		}
		m = c.AuthChoice(m)
		err = c.loginWith(m, user, password)
	}
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	c.state = stateTransaction
	return nil
}

// afterLogin asks for the capabilities again when the first answer had a
// per-user value.
func (c *Client) afterLogin() error {
	// RFC 2449 §6.5, §6.7: a value tagged USER is only known for this user
	// after login, where CAPA tells it without the tag. Other servers are
	// spared the round trip.
	if c.caps.perUserCaps() {
		var pe *Error
		if err := c.refreshCaps(); err != nil && !errors.As(err, &pe) {
			return fmt.Errorf("login: %w", err)
		}
		// QUIRK: a -ERR to CAPA after login leaves the first answer.
	}
	return nil
}

// loginWith runs the exchange of method m.
func (c *Client) loginWith(m AuthMethod, user, password string) (err error) {
	switch m {
	case AuthUser:
		err = c.userPass(user, password, nil)
	case AuthAPOP:
		err = c.apop(user, password)
	default:
		err = c.authSASL(m, user, password)
	}
	return err
}

// autoOrder is what AuthAuto prefers among the mechanisms CAPA lists,
// strongest first: SCRAM never shows the server the password and checks
// the server too; CRAM-MD5 hides it on the wire; PLAIN and LOGIN send it
// (inside TLS). The OAuth methods are never chosen: a password is not a
// token.
var autoOrder = []AuthMethod{AuthSCRAMSHA256, AuthSCRAMSHA1, AuthCRAMMD5, AuthPlain, AuthLogin}

// AuthChoice returns the method Login uses when asked for m: m itself,
// unless m is AuthAuto. For AuthAuto it is the first of SCRAM-SHA-256,
// SCRAM-SHA-1, CRAM-MD5, PLAIN and LOGIN that the server lists in CAPA's
// SASL line (as read over TLS when TLS is used); without such a mechanism
// it is AuthAPOP when the greeting carried a timestamp, else AuthUser.
// An explicit SASL method may still be refused by Login with
// ErrAuthUnavailable when CAPA lists other mechanisms only.
func (c *Client) AuthChoice(m AuthMethod) AuthMethod {
	if m != AuthAuto {
		return m
	}
	offered := c.caps.SASL()
	for _, want := range autoOrder {
		if slices.Contains(offered, saslNames[want]) {
			return want
		}
	}
	if c.timestamp != "" {
		return AuthAPOP
	}
	return AuthUser
}

// authSASL logs in with the SASL method m over AUTH (RFC 5034).
func (c *Client) authSASL(m AuthMethod, user, secret string) error {
	name, ok := saslNames[m]
	if !ok {
		return fmt.Errorf("%w: unknown auth method %d", ErrInvalidArgument, int(m))
	}
	// RFC 2449 §6.3: a server that announces SASL lists what AUTH takes.
	// One that announces none may predate RFC 2449 and is tried anyway.
	if offered := c.caps.SASL(); len(offered) > 0 && !slices.Contains(offered, name) {
		return fmt.Errorf("%w: %s is not among the mechanisms the server offers (SASL %s)", ErrAuthUnavailable, name, strings.Join(offered, " "))
	}
	mech, hide, err := c.newMech(m, user, secret)
	if err != nil {
		return err
	}
	return c.authenticate(mech, hide)
}

// userPass runs USER then PASS (RFC 1939 §7).
func (c *Client) userPass(user, password string, queue func() error) error {
	userCmd := command{verb: "USER", args: []string{user}}
	passCmd := command{verb: "PASS", args: []string{password}, secretArg: 1}
	// Check both before sending either: a bad password must not be found
	// out after USER went out.
	for _, cmd := range []*command{&userCmd, &passCmd} {
		if _, err := cmd.line(); err != nil {
			return err
		}
	}
	if c.owedCaps != nil || c.Pipelining() {
		// RFC 2449 §6.6: USER and PASS go together, saving a round trip;
		// behind the CAPA of a server that pipelined last time, whose
		// answer comes first.
		// The password goes to the same server whatever it answers to
		// USER; a -ERR to USER is the error, and PASS's reply is read too
		// to keep the stream in step.
		if err := c.send(userCmd); err != nil {
			return err
		}
		if err := c.send(passCmd); err != nil {
			return err
		}
		if queue != nil {
			if err := queue(); err != nil {
				return err
			}
		}
		if err := c.settleCapa(); err != nil {
			return err
		}
		if err := c.flush(); err != nil {
			return err
		}
		_, uerr := c.readReply()
		if uerr != nil && c.broken != nil {
			return uerr
		}
		_, perr := c.readReply()
		if uerr != nil {
			return uerr
		}
		return perr
	}
	// RFC 1939 §7: after -ERR to USER the client may only issue a new
	// authentication command or QUIT; the password is not sent.
	if _, err := c.roundTrip(userCmd); err != nil {
		return err
	}
	_, err := c.roundTrip(passCmd)
	return err
}

// apop runs APOP (RFC 1939 §7).
func (c *Client) apop(user, password string) error {
	if c.timestamp == "" {
		return fmt.Errorf("%w: use USER/PASS instead", ErrAPOPUnavailable)
	}
	if strings.ContainsAny(user, " \t") {
		return fmt.Errorf("%w: APOP name %q contains a space", ErrInvalidArgument, user)
	}
	_, err := c.roundTrip(command{verb: "APOP", args: []string{user, apopDigest(c.timestamp, password)}, secretArg: 2})
	return err
}

// apopDigest is RFC 1939 §7: the MD5 of the timestamp (with its angle
// brackets) followed by the shared secret, in lower-case hex.
func apopDigest(timestamp, password string) string {
	sum := md5.Sum([]byte(timestamp + password))
	return hex.EncodeToString(sum[:])
}

// findTimestamp returns the APOP timestamp in a greeting's text, angle
// brackets included, or "". RFC 1939 §7: it has the syntax of an RFC 822
// msg-id, "<process-ID.clock@hostname>"; we only require something between
// the brackets that is printable and has no space.
func findTimestamp(text string) string {
	start := strings.IndexByte(text, '<')
	if start < 0 {
		return ""
	}
	end := strings.IndexByte(text[start:], '>')
	if end < 2 {
		return ""
	}
	ts := text[start : start+end+1]
	for i := 1; i < len(ts)-1; i++ {
		if c := ts[i]; c <= ' ' || c >= 0x7f || c == '<' {
			return ""
		}
	}
	return ts
}
