package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// validateAccount checks the rules that involve more than one key, or a key's
// absence, on an account merged with [defaults]. Rules on a single value are
// the schema's check functions, so a bad value in [defaults] is reported
// once, there, rather than once per account.
func (d *decoder) validateAccount(w where, a *Account, present map[string]bool, dl delivered) {
	if !present["name"] {
		d.add(w, "name", `required: give every account a unique name, e.g. name = "work"; it is how the command line refers to it`)
	}
	if !present["server"] {
		d.add(w, "server", `required: set the POP3 server's host name, e.g. server = "pop.example.com"`)
	}
	if !present["user"] {
		d.add(w, "user", `required: set the login name, e.g. user = "me@example.com"`)
	}
	if a.TLS == "none" && !a.AllowInsecure {
		d.add(w, "tls", `"none" sends your password and mail across the network unencrypted: `+
			`use tls = "implicit" (port 995) or "starttls" if the server offers either, `+
			`or set allow_insecure = true to accept the risk (for a server on localhost or a trusted network)`)
	}

	var sources []string
	for _, f := range accountFields {
		if f.group == "password" && present[f.key] {
			sources = append(sources, f.key)
		}
	}
	switch {
	case len(sources) == 0 && !present[keyOAuth2]:
		d.add(w, "", `no password: set password_file = "~/.config/fetchd/NAME.pass", `+
			`password_command = ["pass", "show", "…"], password_credential = "NAME" (systemd LoadCredential), or password = "…" `+
			`(or, for an OAuth2 provider, add an [account.oauth2] table)`)
	case len(sources) > 1:
		last := len(sources) - 1
		d.add(w, sources[last], fmt.Sprintf("conflicts with %s: set exactly one of %s",
			strings.Join(sources[:last], " and "), strings.Join(sourceKeys(), ", ")))
	}

	if a.TLS == "none" {
		for _, k := range []string{"tls_fingerprint", "tls_pin_spki"} {
			if present[k] {
				d.add(w, k, `pins the server's certificate, but tls = "none" makes no TLS connection: `+
					`use tls = "implicit" or "starttls", or remove `+k)
			}
		}
	}
	d.checkClientPair(w, a, present)

	if dl.n == 0 {
		d.add(w, keyDeliver, `no delivery target: add an [[account.deliver]] table with maildir = "~/Maildir" `+
			`after the account's keys, or a [[defaults.deliver]] table for every account`)
	}
	d.checkDelivers(w, a, dl.at)

	d.checkRetention(w, a, present)

	if a.OnPermanentFailure == "quarantine" && !present["quarantine_maildir"] {
		d.add(w, "quarantine_maildir", `required with on_permanent_failure = "quarantine": `+
			`set quarantine_maildir = "~/Mail/quarantine", or on_permanent_failure = "keep"`)
	}
}

// checkRetention checks the retention keys against keep and
// max_message_size.
func (d *decoder) checkRetention(w where, a *Account, present map[string]bool) {
	// As getmail's delete_after: a message stays on the server for a while
	// after delivery, which only keep mode does.
	if a.DeleteAfter > 0 && !a.Keep {
		d.add(w, "delete_after", "needs keep = true: delete_after keeps each message on the server "+
			"for that long after delivery and then deletes it, but keep = false deletes it right after delivery; "+
			"set keep = true, or remove delete_after")
	}
	if present["oversize"] && a.Oversize == "delete" && a.MaxMessageSize == 0 {
		d.add(w, "oversize", `"delete" deletes messages over max_message_size, which is not set: `+
			`set max_message_size = "25MB" (say), or remove oversize`)
	}
}

func sourceKeys() []string {
	var keys []string
	for _, f := range accountFields {
		if f.group == "password" {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// Single-value checks, used by the schema. Each gets the decoded value and
// returns what is wrong with it, or "".

// CheckName says what is wrong with an account name, or "" when it is
// valid: for commands that make up or take a name before writing it.
func CheckName(name string) string { return checkName(name) }

func checkName(v any) string {
	s := v.(string)
	if s == "" {
		return `must not be empty: give every account a unique name, e.g. name = "work"`
	}
	for i := 0; i < len(s); i++ {
		if !isBare(s[i]) && s[i] != '.' {
			return "must only use letters, digits, '.', '_' and '-' (it is typed on the command line), got " + quote(s)
		}
	}
	return ""
}

func checkServer(v any) string {
	s := v.(string)
	switch {
	case s == "":
		return `must not be empty: set the POP3 server's host name, e.g. server = "pop.example.com"`
	case strings.Contains(s, "://"):
		return "must be a host name, not a URL: write only the host (and set tls and port separately), got " + quote(s)
	case net.ParseIP(s) != nil:
		return ""
	case strings.HasPrefix(s, "["):
		if host, port, err := net.SplitHostPort(s); err == nil {
			return fmt.Sprintf("must be a host name without a port: write server = %q and port = %s", host, port)
		}
		return "write an IPv6 address without brackets, got " + quote(s)
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		return fmt.Sprintf("must be a host name without a port: write server = %q and port = %s", host, port)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isBare(c) && c != '.' {
			if c == ' ' || c == '\t' {
				return "must not contain spaces, got " + quote(s)
			}
			return "must be a host name or IP address, got " + quote(s)
		}
	}
	return ""
}

func checkRange(lo, hi int) func(any) string {
	return func(v any) string {
		if n := v.(int); n < lo || n > hi {
			return fmt.Sprintf("must be %d..%d, got %d", lo, hi, n)
		}
		return ""
	}
}

// checkProtocolString guards values sent in POP3 commands: a line break would
// end the command early and let the rest be read as a second command.
func checkProtocolString(v any) string {
	s := v.(string)
	if s == "" {
		return "must not be empty"
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "must not contain line breaks or NUL characters"
	}
	return ""
}

func checkArgv(v any) string { return checkProgram(v, `["pass", "show", "mail/work"]`) }

func checkNotifyCommand(v any) string {
	return checkProgram(v, `["/usr/local/bin/fetchd-notify"]`)
}

// checkProgram checks an argv run without a shell; example is one for the
// key, written as a TOML array.
func checkProgram(v any, example string) string {
	argv := v.([]string)
	if len(argv) == 0 || argv[0] == "" {
		return `must name a program, e.g. ` + example + ` (it runs without a shell; use ["sh", "-c", "…"] for one)`
	}
	return ""
}

func checkPositive(v any) string {
	if d := v.(time.Duration); d <= 0 {
		return fmt.Sprintf("must be more than zero, got %s", d)
	}
	return ""
}

func checkNonNegativeDuration(v any) string {
	if d := v.(time.Duration); d < 0 {
		return fmt.Sprintf("must be 0 (none) or more, got %s", d)
	}
	return ""
}

func checkNonNegative(v any) string {
	if n := v.(int64); n < 0 {
		return fmt.Sprintf("must be 0 (no limit) or more, got %d", n)
	}
	return ""
}

// scheduleHint ends schedule errors: the two forms cron.ParseStandard takes.
const scheduleHint = `use five fields (minute hour day-of-month month day-of-week), ` +
	`or a descriptor such as "@every 5m" or "@hourly"`

// checkSchedule accepts what the daemon's cron.ParseStandard accepts, less
// schedules that would never run or that robfig would quietly change.
func checkSchedule(v any) string {
	s := v.(string)
	if strings.TrimSpace(s) == "" {
		return "must not be empty: leave schedule out to poll every 5 minutes, or " + scheduleHint
	}
	spec := s
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		// ParseStandard cuts the zone at the first space and panics when
		// there is none.
		_, rest, ok := strings.Cut(s, " ")
		if !ok {
			return fmt.Sprintf(`bad schedule %s: put a space and the schedule after the time zone, `+
				`as in "CRON_TZ=Europe/Berlin 0 7 * * *"`, quote(s))
		}
		spec = strings.TrimSpace(rest)
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return fmt.Sprintf("bad schedule %s: %v; %s", quote(s), err, scheduleHint)
	}
	if every, ok := strings.CutPrefix(spec, "@every "); ok {
		// cron.Every turns anything under a second, zero and negative
		// intervals included, into one second.
		d, _ := time.ParseDuration(every) // ParseStandard parsed it already
		if d < time.Second {
			return fmt.Sprintf(`bad schedule %s: the interval must be at least 1s, got %s; write it like "@every 5m"`, quote(s), d)
		}
	}
	// A date that never comes ("0 0 30 2 *") makes Next return the zero time.
	if sched.Next(time.Now()).IsZero() {
		return fmt.Sprintf("bad schedule %s: no date matches it, so it would never run; %s", quote(s), scheduleHint)
	}
	return ""
}

// checkListen allows only loopback addresses: the endpoints have no
// authentication, and /status shows accounts and their servers.
func checkListen(v any) string {
	s := v.(string)
	const example = `listen = "127.0.0.1:9467"`
	if s == "" {
		return "must not be empty: leave listen out to serve no status endpoints, or write " + example
	}
	if strings.Contains(s, "://") {
		return "must be host:port, not a URL: write " + example
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		switch {
		case !strings.Contains(s, ":") || strings.HasPrefix(s, "[") && net.ParseIP(bare) != nil:
			return fmt.Sprintf("must include the port: write listen = %q", net.JoinHostPort(bare, "9467"))
		case net.ParseIP(s) != nil:
			return `write an IPv6 address in brackets, with the port: listen = "[::1]:9467"`
		}
		return "must be host:port, e.g. " + example + ", got " + quote(s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	portOK := err == nil && n > 0
	switch ip := net.ParseIP(host); {
	case host == "":
		if !portOK {
			port = "9467"
		}
		return fmt.Sprintf("the host must not be empty, which would listen on every interface: write listen = %q",
			net.JoinHostPort("127.0.0.1", port))
	case !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()):
		return "must be a loopback address such as 127.0.0.1:9467: " +
			"the status and metrics endpoints are not meant for the network, got " + quote(s)
	case !portOK:
		return "the port must be a number 1..65535, got " + quote(port)
	}
	return ""
}
