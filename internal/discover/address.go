package discover

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// SplitAddress splits an email address into its local part and its domain,
// the domain lower-cased and without a trailing dot. The domain must be a
// host name in ASCII (an internationalized one in its xn-- form).
func SplitAddress(addr string) (local, domain string, err error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", "", fmt.Errorf("%q is not an email address: write it as name@example.com", addr)
	}
	local, domain = addr[:at], addr[at+1:]
	if local == "" {
		return "", "", fmt.Errorf("%q has nothing before the @: write it as name@example.com", addr)
	}
	if i := strings.IndexFunc(local, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return "", "", fmt.Errorf("%q: the part before the @ contains a space or control character", addr)
	}
	domain, err = checkDomain(domain)
	if err != nil {
		return "", "", fmt.Errorf("%q: the domain %w", addr, err)
	}
	return local, domain, nil
}

// checkDomain returns s lower-cased without a trailing dot if it is a host
// name: labels of letters, digits and hyphens (RFC 1123 §2.1), each 1 to 63
// octets, at most 253 in all, at least two labels.
func checkDomain(s string) (string, error) {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	switch {
	case s == "":
		return "", errors.New("is empty")
	case len(s) > 253:
		return "", errors.New("is longer than 253 characters")
	case !strings.Contains(s, "."):
		return "", fmt.Errorf("%q has no dot: write the full domain, e.g. example.com", s)
	}
	for _, label := range strings.Split(s, ".") {
		if err := checkLabel(label); err != nil {
			return "", fmt.Errorf("%q: %w", s, err)
		}
	}
	return s, nil
}

func checkLabel(l string) error {
	if l == "" || len(l) > 63 {
		return errors.New("each part between dots must be 1 to 63 characters long")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("%q begins or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c >= 0x80 {
			return errors.New("is not ASCII: write it in its xn-- form, as `idn2` or your registrar shows it")
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%q holds %q: only letters, digits and hyphens are allowed", l, c)
		}
	}
	return nil
}

// ParseHostPort parses what a user gives for a server: "host", "host:port",
// "[v6addr]:port", or a bare IPv6 address. The port is 0 when not given.
func ParseHostPort(s string) (host string, port int, err error) {
	if s == "" {
		return "", 0, errors.New("no server given: write host or host:port, e.g. pop.example.com:995")
	}
	if net.ParseIP(s) != nil {
		return s, 0, nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if ip := net.ParseIP(s[1 : len(s)-1]); ip != nil && strings.Contains(s, ":") {
			return s[1 : len(s)-1], 0, nil
		}
	}
	if strings.Contains(s, "://") || strings.Contains(s, "/") {
		return "", 0, fmt.Errorf("%q: write a host name, not a URL", s)
	}
	host = s
	if h, p, splitErr := net.SplitHostPort(s); splitErr == nil {
		n, convErr := strconv.Atoi(p)
		if convErr != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
		}
		host, port = h, n
	} else if strings.Contains(s, ":") {
		return "", 0, fmt.Errorf("%q: write host:port, or an IPv6 address in brackets: [2001:db8::1]:995", s)
	}
	if net.ParseIP(host) != nil {
		return host, port, nil
	}
	h, err := checkHost(host)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", s, err)
	}
	return h, port, nil
}

// checkHost is checkDomain without the rule that a name has a dot:
// "localhost" and a LAN's single-label names are servers too.
func checkHost(s string) (string, error) {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if s == "" || len(s) > 253 {
		return "", errors.New("the host name must be 1 to 253 characters long")
	}
	for _, label := range strings.Split(s, ".") {
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}
	return s, nil
}

// Within reports whether host is domain or a name under it, ignoring case
// and a trailing dot: the test RFC 6186 §6 asks of an SRV target before a
// client connects to it without asking the user.
func Within(host, domain string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if host == "" || domain == "" {
		return false
	}
	return host == domain || strings.HasSuffix(host, "."+domain)
}
