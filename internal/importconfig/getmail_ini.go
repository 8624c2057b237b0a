package importconfig

import (
	"fmt"
	"strings"
)

// The INI syntax of getmail rc files: Python's RawConfigParser with its
// defaults (getmail reads them so), which means "[section]" headers, "key =
// value" or "key: value" with the key lower-cased, whole-line comments
// starting with '#' or ';' (no inline comments), values continued on more
// deeply indented lines, no %(name)s interpolation, and a duplicate section
// or key is an error.

type iniValue struct {
	val  string
	line int
}

type iniSection struct {
	name  string
	line  int
	keys  map[string]iniValue
	order []string
}

// get returns the value of key, and whether it is set.
func (s *iniSection) get(key string) (iniValue, bool) {
	if s == nil {
		return iniValue{}, false
	}
	v, ok := s.keys[key]
	return v, ok
}

type iniFile struct {
	sections []*iniSection
	byName   map[string]*iniSection
}

func (f *iniFile) section(name string) *iniSection { return f.byName[name] }

func parseINI(file string, data []byte) (*iniFile, error) {
	f := &iniFile{byName: map[string]*iniSection{}}
	errf := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
	}
	var cur *iniSection
	var key string    // the key a continuation line extends
	var cont []string // its lines so far
	indent := -1      // the indent of the key's line
	flush := func() {
		if cur != nil && key != "" {
			for len(cont) > 1 && cont[len(cont)-1] == "" {
				cont = cont[:len(cont)-1]
			}
			v := cur.keys[key]
			v.val = strings.Join(cont, "\n")
			cur.keys[key] = v
		}
		key, cont = "", nil
	}
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		raw = strings.TrimSuffix(raw, "\r")
		value := strings.TrimSpace(raw)
		if strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";") {
			continue
		}
		if value == "" {
			if key != "" {
				cont = append(cont, "")
			}
			continue
		}
		lead := len(raw) - len(strings.TrimLeft(raw, " \t\v\f"))
		if key != "" && lead > indent {
			cont = append(cont, value)
			continue
		}
		flush()
		indent = lead
		if strings.HasPrefix(value, "[") && strings.LastIndexByte(value, ']') > 1 {
			name := value[1:strings.LastIndexByte(value, ']')]
			if f.byName[name] != nil {
				return nil, errf(line, "section [%s] appears twice: getmail refuses that too", name)
			}
			cur = &iniSection{name: name, line: line, keys: map[string]iniValue{}}
			f.sections = append(f.sections, cur)
			f.byName[name] = cur
			continue
		}
		if cur == nil {
			return nil, errf(line, "a line before any [section] header (not shown: it may hold a password): a getmail rc file starts with [retriever]")
		}
		n := strings.IndexAny(value, "=:")
		if n <= 0 || strings.TrimSpace(value[:n]) == "" {
			return nil, errf(line, "not a key = value line (not shown: it may hold a password, e.g. one broken onto a line of its own)")
		}
		k := strings.ToLower(strings.TrimSpace(value[:n]))
		if _, dup := cur.keys[k]; dup {
			return nil, errf(line, "%s is set twice in [%s]: getmail refuses that too", k, cur.name)
		}
		cur.keys[k] = iniValue{line: line}
		cur.order = append(cur.order, k)
		key, cont = k, []string{strings.TrimSpace(value[n+1:])}
	}
	flush()
	return f, nil
}
