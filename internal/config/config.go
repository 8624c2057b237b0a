// Package config loads fetchd's TOML configuration file: it decodes the file
// against a schema (schema.go), fills in defaults, lets every account inherit
// what it does not set from [defaults], and validates the result.
//
// Every problem in a file is reported at once, as an *Errors listing each
// problem with its file, line (when known), account and key, so one run of
// `fetchd check` shows everything that needs fixing. Unknown keys are errors,
// with a suggestion when the key looks like a typo of a known one.
//
// Secrets are resolved lazily by Account.Secret, Deliver.SMTPSecret and
// OAuth2.Secret, never while loading, and are never part of Describe or
// String. No problem shows any part of an inline password or client secret,
// not even a syntax error in it (redact.go).
package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is a loaded, validated configuration file.
type Config struct {
	Path      string // the file it was loaded from
	State     string // bbolt path: default DefaultStatePath(), "~/" expanded
	LogLevel  string // "trace" | "debug" | "info" (default) | "warn" | "error"
	LogFormat string // "auto" (default) | "console" | "json"
	Accounts  []*Account

	// For `fetchd run`.
	MaxParallel  int    // accounts polling at once; default 16
	MaxPerServer int    // sessions at once to one Account.Server value; default 8
	Listen       string // loopback host:port for /metrics, /status and /healthz; "" = none
	// NotifyCommand is run, without a shell, once per event that needs the
	// user's attention (such as an account paused after rejected logins),
	// with one JSON object describing it on stdin. nil = none.
	NotifyCommand []string
}

// Account returns the account with the given name, or nil.
func (c *Config) Account(name string) *Account {
	for _, a := range c.Accounts {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Account is one POP3 mailbox, merged with [defaults] and validated.
type Account struct {
	Name          string // unique, [A-Za-z0-9._-]+
	Server        string // host name or IP address, no port
	Port          int    // default 995 with implicit TLS, 110 otherwise
	TLS           string // "implicit" (default) | "starttls" | "none"
	AllowInsecure bool   // credentials may cross the network in cleartext
	User          string

	// The password (or, with auth "xoauth2" or "oauthbearer" and no
	// OAuth2 table, the access token) comes from exactly one of these,
	// resolved by Secret. An account with an OAuth2 table has none of them.
	Password        string   // inline secret; never printed by Describe or String
	PasswordFile    string   // absolute path, "~/" expanded
	PasswordCommand []string // argv, run without a shell
	// PasswordCredential names a file in $CREDENTIALS_DIRECTORY (systemd
	// LoadCredential=); a plain file name.
	PasswordCredential string
	// Auth is "auto" (default), "user", "apop", or a SASL mechanism:
	// "plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256",
	// "xoauth2", "oauthbearer" (pop3.ParseAuthMethod takes each). With an
	// OAuth2 table it is "xoauth2" or "oauthbearer"; "auto" becomes
	// "xoauth2" there, since a server's list of mechanisms cannot tell
	// which one sends the token.
	Auth string
	// OAuth2 is the account's [account.oauth2] table, or the
	// [defaults.oauth2] table it inherits; nil when it has neither. The
	// access token then comes from fetchd's token store, never from a
	// password source.
	OAuth2         *OAuth2
	Keep           bool // keep messages on the server after delivery
	Timeout        time.Duration
	MaxMessageSize int64 // bytes; 0 = no limit
	// Oversize is what happens to a message over MaxMessageSize: "skip"
	// (default) leaves it on the server, reported once (log and
	// notify_command); "delete" deletes it undelivered, the one case where
	// fetchd deletes mail it did not deliver. "delete" needs
	// MaxMessageSize.
	Oversize string
	// DeleteAfter, with Keep (required), deletes a message on the server
	// this long after its delivery (0: never), as getmail's delete_after.
	DeleteAfter time.Duration
	// Per poll, at most MaxMessagesPerPoll new messages are fetched, and
	// past the first none that would take the poll over MaxBytesPerPoll;
	// the rest waits for the next poll (0: no limit). Deletions of
	// delivered messages do not count.
	MaxMessagesPerPoll int
	MaxBytesPerPoll    int64
	Deliver            []Deliver

	// TLS. TLSConfig turns the first five into a *tls.Config.
	TLSMinVersion string // "1.2" (default) | "1.3"
	CAFile        string // PEM bundle trusted instead of the system roots; "" = system roots
	TLSServerName string // the name the certificate must match; "" = Server
	TLSClientCert string // PEM client certificate; set with TLSClientKey or not at all
	TLSClientKey  string // PEM private key, mode 0600 or stricter
	// Pins: when either list is set, the server's certificate must match
	// one entry (pop3.Config.CertFingerprints and SPKIPins), and a pinned
	// self-signed certificate is accepted. Only with TLS "implicit" or
	// "starttls". The strings are as written; the arrays are their SHA-256
	// values, in the same order.
	TLSFingerprint  []string   // SHA-256 of the certificate, hex, colons optional
	TLSPinSPKI      []string   // base64 SHA-256 of the SubjectPublicKeyInfo, "sha256/" optional
	TLSFingerprints [][32]byte // parsed TLSFingerprint
	TLSPinsSPKI     [][32]byte // parsed TLSPinSPKI

	// What to do with a message a delivery target refuses permanently:
	// "keep" (default) leaves it on the server and tries again after
	// FailedRetryAfter; "quarantine" delivers it to QuarantineMaildir.
	OnPermanentFailure string
	QuarantineMaildir  string        // absolute path, "~/" expanded; required with "quarantine"
	FailedRetryAfter   time.Duration // default 24h
	TraceHeaders       bool          // prepend a Received: trace header; default true
	RunAs              string        // local user to deliver as; "" = the user fetchd runs as

	// InitialSyncLimit arms the lost-state guard for keep mode: with no
	// record of the account and more messages than this on the server,
	// nothing is fetched until --mark-seen or --initial-sync (0: off).
	InitialSyncLimit int
	SessionTimeout   time.Duration // bounds one whole poll; default 1h

	// When `fetchd run` polls. Schedule is a cron.ParseStandard spec: five
	// fields or a descriptor such as "@every 5m" (the default). Each poll
	// starts up to Jitter after its time, and at most a tenth of the
	// interval, so that accounts on one server do not poll in lockstep.
	Schedule string
	Jitter   time.Duration // default 30s; 0 = none
	// A failing account waits exponentially longer between polls, at most
	// BackoffMax (default 1h). After PauseAfterAuthFailures consecutive
	// polls whose login the server rejected (default 3), the account pauses
	// until `fetchd resume` or a reload that changes its credentials.
	BackoffMax             time.Duration
	PauseAfterAuthFailures int
}

// Built-in defaults, applied after [defaults] for keys nobody set.
const (
	DefaultTimeout       = 60 * time.Second
	DefaultTLS           = "implicit"
	DefaultAuth          = "auto"
	DefaultTLSMinVersion = "1.2"
	DefaultLogLevel      = "info"
	DefaultLogFmt        = "auto"
	PortImplicitTLS      = 995
	PortPlain            = 110 // also the STARTTLS port

	DefaultOnPermanentFailure = "keep"
	DefaultFailedRetryAfter   = 24 * time.Hour
	DefaultMDATimeout         = 10 * time.Minute
	DefaultInitialSyncLimit   = 1000
	DefaultOversize           = "skip"
	DefaultSessionTimeout     = time.Hour

	DefaultMaxParallel            = 16
	DefaultMaxPerServer           = 8
	DefaultSchedule               = "@every 5m"
	DefaultJitter                 = 30 * time.Second
	DefaultBackoffMax             = time.Hour
	DefaultPauseAfterAuthFailures = 3
)

// Addr is the account's server address in host:port form, as net.Dial wants it
// (IPv6 literals are bracketed).
func (a *Account) Addr() string {
	return net.JoinHostPort(a.Server, strconv.Itoa(a.Port))
}

// Describe is a one-line summary for `fetchd check`, for example
//
//	work: me@example.com at pop.example.com:995 (implicit TLS, auth auto, delete after delivery) → maildir /home/u/Mail/work, smtp localhost:25 (none)
//
// with ", oauth2 google" (or "microsoft", "custom") after the auth method of
// an account with an OAuth2 table. It never includes a secret.
func (a *Account) Describe() string {
	var tls string
	switch a.TLS {
	case "implicit":
		tls = "implicit TLS"
	case "starttls":
		tls = "STARTTLS"
	case "none":
		tls = "no TLS"
	default:
		tls = "tls " + a.TLS
	}
	keep := "delete after delivery"
	switch {
	case a.Keep && a.DeleteAfter > 0:
		keep = "keep on server, delete " + days(a.DeleteAfter) + " after delivery"
	case a.Keep:
		keep = "keep on server"
	}
	if a.MaxMessageSize > 0 && a.Oversize == "delete" {
		keep += ", delete undelivered if over max_message_size"
	}
	targets := make([]string, len(a.Deliver))
	for i, d := range a.Deliver {
		targets[i] = d.String()
	}
	auth := a.Auth
	if a.OAuth2 != nil {
		auth += ", oauth2 " + a.OAuth2.String()
	}
	return fmt.Sprintf("%s: %s at %s (%s, auth %s, %s) → %s",
		a.Name, a.User, a.Addr(), tls, auth, keep, strings.Join(targets, ", "))
}

// days writes d in whole days when it is some ("30d"), else as Go does.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// String is Describe. It has a value receiver so that printing an Account or
// an *Account with %v or %+v never shows the inline password.
func (a Account) String() string { return a.Describe() }

// GoString keeps %#v from printing the inline password.
func (a Account) GoString() string { return "config.Account{" + a.Describe() + "}" }
