package pop3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Capabilities are the RFC 2449 CAPA lines: upper-cased name → arguments.
type Capabilities map[string][]string

// Has reports whether the capability name (any case) was announced.
func (c Capabilities) Has(name string) bool {
	_, ok := c[strings.ToUpper(name)]
	return ok
}

// Expire returns the RFC 2449 §6.7 EXPIRE policy: the days a message is
// kept after it was retrieved, or never=true for "EXPIRE NEVER". days=0
// means retrieved messages may be deleted at the end of the session even
// without DELE. ok is false when EXPIRE was not announced or does not parse.
// A trailing USER ("EXPIRE 30 USER": the policy differs per user) is
// accepted and does not change the value.
func (c Capabilities) Expire() (days int, never bool, ok bool) {
	days, never, _, ok = c.expire()
	return days, never, ok
}

func (c Capabilities) expire() (days int, never, perUser, ok bool) {
	// RFC 2449 §6.7: "EXPIRE" SP (1*DIGIT [SP "USER"] / "NEVER").
	// QUIRK: "NEVER USER" and any case are accepted.
	args := c["EXPIRE"]
	if len(args) == 0 || len(args) > 2 {
		return 0, false, false, false
	}
	perUser = c.userTag("EXPIRE")
	if len(args) == 2 && !perUser {
		return 0, false, false, false
	}
	if strings.EqualFold(args[0], "NEVER") {
		return 0, true, perUser, true
	}
	n, err := parseNumber(args[0])
	if err != nil || n > 1<<31-1 {
		return 0, false, false, false
	}
	return int(n), false, perUser, true
}

// maxLoginDelay bounds what LOGIN-DELAY may ask for: a server announcing a
// week would otherwise silence an account for that long.
const maxLoginDelay = 24 * time.Hour

// LoginDelay returns the RFC 2449 §6.5 LOGIN-DELAY: the least time the
// server allows between logins, at most a day; 0 when none was announced or
// the value does not parse. A trailing USER is accepted.
func (c Capabilities) LoginDelay() time.Duration {
	args := c["LOGIN-DELAY"]
	if len(args) == 0 || len(args) > 2 || (len(args) == 2 && !c.userTag("LOGIN-DELAY")) {
		return 0
	}
	n, err := parseNumber(args[0])
	if err != nil {
		return 0
	}
	if n > int64(maxLoginDelay/time.Second) {
		return maxLoginDelay
	}
	return time.Duration(n) * time.Second
}

// userTag reports whether the capability's last argument is USER: RFC 2449
// §6.5 (LOGIN-DELAY) and §6.7 (EXPIRE) mark so a value that differs per
// user and is only known after login.
func (c Capabilities) userTag(name string) bool {
	args := c[name]
	return len(args) >= 2 && strings.EqualFold(args[len(args)-1], "USER")
}

// Capabilities returns the server's CAPA answer (read over TLS when TLS is
// used, and after login when Login asked again), or nil if the server does
// not support CAPA.
func (c *Client) Capabilities() Capabilities {
	if c.caps == nil {
		return nil
	}
	caps := make(Capabilities, len(c.caps))
	for k, v := range c.caps {
		caps[k] = append([]string(nil), v...)
	}
	return caps
}

// ExpiresRetrieved reports whether the server announced "EXPIRE 0": it may
// delete every message retrieved in this session when QUIT is answered,
// DELE or not. When a post-login CAPA omits EXPIRE, the pre-login answer
// counts: in doubt, assume retrieved messages go.
func (c *Client) ExpiresRetrieved() bool {
	days, never, ok := c.caps.Expire()
	if !ok {
		days, never, ok = c.preCaps.Expire()
	}
	return ok && !never && days == 0
}

// RefreshCapabilities asks for the capabilities again, in the TRANSACTION
// state, where RFC 2449 §5 lets them differ (per-user EXPIRE and
// LOGIN-DELAY). Login does it by itself when the first answer had such a
// per-user value. On -ERR the capabilities are left as they were and the
// *Error is returned.
func (c *Client) RefreshCapabilities(ctx context.Context) error {
	stop, err := c.begin(ctx, "capa", true)
	if err != nil {
		return err
	}
	defer stop()
	return c.refreshCaps()
}

func (c *Client) refreshCaps() error {
	caps, err := c.readCapa()
	if err != nil {
		return fmt.Errorf("capa: %w", err)
	}
	if c.preCaps == nil {
		c.preCaps = c.caps
	}
	c.caps = caps
	return nil
}

// capa asks for the capabilities before login (RFC 2449 §5). A -ERR is not
// an error: the server predates RFC 2449, c.caps stays nil and RFC 1939
// behaviour applies (USER is tried, UIDL is tried and its -ERR means no UIDL).
func (c *Client) capa() error {
	return c.setCaps(c.readCapa())
}

// setCaps takes the answer to CAPA before login: a -ERR leaves no
// capabilities (RFC 1939 behaviour), any other error is the connection's.
func (c *Client) setCaps(caps Capabilities, err error) error {
	var pe *Error
	switch {
	case errors.As(err, &pe):
		c.caps = nil
		return nil
	case err != nil:
		return fmt.Errorf("capa: %w", err)
	}
	c.caps = caps
	return nil
}

// readCapa runs CAPA; a -ERR is returned as *Error.
func (c *Client) readCapa() (Capabilities, error) {
	caps := Capabilities{}
	_, err := c.roundTrip(capaCommand(caps))
	if err != nil {
		return nil, err
	}
	return caps, nil
}

// capaCommand is CAPA, its answer collected into caps.
func capaCommand(caps Capabilities) command {
	return command{verb: "CAPA", kind: replyMulti, limit: capaListing, onLine: func(line []byte) error {
		// RFC 2449 §5: capa-tag *(SP param); tags are case-insensitive.
		f := strings.Fields(string(line))
		if len(f) == 0 {
			return nil // QUIRK: blank lines are skipped
		}
		caps[strings.ToUpper(f[0])] = f[1:]
		return nil
	}}
}

// sendCapa sends CAPA without reading its answer, for Login to read
// behind the commands it pipelines (Config.ExpectPipelining).
func (c *Client) sendCapa() error {
	c.owedCaps = Capabilities{}
	return c.send(capaCommand(c.owedCaps))
}

// settleCapa reads the answer to a CAPA sent by sendCapa, as capa would.
func (c *Client) settleCapa() error {
	if c.owedCaps == nil {
		return nil
	}
	caps := c.owedCaps
	c.owedCaps = nil
	if err := c.flush(); err != nil {
		return err
	}
	_, err := c.readReply()
	return c.setCaps(caps, err)
}

// perUserCaps reports whether the capabilities hold a value that RFC 2449
// says is only known for this user after login.
func (c Capabilities) perUserCaps() bool {
	return c.userTag("EXPIRE") || c.userTag("LOGIN-DELAY")
}
