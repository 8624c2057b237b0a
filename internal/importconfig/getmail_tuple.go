package importconfig

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// getmail reads "tuple of quoted strings" values with Python's eval. This
// reads the same literal without evaluating anything: a parenthesised,
// comma-separated list of string literals ('…', "…", triple-quoted, with an
// optional r/u/b prefix, adjacent literals joined), as in
//
//	password_command = ("pass", "show", 'mail/work')
//	destinations = ("~/Mail/inbox/", "[procmail]",)

// parseTuple parses a Python tuple of strings.
func parseTuple(s string) ([]string, error) {
	p := &tupleParser{s: s}
	p.space()
	if !p.eat('(') {
		return nil, errors.New(`not a tuple: write ("first", "second") or ("only one",)`)
	}
	var out []string
	single := true // one item and no comma: Python reads ("x") as a string
	for {
		p.space()
		if p.eat(')') {
			break
		}
		item, err := p.strings()
		if err != nil {
			return nil, err
		}
		out = append(out, item)
		p.space()
		if p.eat(',') {
			single = false
			continue
		}
		if !p.eat(')') {
			return nil, errors.New("expected , or ) after a string")
		}
		break
	}
	p.space()
	if p.i != len(p.s) {
		return nil, errors.New("text after the closing parenthesis")
	}
	if single && len(out) == 1 {
		return nil, errors.New(`one string in parentheses is not a tuple: add a comma, as in ("only one",)`)
	}
	return out, nil
}

type tupleParser struct {
	s string
	i int
}

func (p *tupleParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n\f\v", p.s[p.i]) >= 0 {
		p.i++
	}
	// A comment runs to the end of the line.
	if p.i < len(p.s) && p.s[p.i] == '#' {
		for p.i < len(p.s) && p.s[p.i] != '\n' {
			p.i++
		}
		p.space()
	}
}

func (p *tupleParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// strings reads one or more adjacent string literals and joins them.
func (p *tupleParser) strings() (string, error) {
	var b strings.Builder
	n := 0
	for {
		p.space()
		start := p.i
		raw := false
		for k := 0; k < 2 && p.i < len(p.s) && strings.IndexByte("rRuUbB", p.s[p.i]) >= 0; k++ {
			raw = raw || p.s[p.i] == 'r' || p.s[p.i] == 'R'
			p.i++
		}
		if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\'') {
			p.i = start
			if n == 0 {
				return "", errors.New("expected a quoted string")
			}
			return b.String(), nil
		}
		s, err := p.literal(raw)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		n++
	}
}

// literal reads one quoted string starting at its opening quote.
func (p *tupleParser) literal(raw bool) (string, error) {
	q := p.s[p.i : p.i+1]
	if strings.HasPrefix(p.s[p.i:], q+q+q) {
		q = q + q + q
	}
	p.i += len(q)
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", errors.New("a string is not closed")
		}
		if strings.HasPrefix(p.s[p.i:], q) {
			p.i += len(q)
			return b.String(), nil
		}
		c := p.s[p.i]
		switch {
		case c == '\n' && len(q) == 1:
			return "", errors.New("a string is not closed on its line")
		case c != '\\':
			b.WriteByte(c)
			p.i++
		case p.i+1 >= len(p.s):
			return "", errors.New("a string is not closed")
		case raw:
			b.WriteString(p.s[p.i : p.i+2])
			p.i += 2
		default:
			if err := p.escape(&b); err != nil {
				return "", err
			}
		}
	}
}

// escape reads one backslash escape of a non-raw string.
func (p *tupleParser) escape(b *strings.Builder) error {
	c := p.s[p.i+1]
	p.i += 2
	if simple := strings.IndexByte("\\'\"abfnrtv\n", c); simple >= 0 {
		b.WriteString([]string{"\\", "'", "\"", "\a", "\b", "\f", "\n", "\r", "\t", "\v", ""}[simple])
		return nil
	}
	width, base := 0, 16
	switch {
	case c >= '0' && c <= '7':
		p.i--
		width, base = 3, 8
	case c == 'x':
		width = 2
	case c == 'u':
		width = 4
	case c == 'U':
		width = 8
	default:
		b.WriteByte('\\') // Python keeps an unknown escape as it is
		b.WriteByte(c)
		return nil
	}
	digits := "0123456789abcdefABCDEF"
	if base == 8 {
		digits = "01234567"
	}
	j := p.i
	for j < len(p.s) && j-p.i < width && strings.IndexByte(digits, p.s[j]) >= 0 {
		j++
	}
	if base == 16 && j-p.i != width || j == p.i {
		return errors.New(`a \x, \u or \U escape is too short`)
	}
	v, _ := strconv.ParseUint(p.s[p.i:j], base, 32)
	p.i = j
	if c == 'x' || base == 8 {
		b.WriteRune(rune(v)) // Python: a code point, written in UTF-8
		return nil
	}
	if !utf8.ValidRune(rune(v)) {
		return errors.New("an escape names no Unicode character")
	}
	b.WriteRune(rune(v))
	return nil
}
