package config

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// ParseDuration is time.ParseDuration plus a day unit: "30d", "1d12h",
// "1.5d" and "90s" are all durations. A day is 24 hours (no calendar or DST
// arithmetic); the day part, when present, comes first.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	// None of Go's units (ns us µs ms s m h) contains a 'd'.
	i := strings.IndexByte(s, 'd')
	if i < 0 {
		return time.ParseDuration(s)
	}
	days, rest := s[:i], s[i+1:]
	if !isDecimal(days) {
		return 0, errors.New("the day count must be a plain number, as in \"30d\" or \"1d12h\"")
	}
	// Reuse ParseDuration's exact decimal handling and overflow checks by
	// spelling the days as hours.
	f, err := strconv.ParseFloat(days, 64)
	if err != nil || f*24 > float64(math.MaxInt64/int64(time.Hour)) {
		return 0, errors.New("too long")
	}
	d, err := time.ParseDuration(strconv.FormatFloat(f*24, 'f', -1, 64) + "h")
	if err != nil {
		return 0, errors.New("too long")
	}
	if rest == "" {
		return d, nil
	}
	if rest[0] == '-' || rest[0] == '+' {
		return 0, errors.New("a sign may only come first")
	}
	r, err := time.ParseDuration(rest)
	if err != nil {
		return 0, err
	}
	if d > math.MaxInt64-r {
		return 0, errors.New("too long")
	}
	return d + r, nil
}

// isDecimal reports whether s is digits with an optional fraction: "1", "1.5".
func isDecimal(s string) bool {
	dot := false
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// sizeUnits are the units ParseSize accepts, matched case-insensitively.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// ParseSize parses a byte count with an optional unit: "1234", "50MB"
// (10^6), "1MiB" (2^20), "1.5GB". A fraction is fine as long as the result is
// a whole number of bytes.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	if !isDecimal(num) {
		return 0, errors.New("must be a number of bytes with an optional unit, as in 1234, \"50MB\" or \"1MiB\"")
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, errors.New("unknown unit " + strconv.Quote(s[i:]) + ": use B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)")
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, errors.New("bad number " + strconv.Quote(num))
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, errors.New("is not a whole number of bytes")
	}
	if !r.Num().IsInt64() {
		return 0, errors.New("too large")
	}
	return r.Num().Int64(), nil
}
