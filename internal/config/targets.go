package config

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Single-value checks for deliver entries and the delivery policy keys, used
// by the schema. Each gets the decoded value and returns what is wrong with
// it, or "".

func checkMDA(v any) string {
	argv := v.([]string)
	if len(argv) == 0 || argv[0] == "" {
		return `must name a program, e.g. ["/usr/bin/procmail", "-d", "me"] (it runs without a shell; use mda_shell for a shell command line)`
	}
	if p := argv[0]; !filepath.IsAbs(p) && strings.ContainsRune(p, '/') {
		msg := "the program must be an absolute path or a bare name looked up in $PATH, got " + quote(p)
		if strings.HasPrefix(p, "~") {
			msg += " (~ is not expanded here: write the full path)"
		}
		return msg
	}
	for i, a := range argv {
		if strings.ContainsRune(a, 0) {
			return fmt.Sprintf("element %d must not contain NUL characters", i+1)
		}
	}
	return ""
}

func checkMDAShell(v any) string {
	s := v.(string)
	switch {
	case strings.TrimSpace(s) == "":
		return `must not be empty: write a command line for /bin/sh -c, e.g. mda_shell = "procmail -d \"$USER\""`
	case strings.ContainsRune(s, 0):
		return "must not contain NUL characters"
	}
	return ""
}

func checkSMTP(v any) string { return checkHostPort(v.(string), "smtp", 25) }

func checkLMTP(v any) string {
	s := v.(string)
	switch {
	case filepath.IsAbs(s):
		if strings.ContainsRune(s, 0) {
			return "must not contain NUL characters"
		}
		return ""
	case strings.HasPrefix(s, "~"):
		return "write the socket's full path (~ is not expanded here), got " + quote(s)
	case strings.ContainsRune(s, '/') && !strings.Contains(s, "://"):
		return "must be an absolute unix socket path or host:port, got " + quote(s)
	}
	return checkHostPort(s, "lmtp", 24)
}

// checkHostPort checks a "host:port" address for key, whose usual port is
// port (for the examples in messages).
func checkHostPort(s, key string, port int) string {
	example := fmt.Sprintf("%s = \"localhost:%d\"", key, port)
	if strings.Contains(s, "://") {
		return "must be host:port, not a URL: write " + example
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		switch {
		case s == "":
			return "must not be empty: write " + example
		case !strings.Contains(s, ":") || strings.HasPrefix(s, "[") && net.ParseIP(bare) != nil:
			return fmt.Sprintf("must include the port: write %s = %q", key, net.JoinHostPort(bare, strconv.Itoa(port)))
		case net.ParseIP(s) != nil:
			return fmt.Sprintf("write an IPv6 address in brackets, with the port: %s = %q", key, net.JoinHostPort(s, strconv.Itoa(port)))
		}
		return "must be host:port, e.g. " + example + ", got " + quote(s)
	}
	if host == "" {
		return "the host must not be empty: write " + example
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "the port must be a number 1..65535, got " + quote(p)
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isBare(c) && c != '.' {
			return "the host must be a host name or IP address, got " + quote(host)
		}
	}
	return ""
}

// badAddressChars may not appear in an envelope address: they would break the
// SMTP command or the MDA's argument, or are a sign of "<addr>" or "Name <addr>".
const badAddressChars = " \t\r\n\x00<>"

func checkRecipients(v any) string {
	for i, r := range v.([]string) {
		switch {
		case r == "":
			return fmt.Sprintf("element %d must not be empty", i+1)
		case strings.ContainsAny(r, badAddressChars):
			return fmt.Sprintf("element %d must be a bare address or user name, without spaces, line breaks or <>, got %s",
				i+1, quote(r))
		}
	}
	return ""
}

func checkFrom(v any) string {
	s := v.(string)
	switch {
	case s == "":
		return "must not be empty: leave from out to keep the default envelope sender"
	case strings.ContainsAny(s, badAddressChars):
		return "must be a bare address like \"fetchd@example.com\", without spaces, line breaks or <>, got " + quote(s)
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "must be an address like \"fetchd@example.com\", got " + quote(s)
	}
	return ""
}

func checkExitCodes(v any) string {
	for i, n := range v.([]int) {
		if n < 1 || n > 255 {
			return fmt.Sprintf("element %d must be an exit status 1..255, got %d", i+1, n)
		}
	}
	return ""
}

// lookupUser is user.Lookup; tests replace it so they do not depend on the
// machine's users.
var lookupUser = user.Lookup

func checkRunAs(v any) string {
	s := v.(string)
	if s == "" {
		return "must not be empty: leave run_as out to deliver as the user fetchd runs as"
	}
	if _, err := lookupUser(s); err != nil {
		if errors.As(err, new(user.UnknownUserError)) {
			return "no such local user " + quote(s) + ": give the name of an existing user (see /etc/passwd)"
		}
		return "cannot look up user " + quote(s) + ": " + err.Error()
	}
	return ""
}
