package discover

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzSplitAddress: never panics; what it accepts splits again into the
// same parts, with a domain that is lower-case ASCII without a trailing dot.
func FuzzSplitAddress(f *testing.F) {
	for _, s := range []string{"me@example.com", "Me@Example.COM.", `"a@b"@example.org`, "@", "a@b", "x@xn--bcher-kva.example", "me@bücher.de", "me@a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		local, domain, err := SplitAddress(s)
		if err != nil {
			return
		}
		if domain != strings.ToLower(domain) || strings.HasSuffix(domain, ".") || local == "" {
			t.Fatalf("SplitAddress(%q) = %q, %q", s, local, domain)
		}
		l2, d2, err := SplitAddress(local + "@" + domain)
		if err != nil || l2 != local || d2 != domain {
			t.Fatalf("round trip of %q: %q, %q, %v", s, l2, d2, err)
		}
	})
}

// FuzzParseHostPort: never panics; an accepted host and port join into a
// string that parses back to them.
func FuzzParseHostPort(f *testing.F) {
	for _, s := range []string{"pop.example.com", "pop.example.com:995", "[2001:db8::1]:110", "2001:db8::1", "localhost:0", "a:b:c", "pop3s://x", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := ParseHostPort(s)
		if err != nil {
			return
		}
		if host == "" || port < 0 || port > 65535 {
			t.Fatalf("ParseHostPort(%q) = %q, %d", s, host, port)
		}
		if port == 0 {
			return
		}
		h2, p2, err := ParseHostPort(net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("round trip of %q (%q, %d): %q, %d, %v", s, host, port, h2, p2, err)
		}
	})
}
