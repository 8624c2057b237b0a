package state

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// AccountKey is an account's identity in the store: renaming an account in the
// config must not download its mail again, so the display name is not part of
// it. Server is compared case-insensitively (DNS names are); User is compared
// exactly, since POP3 servers may treat user names case-sensitively.
type AccountKey struct {
	Server string
	Port   int
	User   string
}

// String returns the key in the form used as the account's bucket name:
// "pop3://USER@SERVER:PORT", with the server's ASCII letters lower-cased and
// both user and server percent-encoded, so a user such as "me@x.com" or "a:b"
// cannot be confused with the separators: "pop3://me%40x.com@pop.x.com:995". An IPv6
// server is bracketed: "pop3://u@[::1]:110".
//
// The encoding is ours (not net/url's) because it must never change: a
// different bucket name for the same account would make fetchd forget what it
// delivered and deliver it all again.
func (k AccountKey) String() string {
	host := escape(lowerASCII(k.Server), ':')
	return "pop3://" + escape(k.User, 0) + "@" + net.JoinHostPort(host, strconv.Itoa(k.Port))
}

// ParseAccountKey is the inverse of AccountKey.String.
func ParseAccountKey(s string) (AccountKey, error) {
	rest, ok := strings.CutPrefix(s, "pop3://")
	if !ok {
		return AccountKey{}, fmt.Errorf("account key %q: missing pop3:// prefix", s)
	}
	// The user is escaped, so the first '@' ends it.
	user, hostport, ok := strings.Cut(rest, "@")
	if !ok {
		return AccountKey{}, fmt.Errorf("account key %q: missing '@' after the user", s)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return AccountKey{}, fmt.Errorf("account key %q: %w", s, err)
	}
	var k AccountKey
	if k.User, err = unescape(user); err != nil {
		return AccountKey{}, fmt.Errorf("account key %q: user: %w", s, err)
	}
	if k.Server, err = unescape(host); err != nil {
		return AccountKey{}, fmt.Errorf("account key %q: server: %w", s, err)
	}
	if k.Port, err = strconv.Atoi(port); err != nil || strconv.Itoa(k.Port) != port {
		return AccountKey{}, fmt.Errorf("account key %q: bad port %q", s, port)
	}
	return k, nil
}

// validate rejects keys that cannot name a real POP3 account. Every store
// operation calls it, so a half-filled key is an error instead of a bucket
// shared by unrelated accounts.
func (k AccountKey) validate() error {
	switch {
	case k.Server == "":
		return errors.New("account key has no server")
	case k.User == "":
		return errors.New("account key has no user")
	case k.Port < 1 || k.Port > 65535:
		return fmt.Errorf("account key has port %d, want 1-65535", k.Port)
	}
	return nil
}

// lowerASCII lower-cases only A-Z: unlike strings.ToLower its result can never
// change with a new Unicode version, and bucket names must never change.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// unreserved reports whether b is kept as is by escape: the URI unreserved and
// sub-delims characters of RFC 3986 §2.2-2.3, without ':' and '@'.
func unreserved(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=", b) >= 0
}

// escape percent-encodes every byte of s that is not unreserved and not keep.
func escape(s string, keep byte) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		b := s[i]
		if unreserved(b) || (keep != 0 && b == keep) {
			sb.WriteByte(b)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[b>>4])
		sb.WriteByte(hex[b&0xf])
	}
	return sb.String()
}

func unescape(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			sb.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", fmt.Errorf("truncated escape at offset %d", i)
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q", s[i:i+3])
		}
		sb.WriteByte(byte(n))
		i += 2
	}
	return sb.String(), nil
}
