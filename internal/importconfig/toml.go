package importconfig

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tomlWriter collects the lines of one table, as key = value pairs.
type tomlWriter struct {
	lines []string
}

func (w *tomlWriter) raw(line string) { w.lines = append(w.lines, line) }

func (w *tomlWriter) str(key, v string) {
	if v != "" {
		w.raw(key + " = " + tomlString(v))
	}
}

func (w *tomlWriter) strs(key string, v []string) {
	if len(v) > 0 {
		w.raw(key + " = " + tomlArray(v))
	}
}

func (w *tomlWriter) int(key string, v int64) {
	if v != 0 {
		w.raw(key + " = " + strconv.FormatInt(v, 10))
	}
}

func (w *tomlWriter) bool(key string, v bool) { w.raw(key + " = " + strconv.FormatBool(v)) }

// tomlString writes s as a TOML basic string. s must be valid UTF-8
// (validText checks values on the way in).
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlArray(v []string) string {
	parts := make([]string, len(v))
	for i, s := range v {
		parts[i] = tomlString(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// validText reports whether s can be written to TOML and kept by fetchd:
// valid UTF-8 without NUL (a NUL cannot reach a file name, an argument or
// a POP3 command).
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// validPassword reports whether s can go into a password file: a line
// break would end the password there (fetchd check refuses such a file).
func validPassword(s string) bool {
	return validText(s) && !strings.ContainsAny(s, "\r\n")
}

// badPasswordNote says why a password was not carried over.
const badPasswordNote = "holds a NUL, a line break or invalid UTF-8, which fetchd cannot send: set a password source by hand"

// commentText makes s safe inside a comment line: a line break would end
// the comment and let the rest be read as TOML.
func commentText(s string) string {
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
