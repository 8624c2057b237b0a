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
)

// field describes one key of a table whose values land in a T.
type field[T any] struct {
	key  string
	kind kind
	ptr  func(*T) any // where the decoded value goes; the type must fit kind
	enum []string     // allowed values, for kindEnum
	// check is an extra rule on the decoded value (a string, bool, int,
	// time.Duration, int64 or []string, by kind); it returns what is wrong,
	// or "".
	check func(v any) string

	// Account keys only.
	noDefault bool   // may not be set in [defaults]
	group     string // keys inherited from [defaults] as a unit: setting any one in the account inherits none

	// Deliver keys only.
	target bool // names the target; exactly one target key per entry
}

// Keys that are tables, not values; the decoder walks them itself.
const (
	keyDefaults = "defaults"
	keyAccount  = "account"
	keyDeliver  = "deliver"
)

// configFields are the top-level keys. They must come before any table.
var configFields = []field[Config]{
	{key: "state", kind: kindPath, ptr: func(c *Config) any { return &c.State }},
	{key: "log_level", kind: kindEnum, enum: []string{"trace", "debug", "info", "warn", "error"}, ptr: func(c *Config) any { return &c.LogLevel }},
	{key: "log_format", kind: kindEnum, enum: []string{"auto", "console", "json"}, ptr: func(c *Config) any { return &c.LogFormat }},
}

// accountFields are the keys of an [[account]] table, and of [defaults].
var accountFields = []field[Account]{
	{key: "name", kind: kindString, noDefault: true, check: checkName, ptr: func(a *Account) any { return &a.Name }},
	{key: "server", kind: kindString, check: checkServer, ptr: func(a *Account) any { return &a.Server }},
	{key: "port", kind: kindInt, check: checkRange(1, 65535), ptr: func(a *Account) any { return &a.Port }},
	{key: "tls", kind: kindEnum, enum: []string{"implicit", "starttls", "none"}, ptr: func(a *Account) any { return &a.TLS }},
	{key: "allow_insecure", kind: kindBool, ptr: func(a *Account) any { return &a.AllowInsecure }},
	{key: "user", kind: kindString, check: checkProtocolString, ptr: func(a *Account) any { return &a.User }},
	{key: "password", kind: kindString, group: "password", check: checkProtocolString, ptr: func(a *Account) any { return &a.Password }},
	{key: "password_file", kind: kindPath, group: "password", ptr: func(a *Account) any { return &a.PasswordFile }},
	{key: "password_command", kind: kindStringList, group: "password", check: checkArgv, ptr: func(a *Account) any { return &a.PasswordCommand }},
	{key: "auth", kind: kindEnum, enum: []string{"auto", "user", "apop"}, ptr: func(a *Account) any { return &a.Auth }},
	{key: "keep", kind: kindBool, ptr: func(a *Account) any { return &a.Keep }},
	{key: "timeout", kind: kindDuration, check: checkPositive, ptr: func(a *Account) any { return &a.Timeout }},
	{key: "max_message_size", kind: kindSize, check: checkNonNegative, ptr: func(a *Account) any { return &a.MaxMessageSize }},
}

// deliverFields are the keys of an [[account.deliver]] or
// [[defaults.deliver]] entry.
var deliverFields = []field[Deliver]{
	{key: "maildir", kind: kindPath, target: true, ptr: func(d *Deliver) any { return &d.Maildir }},
}
