package config

import (
	"fmt"
	"slices"
	"strconv"
)

// Accounts: decoding [defaults] and each [[account]], merging the two, and
// decoding deliver entries and oauth2 tables.

// inherited is what [defaults] gives accounts.
type inherited struct {
	vals    map[string]any  // decoded values
	bad     map[string]bool // keys set but invalid (already reported)
	deliver delivered       // [[defaults.deliver]]
	oauth2  oauth2Table     // [defaults.oauth2]
}

func (d *decoder) defaults(raw any) *inherited {
	inh := &inherited{vals: map[string]any{}, bad: map[string]bool{}}
	if raw == nil {
		return inh
	}
	w := where{section: keyDefaults, inst: keyDefaults, path: keyDefaults}
	m, ok := raw.(map[string]any)
	if !ok {
		d.add(w, "", "must be a single table: write [defaults], not [[defaults]]")
		return inh
	}
	inh.vals, inh.bad = decodeTable(d, w, accountFields, m, accountTables, hintAccount)
	if rd, ok := m[keyDeliver]; ok {
		inh.deliver = d.delivers(w, rd)
		// Account-level checks on these entries are reported per account,
		// as coming from [defaults].
		for i := range inh.deliver.at {
			inh.deliver.at[i].section = ""
			inh.deliver.at[i].entry += " (from [defaults])"
		}
	}
	if ro, ok := m[keyOAuth2]; ok {
		inh.oauth2 = d.oauth2(w, ro)
	}
	return inh
}

func (d *decoder) accounts(raw any, inh *inherited) []*Account {
	tables, ok := asTables(raw)
	if raw != nil && !ok {
		d.add(where{}, keyAccount, "must be an array of tables: write [[account]], not [account]")
		return nil
	}
	if len(tables) == 0 {
		d.problems = append(d.problems, &Problem{File: d.file,
			Msg: "no accounts: add an [[account]] table with name, server, user, a password source and an [[account.deliver]] target"})
		return nil
	}
	var out []*Account
	var ids []string                  // how messages name each account
	names := map[string]int{}         // name → index of the account that has it
	mailboxes := map[mailboxKey]int{} // → index of the account that polls it
	for i, t := range tables {
		id := "#" + strconv.Itoa(i+1)
		if n, ok := t["name"].(string); ok && n != "" && len(n) <= 64 {
			id = n
		}
		ids = append(ids, id)
		w := where{account: id, inst: keyAccount + "#" + strconv.Itoa(i), path: keyAccount}
		a := d.account(w, t, inh)
		if k, ok := mailboxOf(a); ok {
			if j, dup := mailboxes[k]; dup {
				first := out[j]
				d.add(w, "", fmt.Sprintf("server, port and user are those of %s (%s, %s): "+
					"two accounts would share one mailbox's records and poll it at once; remove one",
					accountLabel(ids[j]), first.Addr(), first.User))
			} else {
				mailboxes[k] = i
			}
		}
		if a.Name != "" {
			if j, dup := names[a.Name]; dup {
				prev := "account #" + strconv.Itoa(j+1)
				if l := d.pos.line(keyAccount+"#"+strconv.Itoa(j), "name"); l > 0 {
					prev += " (line " + strconv.Itoa(l) + ")"
				}
				d.add(w, "name", fmt.Sprintf("%s is already the name of %s: names must be unique", quote(a.Name), prev))
			} else {
				names[a.Name] = i
			}
		}
		out = append(out, a)
	}
	return out
}

// mailboxKey is an account's identity in the state store (state.AccountKey),
// normalised as the store normalises it: the server's ASCII letters
// lower-cased, since DNS names are case-insensitive; the user exact, since
// POP3 servers may tell "Me" from "me". Two accounts with one key would
// share one set of delivery records while polling the mailbox at once.
type mailboxKey struct {
	server string
	port   int
	user   string
}

// mailboxOf returns a's key, or false when a lacks a usable server, port or
// user (already reported).
func mailboxOf(a *Account) (mailboxKey, bool) {
	if a.Server == "" || a.Port == 0 || a.User == "" {
		return mailboxKey{}, false
	}
	server := []byte(a.Server)
	for i, c := range server {
		if 'A' <= c && c <= 'Z' {
			server[i] = c + 'a' - 'A'
		}
	}
	return mailboxKey{server: string(server), port: a.Port, user: a.User}, true
}

// account decodes one [[account]] table, merges it with [defaults], fills
// in built-in defaults and validates the result.
func (d *decoder) account(w where, t map[string]any, inh *inherited) *Account {
	own, bad := decodeTable(d, w, accountFields, t, accountTables, hintAccount)
	rawOA, ownOA := t[keyOAuth2]
	vals, present := inherit(own, bad, inh, ownOA)
	a := &Account{}
	apply(a, accountFields, vals)

	// The oauth2 table is inherited as a unit, like the password sources
	// it stands in for: not by an account with its own table, nor by one
	// that sets its own password source.
	oa := inh.oauth2
	switch {
	case ownOA:
		oa = d.oauth2(w, rawOA)
	case ownsGroup(own, bad, "password"):
		oa = oauth2Table{}
	}
	if oa.o != nil {
		o := *oa.o
		o.Scopes = slices.Clone(o.Scopes)
		o.account = a.Name
		a.OAuth2 = &o
	}
	present[keyOAuth2] = oa.set

	dl := inh.deliver
	if rd, ok := t[keyDeliver]; ok {
		dl = d.delivers(w, rd)
	}
	a.Deliver = slices.Clone(dl.list)
	for i := range a.Deliver {
		a.Deliver[i].account = a.Name
	}

	if a.TLS == "" {
		a.TLS = DefaultTLS
	}
	if a.Auth == "" {
		a.Auth = DefaultAuth
	}
	if a.Auth == "auto" && oa.set {
		// Only these two send a token; the server's list of mechanisms
		// cannot tell a token from a password.
		a.Auth = "xoauth2"
	}
	if a.TLSMinVersion == "" {
		a.TLSMinVersion = DefaultTLSMinVersion
	}
	a.TLSFingerprints = parsePins(a.TLSFingerprint, parseFingerprint)
	a.TLSPinsSPKI = parsePins(a.TLSPinSPKI, parseSPKIPin)
	if !present["timeout"] {
		a.Timeout = DefaultTimeout
	}
	if a.OnPermanentFailure == "" {
		a.OnPermanentFailure = DefaultOnPermanentFailure
	}
	if !present["failed_retry_after"] {
		a.FailedRetryAfter = DefaultFailedRetryAfter
	}
	if !present["trace_headers"] {
		a.TraceHeaders = true
	}
	if a.Oversize == "" {
		a.Oversize = DefaultOversize
	}
	if !present["initial_sync_limit"] {
		a.InitialSyncLimit = DefaultInitialSyncLimit
	}
	if !present["session_timeout"] {
		a.SessionTimeout = DefaultSessionTimeout
	}
	if a.Schedule == "" {
		a.Schedule = DefaultSchedule
	}
	if !present["jitter"] {
		a.Jitter = DefaultJitter
	}
	if !present["backoff_max"] {
		a.BackoffMax = DefaultBackoffMax
	}
	if !present["pause_after_auth_failures"] {
		a.PauseAfterAuthFailures = DefaultPauseAfterAuthFailures
	}
	if !present["port"] {
		a.Port = PortPlain
		if a.TLS == "implicit" {
			a.Port = PortImplicitTLS
		}
	}
	d.validateAccount(w, a, present, dl)
	if oa.set {
		d.checkOAuth2Account(w, a, present, !ownOA)
	}
	return a
}

// inherit merges an account's own values with [defaults]: each key the
// account does not set comes from [defaults], except that keys of a group
// (the password sources) come from [defaults] only if the account sets
// none of the group, nor has its own oauth2 table (ownOAuth2). present
// holds every key set for the account, valid or not, so that a key whose
// bad value was already reported is not also reported as missing.
func inherit(own map[string]any, ownBad map[string]bool, inh *inherited, ownOAuth2 bool) (vals map[string]any, present map[string]bool) {
	vals, present = map[string]any{}, map[string]bool{}
	ownGroups := map[string]bool{"password": ownOAuth2}
	for _, f := range accountFields {
		if f.group != "" && ownsGroup(own, ownBad, f.group) {
			ownGroups[f.group] = true
		}
	}
	for _, f := range accountFields {
		if v, ok := own[f.key]; ok {
			vals[f.key], present[f.key] = v, true
			continue
		}
		if ownBad[f.key] {
			present[f.key] = true
			continue
		}
		if f.group != "" && ownGroups[f.group] {
			continue
		}
		if v, ok := inh.vals[f.key]; ok {
			vals[f.key], present[f.key] = v, true
		} else if inh.bad[f.key] {
			present[f.key] = true
		}
	}
	return vals, present
}

// ownsGroup reports whether an account sets a key of group itself, with a
// valid value or not.
func ownsGroup(own map[string]any, ownBad map[string]bool, group string) bool {
	for _, f := range accountFields {
		if _, ok := own[f.key]; (ok || ownBad[f.key]) && f.group == group {
			return true
		}
	}
	return false
}

// accountTables are the keys of an account, or of [defaults], that are
// tables of their own.
var accountTables = []string{keyDeliver, keyOAuth2}

func hintTop(key string) string {
	switch {
	case key == keyOAuth2 || hasKey(oauth2Fields, key):
		return "OAuth2 settings go in an [account.oauth2] table, or in [defaults.oauth2] for every account"
	case key == keyDeliver || hasKey(deliverFields, key):
		return "delivery targets go in an [[account.deliver]] or [[defaults.deliver]] table"
	case hasKey(accountFields, key):
		return "account keys go in an [[account]] table, or in [defaults] for every account"
	}
	return ""
}

func hintAccount(key string) string {
	switch {
	case hasKey(configFields, key):
		return "top-level keys must come before the first table"
	case hasKey(deliverFields, key):
		return "delivery targets go in an [[account.deliver]] table, after the account's own keys"
	case hasKey(oauth2Fields, key):
		return "OAuth2 settings go in an [account.oauth2] table, after the account's own keys"
	}
	return ""
}

func hintDeliver(key string) string {
	switch {
	case hasKey(accountFields, key):
		return "keys after a deliver table header belong to that deliver entry: move account keys above the account's first deliver table"
	case hasKey(configFields, key):
		return "top-level keys must come before the first table"
	}
	return ""
}

func hasKey[T any](fields []field[T], key string) bool {
	return slices.ContainsFunc(fields, func(f field[T]) bool { return f.key == key })
}
