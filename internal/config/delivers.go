package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Deliver entries: decoding [[account.deliver]] and [[defaults.deliver]]
// tables, and the rules between an entry's keys.

// delivered is the outcome of decoding one list of deliver entries.
type delivered struct {
	list []Deliver // the valid entries
	at   []where   // where each entry of list was set, for account-level checks
	n    int       // how many entries there were, valid or not
}

// delivers decodes the deliver entries of an account or of [defaults].
func (d *decoder) delivers(w where, raw any) delivered {
	header := "[[" + w.path + ".deliver]]"
	tables, ok := asTables(raw)
	if !ok {
		d.add(w, keyDeliver, "must be an array of tables: write "+header+` with maildir = "…" under it`)
		return delivered{}
	}
	out := delivered{n: len(tables)}
	for i, t := range tables {
		ew := w
		ew.inst = w.inst + ".deliver#" + strconv.Itoa(i)
		ew.path = w.path + ".deliver"
		ew.entry = "deliver #" + strconv.Itoa(i+1)
		before := len(d.problems)
		vals, bad := decodeTable(d, ew, deliverFields, t, nil, hintDeliver)
		set := func(key string) bool { _, ok := vals[key]; return ok || bad[key] }
		var targets []string
		for _, f := range deliverFields {
			if f.target && set(f.key) {
				targets = append(targets, f.key)
			}
		}
		switch len(targets) {
		case 0:
			d.add(ew, "", `no target: set maildir = "~/Maildir" (or mbox, mda, mda_shell, smtp or lmtp) in this `+header+" table")
		case 1:
			d.checkEntry(ew, targets[0], set)
		default:
			d.add(ew, targets[1], "this entry already has "+targets[0]+": one target per entry; add another "+header+" table for the second")
		}
		if len(d.problems) == before {
			var dv Deliver
			apply(&dv, deliverFields, vals)
			dv.fillDefaults()
			out.list = append(out.list, dv)
			out.at = append(out.at, ew)
		}
	}
	return out
}

// checkEntry checks the keys of an entry whose target is kind against each
// other. set reports whether a key is set, with a valid value or not.
func (d *decoder) checkEntry(w where, kind string, set func(string) bool) {
	for _, f := range deliverFields {
		if f.only != nil && set(f.key) && !slices.Contains(f.only, kind) {
			d.add(w, f.key, fmt.Sprintf("only applies to %s targets, this entry is %s", orList(f.only), kind))
		}
	}
	if kind != "smtp" {
		return
	}
	var sources, all []string
	for _, f := range deliverFields {
		if f.group == "smtp_password" {
			all = append(all, f.key)
			if set(f.key) {
				sources = append(sources, f.key)
			}
		}
	}
	switch {
	case len(sources) > 1:
		last := len(sources) - 1
		d.add(w, sources[last], fmt.Sprintf("conflicts with %s: set at most one of %s",
			strings.Join(sources[:last], " and "), strings.Join(all, ", ")))
	case len(sources) == 1 && !set("smtp_user"):
		d.add(w, sources[0], `needs smtp_user: set the SMTP login name, e.g. smtp_user = "me@example.com"`)
	case len(sources) == 0 && set("smtp_user"):
		d.add(w, "smtp_user", "needs a password: set smtp_password_file, smtp_password_command, smtp_password_credential or smtp_password "+
			"(or remove smtp_user if the server needs no login)")
	}
}

// checkDelivers checks the rules between the keys of the account at w and
// its deliver entries; at says where each entry was set, which is in
// [defaults] for inherited entries.
func (d *decoder) checkDelivers(w where, a *Account, at []where) {
	for i, dv := range a.Deliver {
		ew := at[i]
		ew.account = w.account
		host := hostOf(dv.SMTP)
		if dv.SMTP != "" && dv.SMTPTLS == "none" && dv.SMTPUser != "" && !isLoopback(host) && !a.AllowInsecure {
			d.add(ew, "smtp_tls", fmt.Sprintf(`"none" sends the SMTP login and password to %s unencrypted: `+
				`use smtp_tls = "starttls" or "implicit", or set allow_insecure = true in the account to accept the risk`, host))
		}
	}
}

// orList joins words as "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	last := len(words) - 1
	return strings.Join(words[:last], ", ") + " or " + words[last]
}
