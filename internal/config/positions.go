package config

import (
	"strconv"
	"strings"
)

// BurntSushi/toml v1.6 keeps key positions to itself (MetaData has no
// position API), so this file finds them with a small scanner over a
// document toml.Decode has already accepted. It only needs to tell table
// headers and key lines apart from everything inside values (strings,
// multi-line strings and arrays, inline tables, comments). It is best effort:
// a key it cannot place gets line 0, and messages then leave the line out.

// positions maps table instances and their keys to 1-based line numbers.
//
// An instance id names one table in the document: "" (top level),
// "defaults", "defaults.deliver#0", "account#1", "account#1.deliver#0"
// (array elements are counted from 0 within their parent).
type positions struct {
	lines  map[string]int    // inst + "\x00" + key ("" for the header) → line
	count  map[string]int    // array table instance prefix → elements so far
	latest map[string]string // dotted array table path → its latest instance
	values []valueSpan       // every key/value pair, in file order
}

// valueSpan is where one key/value pair is in the file, as byte offsets:
// from the key to the line end that ends the value.
type valueSpan struct {
	key        string // the last part of the (dotted) key
	start, end int
}

// line is where key is set in table inst; the table's header line when key is
// not found there (a missing or inherited key); 0 when neither is known.
func (p *positions) line(inst, key string) int {
	if p == nil {
		return 0
	}
	if n, ok := p.lines[inst+"\x00"+key]; ok {
		return n
	}
	return p.lines[inst+"\x00"]
}

func (p *positions) set(inst, key string, line int) {
	k := inst + "\x00" + key
	if _, ok := p.lines[k]; !ok {
		p.lines[k] = line
	}
}

// header registers a [table] or [[array.table]] header and returns the
// instance id of the table it opens.
func (p *positions) header(keys []string, array bool) string {
	inst := ""
	for i, k := range keys {
		path := strings.Join(keys[:i+1], ".")
		if i < len(keys)-1 {
			if l, ok := p.latest[path]; ok {
				inst = l
			} else {
				inst = join(inst, k)
			}
			continue
		}
		inst = join(inst, k)
		if array {
			n := p.count[inst]
			p.count[inst] = n + 1
			inst += "#" + strconv.Itoa(n)
			p.latest[path] = inst
		}
	}
	return inst
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// locate scans data, a valid TOML document, for table headers and keys.
func locate(data []byte) *positions {
	p := &positions{lines: map[string]int{}, count: map[string]int{}, latest: map[string]string{}}
	s := string(data)
	line, inst := 1, ""
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			i = skipComment(s, i)
		case c == '[':
			array := strings.HasPrefix(s[i:], "[[")
			start := line
			i++
			if array {
				i++
			}
			var keys []string
			keys, i = scanKey(s, i)
			inst = p.header(keys, array)
			p.set(inst, "", start)
			for i < len(s) && s[i] != '\n' && s[i] != '#' {
				i++
			}
		default:
			start := i
			var keys []string
			keys, i = scanKey(s, i)
			if len(keys) > 0 {
				p.set(inst, strings.Join(keys, "."), line)
				p.set(inst, keys[0], line)
			}
			if i < len(s) && s[i] == '=' {
				i++
			} else if i < len(s) && s[i] != '\n' {
				i++ // not a key after all; make progress
			}
			i, line = skipValue(s, i, line)
			if len(keys) > 0 {
				p.values = append(p.values, valueSpan{key: keys[len(keys)-1], start: start, end: i})
			}
		}
	}
	return p
}

// scanKey reads a dotted key of bare and quoted parts starting at i, and
// returns its parts and the index after it (at '=', ']' or a line end).
func scanKey(s string, i int) ([]string, int) {
	var parts []string
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		switch c := s[i]; {
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' && s[j] != '\n' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			end := min(j+1, len(s))
			part, err := strconv.Unquote(s[i:end])
			if err != nil {
				part = s[i+1 : max(i+1, min(j, len(s)))]
			}
			parts = append(parts, part)
			i = end
		case c == '\'':
			j := i + 1
			for j < len(s) && s[j] != '\'' && s[j] != '\n' {
				j++
			}
			parts = append(parts, s[i+1:j])
			i = min(j+1, len(s))
		case isBare(c):
			j := i
			for j < len(s) && isBare(s[j]) {
				j++
			}
			parts = append(parts, s[i:j])
			i = j
		default:
			return parts, i
		}
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] == '.' {
			i++
			continue
		}
		return parts, i
	}
	return parts, i
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func skipComment(s string, i int) int {
	for i < len(s) && s[i] != '\n' {
		i++
	}
	return i
}

// skipValue skips a value starting at i up to the line end that ends it,
// counting the lines inside it, and returns the index of that line end.
func skipValue(s string, i, line int) (int, int) {
	depth := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '\n':
			if depth <= 0 {
				return i, line
			}
			line++
			i++
		case '#':
			i = skipComment(s, i)
		case '[', '{':
			depth++
			i++
		case ']', '}':
			depth--
			i++
		case '"', '\'':
			i, line = skipString(s, i, line)
		default:
			i++
		}
	}
	return i, line
}

// skipString skips a basic, literal or multi-line string starting at i.
func skipString(s string, i, line int) (int, int) {
	q := s[i]
	escapes := q == '"'
	delim := string([]byte{q, q, q})
	if strings.HasPrefix(s[i:], delim) {
		i += 3
		for i < len(s) {
			switch {
			case escapes && s[i] == '\\':
				if i+1 < len(s) && s[i+1] == '\n' {
					line++
				}
				i += 2
			case strings.HasPrefix(s[i:], delim):
				i += 3
				// Up to two more quotes belong to the content: """a"""""
				for k := 0; k < 2 && i < len(s) && s[i] == q; k++ {
					i++
				}
				return i, line
			case s[i] == '\n':
				line++
				i++
			default:
				i++
			}
		}
		return i, line
	}
	i++
	for i < len(s) && s[i] != q && s[i] != '\n' {
		if escapes && s[i] == '\\' && i+1 < len(s) && s[i+1] != '\n' {
			i++
		}
		i++
	}
	if i < len(s) && s[i] == q {
		i++
	}
	return i, line
}
