package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Decoding single TOML values by kind, and the wording of type errors.

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
	case kindStringList, kindStrings:
		if s, ok := raw.(string); ok && k == kindStrings {
			return []string{s}, ""
		}
		arr, ok := raw.([]any)
		if !ok {
			if k == kindStrings {
				return nil, mustBe("a string or an array of strings", raw)
			}
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
	case kindIntList:
		arr, ok := raw.([]any)
		if !ok {
			return nil, mustBe("an array of integers like [69, 73]", raw)
		}
		out := make([]int, len(arr))
		for i, e := range arr {
			n, ok := e.(int64)
			if !ok {
				return nil, fmt.Sprintf("element %d %s", i+1, mustBe("an integer", e))
			}
			if int64(int(n)) != n {
				return nil, fmt.Sprintf("element %d: %d is too large", i+1, n)
			}
			out[i] = int(n)
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
	if f, ok := raw.(float64); ok && want == "a string" {
		// tls_min_version = 1.2
		msg += fmt.Sprintf(` (write it in quotes: "%g")`, f)
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
