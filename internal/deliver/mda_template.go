package deliver

import (
	"errors"
	"fmt"
	"strings"
)

// mdaTemplate is one MDA argument (or the whole shell command) split into
// literal text and placeholders.
type mdaTemplate []mdaPart

// mdaPart is literal text (ph == 0) or a placeholder ('T' or 'F').
type mdaPart struct {
	lit string
	ph  byte
}

// parseMDATemplate splits s at its placeholders: %T (first recipient), %F
// (envelope sender) and %% (a literal %). Any other % sequence is an error,
// so a typo such as %t fails when the configuration is loaded instead of
// reaching the MDA as text.
func parseMDATemplate(s string) (mdaTemplate, error) {
	var t mdaTemplate
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return nil, errors.New(`lone "%" at the end (write %% for a literal %)`)
		}
		i++
		switch c := s[i]; c {
		case '%':
			lit.WriteByte('%')
		case 'T', 'F':
			if lit.Len() > 0 {
				t = append(t, mdaPart{lit: lit.String()})
				lit.Reset()
			}
			t = append(t, mdaPart{ph: c})
		default:
			return nil, fmt.Errorf("unknown placeholder %q (known: %%T, %%F, %%%%)", "%"+string(c))
		}
	}
	if lit.Len() > 0 {
		t = append(t, mdaPart{lit: lit.String()})
	}
	return t, nil
}

// uses reports whether the template holds placeholder ph.
func (t mdaTemplate) uses(ph byte) bool {
	for _, p := range t {
		if p.ph == ph {
			return true
		}
	}
	return false
}

// render substitutes the values, passing each through quote (nil: as is).
func (t mdaTemplate) render(vals map[byte]string, quote func(string) string) string {
	var b strings.Builder
	for _, p := range t {
		switch {
		case p.ph == 0:
			b.WriteString(p.lit)
		case quote != nil:
			b.WriteString(quote(vals[p.ph]))
		default:
			b.WriteString(vals[p.ph])
		}
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell: inside single quotes every byte is
// literal except the single quote itself, which is written as a closing
// quote, a backslash-escaped quote and an opening quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkShellPlaceholders rejects a shell command in which a placeholder
// stands where our single quotes would not make its value inert. The value
// of %T and %F may come from the message (Return-Path), so it must reach the
// MDA as one literal word and never as shell syntax.
//
// Our quoting is only safe where the shell reads the quotes we add as quotes:
// outside any quoting of the user's own. Inside '…' our opening quote would
// close the user's and leave the value bare, as in
//
//	procmail -d '%T'  →  procmail -d ''a$(x)''
//
// and likewise inside "…" or after a backslash. Where a simple scan cannot
// follow the shell's parsing (a here-document, bash's $'…', a command
// substitution inside double quotes) every later placeholder is refused: the
// scan errs on the side of refusing. It cannot see through eval or a nested
// sh -c: a placeholder handed to those is parsed again, and no quoting helps
// there.
func checkShellPlaceholders(s string) error {
	const (
		unquoted = iota
		single
		double
	)
	state := unquoted
	opaque := "" // why placeholders can no longer be checked
	wordStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+1 < len(s) {
			i++
			if s[i] == '%' {
				wordStart = false
				continue
			}
			var where string
			switch {
			case opaque != "":
				where = "after " + opaque
			case state == single:
				where = "inside '…'"
			case state == double:
				where = `inside "…"`
			}
			if where != "" {
				return fmt.Errorf("placeholder %%%c %s: write it unquoted, fetchd quotes its value itself", s[i], where)
			}
			wordStart = false
			continue
		}
		switch state {
		case single:
			if c == '\'' {
				state = unquoted
			}
			continue
		case double:
			switch {
			case c == '\\':
				n, err := skipEscaped(s, i)
				if err != nil {
					return err
				}
				i = n
			case c == '"':
				state = unquoted
			case c == '`', c == '$' && i+1 < len(s) && s[i+1] == '(':
				opaque = "a command substitution inside double quotes"
			}
			continue
		}
		switch {
		case c == '\\':
			n, err := skipEscaped(s, i)
			if err != nil {
				return err
			}
			i = n
		case c == '\'':
			state = single
		case c == '"':
			state = double
		case c == '$' && i+1 < len(s) && s[i+1] == '\'':
			opaque = "$'…'"
		case c == '<' && i+1 < len(s) && s[i+1] == '<':
			opaque = "a here-document (<<)"
		case c == '#' && wordStart:
			// A comment runs to the end of the line; a quote in it
			// ("# it's") must not count.
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		}
		wordStart = strings.IndexByte(" \t\n;&|()<>", c) >= 0
	}
	return nil
}

// skipEscaped steps over the backslash at s[i] and what it escapes,
// returning the index of the last byte consumed. A backslash before a
// placeholder is refused: it would escape our opening quote instead. Before
// %% it escapes the literal %, both bytes of which are consumed.
func skipEscaped(s string, i int) (int, error) {
	if i+2 < len(s) && s[i+1] == '%' {
		if s[i+2] != '%' {
			return 0, fmt.Errorf("placeholder %%%c after a backslash: write it unquoted, fetchd quotes its value itself", s[i+2])
		}
		return i + 2, nil
	}
	return i + 1, nil
}
