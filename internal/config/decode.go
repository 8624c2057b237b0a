package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder walks the tree toml.Decode produced against the schema, collecting
// problems instead of stopping at the first.
type decoder struct {
	file     string
	pos      *positions
	order    map[string]int // dotted key path → first appearance in the file
	problems []*Problem
}

// where is the table a value came from, for messages and line numbers.
type where struct {
	section string // "defaults", or ""
	account string // the account's name or "#N", or ""
	inst    string // the table's instance id in positions
	path    string // dotted table path, for file order: "account.deliver"
	entry   string // deliver entry label, "deliver #1", or ""
}

// add records a problem with key in w; key "" means the table itself.
func (d *decoder) add(w where, key, msg string) {
	k := key
	if w.entry != "" {
		k = w.entry
		if key != "" {
			k += ": " + key
		}
	}
	d.problems = append(d.problems, &Problem{
		File: d.file, Line: d.pos.line(w.inst, key),
		Section: w.section, Account: w.account, Key: k, Msg: msg,
	})
}

// unknown reports a key the schema does not know, suggesting the closest
// known key, or explaining where the key belongs when hint knows.
func (d *decoder) unknown(w where, key string, known []string, hint string) {
	msg := "unknown key " + quote(key)
	if s := suggest(key, known); s != "" {
		msg += " (did you mean " + strconv.Quote(s) + "?)"
	} else if hint != "" {
		msg += " (" + hint + ")"
	} else {
		msg += "; known keys: " + strings.Join(known, ", ")
	}
	d.problems = append(d.problems, &Problem{
		File: d.file, Line: d.pos.line(w.inst, key),
		Section: w.section, Account: w.account, Key: w.entry, Msg: msg,
	})
}

// sortedKeys returns m's keys in file order (keys only found inline, if any,
// after the rest, by name), so problems come out in a stable, readable order.
func (d *decoder) sortedKeys(path string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		full := k
		if path != "" {
			full = path + "." + k
		}
		if r, ok := d.order[full]; ok {
			return r
		}
		return len(d.order)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return keys
}

// decodeTable decodes the keys of raw that fields knows into a map from key
// to decoded value, reporting values that do not decode (those keys go in
// bad). Keys in tables are left to the caller; any other key is unknown, and
// hint may explain where it belongs.
func decodeTable[T any](d *decoder, w where, fields []field[T], raw map[string]any, tables []string, hint func(key string) string) (vals map[string]any, bad map[string]bool) {
	vals, bad = map[string]any{}, map[string]bool{}
	known := slices.Clone(tables)
	for _, f := range fields {
		known = append(known, f.key)
	}
	for _, k := range d.sortedKeys(w.path, raw) {
		if slices.Contains(tables, k) {
			continue
		}
		i := slices.IndexFunc(fields, func(f field[T]) bool { return f.key == k })
		if i < 0 {
			d.unknown(w, k, known, hint(k))
			continue
		}
		f := fields[i]
		if w.section == keyDefaults && f.noDefault {
			d.add(w, k, "cannot be set in [defaults]: each account needs its own")
			bad[k] = true
			continue
		}
		var v any
		var msg string
		if _, ok := raw[k].(string); f.secret && !ok {
			// mustBe would show the value: `password = 12345678`.
			msg = secretTypeMsg
		} else {
			v, msg = decodeValue(f.kind, f.enum, raw[k])
		}
		if msg == "" && f.check != nil {
			msg = f.check(v)
		}
		if msg != "" {
			d.add(w, k, msg)
			bad[k] = true
			continue
		}
		vals[k] = v
	}
	return vals, bad
}

// apply stores decoded values into t through the schema's pointers.
func apply[T any](t *T, fields []field[T], vals map[string]any) {
	for _, f := range fields {
		if v, ok := vals[f.key]; ok {
			assign(f.key, f.ptr(t), v)
		}
	}
}

// assign stores v in *ptr. A mismatch is a bug in the schema table, which
// TestSchema catches.
func assign(key string, ptr, v any) {
	ok := false
	switch p := ptr.(type) {
	case *string:
		*p, ok = v.(string)
	case *bool:
		*p, ok = v.(bool)
	case *int:
		*p, ok = v.(int)
	case *int64:
		*p, ok = v.(int64)
	case *time.Duration:
		*p, ok = v.(time.Duration)
	case *[]string:
		*p, ok = v.([]string)
	case *[]int:
		*p, ok = v.([]int)
	}
	if !ok {
		panic(fmt.Sprintf("config: schema bug: key %q: cannot store %T in %T", key, v, ptr))
	}
}
