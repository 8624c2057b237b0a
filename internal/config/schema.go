package config

// The schema: every key the file may hold, what kind of value it takes, and
// where the value goes. Adding a key is one line in one of these tables (plus
// the struct field it fills); decoding, type errors, unknown-key suggestions,
// [defaults] inheritance and per-value checks all follow from the entry.
// Rules that involve more than one key live in validate.go.

// kind is how a TOML value is decoded, and which Go type ptr must point to.
type kind int

const (
	kindString     kind = iota // *string
	kindPath                   // *string: "~/" expanded, must be absolute
	kindEnum                   // *string: one of field.enum
	kindBool                   // *bool
	kindInt                    // *int
	kindDuration               // *time.Duration: "90s", "30d", "1d12h"
	kindSize                   // *int64: 1234, "50MB", "1MiB"
	kindStringList             // *[]string
	kindIntList                // *[]int
	kindStrings                // *[]string: one string, or an array of them
)

// field describes one key of a table whose values land in a T.
type field[T any] struct {
	key  string
	kind kind
	ptr  func(*T) any // where the decoded value goes; the type must fit kind
	enum []string     // allowed values, for kindEnum
	// check is an extra rule on the decoded value (a string, bool, int,
	// time.Duration, int64, []string or []int, by kind); it returns what is
	// wrong, or "".
	check func(v any) string
	// group names alternative sources of one password: at most one key of a
	// group may be set. Account keys of a group are also inherited from
	// [defaults] as a unit: setting any one in the account inherits none.
	group string
	// secret marks a key whose value is a password: no problem message may
	// show any part of it (decodeTable words its type errors, and its check
	// must never quote the value).
	secret bool

	// Account keys only.
	noDefault bool // may not be set in [defaults]

	// Deliver keys only.
	target bool     // names the target; exactly one target key per entry
	only   []string // the target kinds a non-target key applies to
}

// Keys that are tables, not values; the decoder walks them itself.
const (
	keyDefaults = "defaults"
	keyAccount  = "account"
	keyDeliver  = "deliver"
	keyOAuth2   = "oauth2"
)

// configFields are the top-level keys. They must come before any table.
var configFields = []field[Config]{
	{key: "state", kind: kindPath, ptr: func(c *Config) any { return &c.State }},
	{key: "log_level", kind: kindEnum, enum: []string{"trace", "debug", "info", "warn", "error"}, ptr: func(c *Config) any { return &c.LogLevel }},
	{key: "log_format", kind: kindEnum, enum: []string{"auto", "console", "json"}, ptr: func(c *Config) any { return &c.LogFormat }},
	{key: "max_parallel", kind: kindInt, check: checkRange(1, 256), ptr: func(c *Config) any { return &c.MaxParallel }},
	{key: "max_per_server", kind: kindInt, check: checkRange(1, 256), ptr: func(c *Config) any { return &c.MaxPerServer }},
	{key: "listen", kind: kindString, check: checkListen, ptr: func(c *Config) any { return &c.Listen }},
	{key: "notify_command", kind: kindStringList, check: checkNotifyCommand, ptr: func(c *Config) any { return &c.NotifyCommand }},
}

// accountFields are the keys of an [[account]] table, and of [defaults].
var accountFields = []field[Account]{
	{key: "name", kind: kindString, noDefault: true, check: checkName, ptr: func(a *Account) any { return &a.Name }},
	{key: "server", kind: kindString, check: checkServer, ptr: func(a *Account) any { return &a.Server }},
	{key: "port", kind: kindInt, check: checkRange(1, 65535), ptr: func(a *Account) any { return &a.Port }},
	{key: "tls", kind: kindEnum, enum: []string{"implicit", "starttls", "none"}, ptr: func(a *Account) any { return &a.TLS }},
	{key: "allow_insecure", kind: kindBool, ptr: func(a *Account) any { return &a.AllowInsecure }},
	{key: "user", kind: kindString, check: checkProtocolString, ptr: func(a *Account) any { return &a.User }},
	{key: "password", kind: kindString, group: "password", secret: true, check: checkPassword, ptr: func(a *Account) any { return &a.Password }},
	{key: "password_file", kind: kindPath, group: "password", ptr: func(a *Account) any { return &a.PasswordFile }},
	{key: "password_command", kind: kindStringList, group: "password", check: checkArgv, ptr: func(a *Account) any { return &a.PasswordCommand }},
	{key: "password_credential", kind: kindString, group: "password", check: checkCredential, ptr: func(a *Account) any { return &a.PasswordCredential }},
	{key: "auth", kind: kindEnum, enum: authMethods, ptr: func(a *Account) any { return &a.Auth }},
	{key: "tls_min_version", kind: kindString, check: checkTLSVersion, ptr: func(a *Account) any { return &a.TLSMinVersion }},
	{key: "ca_file", kind: kindPath, check: checkCAFile, ptr: func(a *Account) any { return &a.CAFile }},
	{key: "tls_server_name", kind: kindString, check: checkServerName, ptr: func(a *Account) any { return &a.TLSServerName }},
	{key: "tls_client_cert", kind: kindPath, check: checkClientCert, ptr: func(a *Account) any { return &a.TLSClientCert }},
	{key: "tls_client_key", kind: kindPath, check: checkClientKey, ptr: func(a *Account) any { return &a.TLSClientKey }},
	{key: "tls_fingerprint", kind: kindStrings, check: checkFingerprints, ptr: func(a *Account) any { return &a.TLSFingerprint }},
	{key: "tls_pin_spki", kind: kindStrings, check: checkSPKIPins, ptr: func(a *Account) any { return &a.TLSPinSPKI }},
	{key: "keep", kind: kindBool, ptr: func(a *Account) any { return &a.Keep }},
	{key: "timeout", kind: kindDuration, check: checkPositive, ptr: func(a *Account) any { return &a.Timeout }},
	{key: "max_message_size", kind: kindSize, check: checkNonNegative, ptr: func(a *Account) any { return &a.MaxMessageSize }},
	{key: "oversize", kind: kindEnum, enum: []string{"skip", "delete"}, ptr: func(a *Account) any { return &a.Oversize }},
	{key: "delete_after", kind: kindDuration, check: checkNonNegativeDuration, ptr: func(a *Account) any { return &a.DeleteAfter }},
	{key: "max_messages_per_poll", kind: kindInt, check: checkRange(0, 1<<30), ptr: func(a *Account) any { return &a.MaxMessagesPerPoll }},
	{key: "max_bytes_per_poll", kind: kindSize, check: checkNonNegative, ptr: func(a *Account) any { return &a.MaxBytesPerPoll }},
	{key: "on_permanent_failure", kind: kindEnum, enum: []string{"keep", "quarantine"}, ptr: func(a *Account) any { return &a.OnPermanentFailure }},
	{key: "quarantine_maildir", kind: kindPath, ptr: func(a *Account) any { return &a.QuarantineMaildir }},
	{key: "failed_retry_after", kind: kindDuration, check: checkPositive, ptr: func(a *Account) any { return &a.FailedRetryAfter }},
	{key: "trace_headers", kind: kindBool, ptr: func(a *Account) any { return &a.TraceHeaders }},
	{key: "initial_sync_limit", kind: kindInt, check: checkRange(0, 1<<30), ptr: func(a *Account) any { return &a.InitialSyncLimit }},
	{key: "session_timeout", kind: kindDuration, check: checkPositive, ptr: func(a *Account) any { return &a.SessionTimeout }},
	{key: "run_as", kind: kindString, check: checkRunAs, ptr: func(a *Account) any { return &a.RunAs }},
	{key: "schedule", kind: kindString, check: checkSchedule, ptr: func(a *Account) any { return &a.Schedule }},
	{key: "jitter", kind: kindDuration, check: checkNonNegativeDuration, ptr: func(a *Account) any { return &a.Jitter }},
	{key: "backoff_max", kind: kindDuration, check: checkPositive, ptr: func(a *Account) any { return &a.BackoffMax }},
	{key: "pause_after_auth_failures", kind: kindInt, check: checkRange(1, 1000), ptr: func(a *Account) any { return &a.PauseAfterAuthFailures }},
}

// deliverFields are the keys of an [[account.deliver]] or
// [[defaults.deliver]] entry.
var deliverFields = []field[Deliver]{
	{key: "maildir", kind: kindPath, target: true, ptr: func(d *Deliver) any { return &d.Maildir }},
	{key: "mbox", kind: kindPath, target: true, ptr: func(d *Deliver) any { return &d.Mbox }},
	{key: "mda", kind: kindStringList, target: true, check: checkMDA, ptr: func(d *Deliver) any { return &d.MDA }},
	{key: "mda_shell", kind: kindString, target: true, check: checkMDAShell, ptr: func(d *Deliver) any { return &d.MDAShell }},
	{key: "smtp", kind: kindString, target: true, check: checkSMTP, ptr: func(d *Deliver) any { return &d.SMTP }},
	{key: "lmtp", kind: kindString, target: true, check: checkLMTP, ptr: func(d *Deliver) any { return &d.LMTP }},

	{key: "recipients", kind: kindStringList, only: envelopeKinds, check: checkRecipients, ptr: func(d *Deliver) any { return &d.Recipients }},
	{key: "from", kind: kindString, only: envelopeKinds, check: checkFrom, ptr: func(d *Deliver) any { return &d.From }},
	{key: "mda_temp_codes", kind: kindIntList, only: mdaKinds, check: checkExitCodes, ptr: func(d *Deliver) any { return &d.MDATempCodes }},
	{key: "mda_timeout", kind: kindDuration, only: mdaKinds, check: checkPositive, ptr: func(d *Deliver) any { return &d.MDATimeout }},
	{key: "smtp_tls", kind: kindEnum, enum: []string{"implicit", "starttls", "none"}, only: smtpKinds, ptr: func(d *Deliver) any { return &d.SMTPTLS }},
	{key: "smtp_user", kind: kindString, only: smtpKinds, check: checkProtocolString, ptr: func(d *Deliver) any { return &d.SMTPUser }},
	{key: "smtp_password", kind: kindString, group: "smtp_password", secret: true, only: smtpKinds, check: checkPassword, ptr: func(d *Deliver) any { return &d.SMTPPassword }},
	{key: "smtp_password_file", kind: kindPath, group: "smtp_password", only: smtpKinds, ptr: func(d *Deliver) any { return &d.SMTPPasswordFile }},
	{key: "smtp_password_command", kind: kindStringList, group: "smtp_password", only: smtpKinds, check: checkArgv, ptr: func(d *Deliver) any { return &d.SMTPPasswordCommand }},
	{key: "smtp_password_credential", kind: kindString, group: "smtp_password", only: smtpKinds, check: checkCredential, ptr: func(d *Deliver) any { return &d.SMTPPasswordCredential }},
}

// authMethods are the values of auth, spelled as pop3.AuthMethod.String
// spells them (TestAuthMethodsMatchPOP3 keeps the two in step). They are
// listed here rather than taken from package pop3 so that messages name them
// in a fixed order, and the configuration does not depend on the client.
var authMethods = []string{"auto", "user", "apop", "plain", "login", "cram-md5",
	"scram-sha-1", "scram-sha-256", "xoauth2", "oauthbearer"}

// Target kinds that deliver keys apply to.
var (
	mdaKinds      = []string{"mda", "mda_shell"}
	envelopeKinds = []string{"mda", "mda_shell", "smtp", "lmtp"} // targets that take an envelope
	smtpKinds     = []string{"smtp"}
)
