package deliver

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// LMTPConfig configures an LMTP target (RFC 2033): Dovecot's or Cyrus's
// local delivery agent.
type LMTPConfig struct {
	Addr    string        // an absolute Unix socket path, or host:port
	Timeout time.Duration // per command and reply; 0 → 60s, and 5m for the replies to the final dot
	Helo    string        // our name for LHLO; "" → os.Hostname()
}

// LMTP delivers to an LMTP server over a Unix socket or TCP, without TLS or
// AUTH: it is meant for a server on the same host.
//
// It works as SMTP does (one session across Stage calls, the transaction in
// Stage, Commit a no-op), except that after the final dot the server gives
// one reply per accepted recipient: when some accept and others do not,
// Stage returns a *RecipientsError naming both, and the accepted ones have
// the message for good.
type LMTP struct {
	relay
	network, addr string
}

var _ Deliverer = (*LMTP)(nil)

// NewLMTP checks cfg and returns an LMTP target. It does not connect: the
// first Stage does.
func NewLMTP(cfg LMTPConfig) (*LMTP, error) {
	l := &LMTP{addr: cfg.Addr}
	l.name = "lmtp " + cfg.Addr
	l.lmtp = true
	l.dial = l.connect
	l.timeout, l.dataTimeout = cfg.Timeout, cfg.Timeout
	if cfg.Timeout <= 0 {
		l.timeout, l.dataTimeout = 60*time.Second, 5*time.Minute
	}
	var err error
	if l.helo, err = relayHelo(cfg.Helo); err != nil {
		return nil, Permanent(l.name, "config", err)
	}
	switch {
	case filepath.IsAbs(cfg.Addr):
		l.network = "unix"
	case strings.Contains(cfg.Addr, "/"):
		return nil, Permanent(l.name, "config", errors.New("a socket path must be absolute"))
	default:
		l.network = "tcp"
		if _, err := relayHost(cfg.Addr); err != nil {
			return nil, Permanent(l.name, "config", err)
		}
	}
	return l, nil
}

// String returns "lmtp /path/to/socket" or "lmtp host:port".
func (l *LMTP) String() string { return l.name }

// Stage delivers the message: MAIL FROM:<env.From> (<> when empty), RCPT TO
// each of env.Recipients, DATA with the Received trace field and the body,
// then one reply per recipient. It returns a Staged only when every
// recipient accepted the message.
func (l *LMTP) Stage(ctx context.Context, env *Envelope, body io.Reader) (Staged, error) {
	return l.stage(ctx, env, body)
}

// Close ends the session with QUIT. The LMTP stays usable: the next Stage
// connects again.
func (l *LMTP) Close() error { return l.close() }

func (l *LMTP) connect(ctx context.Context) (*relaySession, error) {
	d := net.Dialer{Timeout: l.timeout}
	raw, err := d.DialContext(ctx, l.network, l.addr)
	if err != nil {
		return nil, smtpConnError(ctx, l.name, "connect", err)
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	s, err := l.greet(ctx, raw, raw)
	if !stop() && err == nil {
		s.c.Close()
		s, err = nil, Temporary(l.name, "connect", ctx.Err())
	}
	if err != nil {
		raw.Close()
		return nil, err
	}
	return s, nil
}
