package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// MessageInfo is one line of a LIST or UIDL listing.
type MessageInfo struct {
	Num  int
	Size int64  // -1 when from UIDL
	UID  string // "" when from LIST
}

// connState is where the client is in the RFC 1939 §3 state machine.
type connState int

const (
	stateAuthorization connState = iota // RFC 1939 §4
	stateTransaction                    // RFC 1939 §5
)

// Client is a POP3 connection. Its methods must not be called concurrently,
// except Close, which may be called from another goroutine to abort.
type Client struct {
	cfg  Config
	raw  net.Conn      // the network connection; closing it ends everything
	dc   *deadlineConn // raw with deadlines and context interruption
	br   *bufio.Reader // over dc, or over a *tls.Conn over dc
	bw   *bufio.Writer
	tls  *tls.Conn // nil without TLS
	caps Capabilities
	// owedCaps collects the answer to a CAPA sent and not yet read
	// (Config.ExpectPipelining); nil when none is owed.
	owedCaps Capabilities
	// preCaps is the CAPA answer before login when Login asked again
	// after it (RFC 2449 §6.5, §6.7: per-user values); nil otherwise.
	preCaps Capabilities

	// pending holds the commands whose replies are still to be read, in the
	// order sent. Replies are matched to it by readReply. With RFC 2449
	// PIPELINING, RETRs go ahead (PlanRetr) and DELEs do not wait
	// (DeleAsync). While it is empty the server must be silent (idle.go).
	pending   []command
	lastReply string        // verb of the last reply read to its end, for errors
	plan      []MessageInfo // RETRs to send ahead (PlanRetr), from planHead on
	planHead  int
	planAt    map[int]int // message number → index in plan
	wantRetr  int         // the message whose RETR reply retrReply waits for
	deleSent  bool        // a DELE went out in this session
	state     connState
	broken    error     // first error that left the stream out of step
	body      *retrBody // RETR body not yet read to its end or closed
	timestamp string    // APOP timestamp from the greeting, with its angle brackets
	secret    string    // password during Login, redacted from server lines

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Dial connects, sets up TLS as cfg.TLS says, reads the greeting and asks
// for the server's capabilities. On error nothing is left open.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.Addr, err)
	}
	return c, nil
}

func dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	var tcfg *tls.Config
	switch cfg.TLS {
	case TLSImplicit, TLSStartTLS:
		var err error
		if tcfg, err = cfg.tlsConfig(); err != nil {
			return nil, err
		}
	case TLSNone:
	default:
		return nil, fmt.Errorf("%w: unknown TLS mode %d", ErrInvalidArgument, int(cfg.TLS))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	raw, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	dc := &deadlineConn{Conn: raw, timeout: cfg.Timeout, minRate: cfg.MinRate}
	c := &Client{
		cfg: cfg,
		raw: raw,
		dc:  dc,
		br:  bufio.NewReaderSize(dc, maxReplyLine),
		bw:  bufio.NewWriterSize(dc, 512),
	}
	stop := c.dc.watch(ctx)
	err = c.open(ctx, tcfg)
	stop()
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// connect opens the TCP connection within cfg.ConnectTimeout, even when ctx
// has no deadline.
func connect(ctx context.Context, cfg Config) (net.Conn, error) {
	dialFn := cfg.DialContext
	if dialFn == nil {
		dialFn = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	raw, err := dialFn(dctx, "tcp", cfg.Addr)
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return nil, fmt.Errorf("connect: not connected within %v: %w", cfg.ConnectTimeout, err)
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	return raw, nil
}

// open runs the steps of Dial after the TCP connection is up.
func (c *Client) open(ctx context.Context, tcfg *tls.Config) error {
	if c.cfg.TLS == TLSImplicit {
		if err := c.handshake(ctx, tcfg); err != nil {
			return err
		}
	}
	// RFC 1939 §4: the server greets first; the greeting is the reply to
	// connecting, so it takes its place in the queue like any other.
	c.pending = append(c.pending, command{verb: "greeting"})
	r, err := c.readReply()
	if err != nil {
		return err
	}
	c.timestamp = findTimestamp(r.text)
	if c.cfg.ExpectPipelining && c.cfg.TLS != TLSStartTLS {
		// Login reads the answer behind the commands it sends.
		return c.sendCapa()
	}
	if err := c.capa(); err != nil {
		return err
	}
	if c.cfg.TLS == TLSStartTLS {
		return c.startTLS(ctx, tcfg)
	}
	return nil
}

// TLSState returns the TLS connection state, and false without TLS.
func (c *Client) TLSState() (tls.ConnectionState, bool) {
	if c.tls == nil {
		return tls.ConnectionState{}, false
	}
	return c.tls.ConnectionState(), true
}

// Close drops the connection without QUIT: the server rolls back DELE
// (RFC 1939 §6). It is safe to call more than once and from another
// goroutine.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.closeOnce.Do(func() {
		// Close the TCP connection, not the *tls.Conn: a close_notify to a
		// stalled server could block.
		c.closeErr = c.raw.Close()
	})
	return c.closeErr
}

// fail marks the client broken by err, closes the connection and returns err.
func (c *Client) fail(err error) error {
	if c.broken == nil {
		c.broken = err
	}
	c.Close()
	return err
}

// begin starts the operation op: it finishes an unread RETR body, refuses if
// the client is broken, and makes ctx interrupt the operation's I/O.
func (c *Client) begin(ctx context.Context, op string, needLogin bool) (stop func(), err error) {
	if c.body != nil {
		c.body.Close() // on failure it marks the client broken
	}
	if c.broken == nil && c.closed.Load() {
		c.broken = errClosed
	}
	if c.broken != nil {
		return nil, fmt.Errorf("%s: %w: %v", op, ErrBroken, c.broken)
	}
	if needLogin && c.state != stateTransaction {
		return nil, fmt.Errorf("%s: not logged in", op)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return c.dc.watch(ctx), nil
}

// simple runs one command with a single-line reply as operation op.
func (c *Client) simple(ctx context.Context, op string, needLogin bool, cmd command) (reply, error) {
	stop, err := c.begin(ctx, op, needLogin)
	if err != nil {
		return reply{}, err
	}
	defer stop()
	r, err := c.roundTrip(cmd)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	return r, nil
}

func (c *Client) trace(dir, line string) {
	if c.cfg.Trace != nil {
		c.cfg.Trace(dir, line)
	}
}

// errClosed is what a closed client was broken by.
var errClosed = errors.New("client closed")
