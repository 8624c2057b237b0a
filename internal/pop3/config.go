package pop3

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// TLSMode says how the connection is protected.
type TLSMode int

const (
	TLSImplicit TLSMode = iota // TLS from the first byte (RFC 8314, port 995); the default
	TLSStartTLS                // plain connection upgraded with STLS (RFC 2595); STLS is mandatory
	TLSNone                    // no TLS; credentials need Config.AllowInsecure
)

func (m TLSMode) String() string {
	switch m {
	case TLSImplicit:
		return "implicit"
	case TLSStartTLS:
		return "starttls"
	case TLSNone:
		return "none"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// Config says where and how to connect. The zero value of each field is a
// safe default.
type Config struct {
	Addr string // host:port
	TLS  TLSMode
	// TLSConfig is an optional base, cloned. ServerName defaults to Addr's
	// host, MinVersion is raised to TLS 1.2, InsecureSkipVerify is refused.
	TLSConfig *tls.Config
	// AllowInsecure allows credentials over a connection without TLS.
	AllowInsecure bool
	// Timeout is the deadline of each read and each write, and bounds the
	// whole of each TLS handshake; 0 → 60s.
	Timeout time.Duration
	// ConnectTimeout bounds the TCP connect, whatever ctx says; 0 → Timeout.
	ConnectTimeout time.Duration
	// MinRate is the slowest the server may send, in octets per second,
	// averaged over windows of Timeout counting only the time spent
	// waiting for it (so a slow reader does not count against the
	// server); slower fails with ErrTooSlow. It applies to every reply:
	// status lines, listings and RETR bodies. 0 → 1024, negative = no
	// minimum.
	MinRate int64
	// ExpectPipelining says the server announced PIPELINING in an earlier
	// session. Then, unless STLS must come first, CAPA is sent without
	// waiting for its answer, and Login with AuthUser sends USER and PASS
	// right behind it: a round trip saved on every poll.
	ExpectPipelining bool
	// MaxMessageSize caps one RETR body, in octets after dot-unstuffing;
	// 0 = no cap.
	MaxMessageSize int64
	// MaxLineLength caps one body line, in octets without its line ending;
	// 0 → 1 MiB, negative = no cap.
	MaxLineLength int
	// DialContext opens the TCP connection; nil → a net.Dialer. It must
	// return when its ctx is done: that is how ConnectTimeout applies.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Trace, if set, is called with "C" or "S" and each command or status
	// line without CRLF. Passwords and APOP digests are replaced with
	// "<redacted>"; message bodies and listings are not traced.
	Trace func(dir, line string)

	// Pinning. When either list is set, the server's certificate must
	// match one of its entries (SHA-256 of the leaf certificate's DER, or
	// of its SubjectPublicKeyInfo), and a pinned certificate is accepted
	// even when no CA vouches for it (a self-signed server). Host name and
	// expiry are then not checked: the pin names the exact key.
	CertFingerprints [][32]byte
	SPKIPins         [][32]byte
}

const (
	defaultTimeout       = 60 * time.Second
	defaultMaxLineLength = 1 << 20
	defaultMinRate       = 1024
)

// withDefaults returns cfg with its zero values replaced by the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = cfg.Timeout
	}
	if cfg.MinRate == 0 {
		cfg.MinRate = defaultMinRate
	}
	if cfg.MaxLineLength == 0 {
		cfg.MaxLineLength = defaultMaxLineLength
	}
	return cfg
}
