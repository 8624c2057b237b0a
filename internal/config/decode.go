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
		v, msg := decodeValue(f.kind, f.enum, raw[k])
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
	}
	if !ok {
		panic(fmt.Sprintf("config: schema bug: key %q: cannot store %T in %T", key, v, ptr))
	}
}

// decodeValue turns a raw TOML value into the Go value for k, or says what is
// wrong with it.
func decodeValue(k kind, enum []string, raw any) (any, string) {
	switch k {
	case kindString, kindPath, kindEnum:
		s, ok := raw.(string)
		if !ok {
			return nil, mustBe("a string", raw)
		}
		switch k {
		case kindPath:
			p, err := expandPath(s)
			if err != nil {
				return nil, err.Error()
			}
			return p, ""
		case kindEnum:
			if !slices.Contains(enum, s) {
				return nil, "must be one of " + quoteList(enum) + ", got " + quote(s)
			}
		}
		return s, ""
	case kindBool:
		b, ok := raw.(bool)
		if !ok {
			return nil, mustBe("true or false", raw)
		}
		return b, ""
	case kindInt:
		n, ok := raw.(int64)
		if !ok {
			return nil, mustBe("an integer", raw)
		}
		if int64(int(n)) != n {
			return nil, fmt.Sprintf("%d is too large", n)
		}
		return int(n), ""
	case kindDuration:
		switch v := raw.(type) {
		case string:
			dur, err := ParseDuration(v)
			if err != nil {
				return nil, "bad duration " + quote(v) + ": " + strings.TrimPrefix(err.Error(), "time: ") +
					`; write it like "90s", "15m", "1h30m" or "30d"`
			}
			return dur, ""
		case int64:
			return nil, fmt.Sprintf(`must be a duration string with a unit, got the number %d (write "%ds" for seconds)`, v, v)
		}
		return nil, mustBe(`a duration string like "90s" or "1d12h"`, raw)
	case kindSize:
		switch v := raw.(type) {
		case int64:
			return v, ""
		case string:
			n, err := ParseSize(v)
			if err != nil {
				return nil, "bad size " + quote(v) + ": " + err.Error()
			}
			return n, ""
		}
		return nil, mustBe(`a byte count, or a string with a unit like "50MB" or "1MiB"`, raw)
	case kindStringList:
		arr, ok := raw.([]any)
		if !ok {
			return nil, mustBe(`an array of strings like ["pass", "show", "mail/work"]`, raw)
		}
		out := make([]string, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Sprintf("element %d %s", i+1, mustBe("a string", e))
			}
			out[i] = s
		}
		return out, ""
	}
	panic(fmt.Sprintf("config: schema bug: unknown kind %d", k))
}

// mustBe says which type was wanted and which was found, with a hint when
// the value was merely quoted.
func mustBe(want string, raw any) string {
	msg := "must be " + want + ", got " + describe(raw)
	if s, ok := raw.(string); ok {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil && want == "an integer" {
			msg += " (write it without quotes)"
		}
		if (s == "true" || s == "false") && want == "true or false" {
			msg += " (write it without quotes)"
		}
	}
	return msg
}

// describe names a raw TOML value's type, with the value when it is short.
func describe(raw any) string {
	switch v := raw.(type) {
	case string:
		return "the string " + quote(v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return fmt.Sprintf("the number %g", v)
	case bool:
		return fmt.Sprintf("%t", v)
	case []any:
		return "an array"
	case []map[string]any:
		return "an array of tables"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date/time"
	}
	return fmt.Sprintf("a %T", raw)
}

// quote is strconv.Quote, shortened for values too long to be worth echoing.
func quote(s string) string {
	const maxLen = 80
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "…"
	}
	return strconv.Quote(s)
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
