package importconfig

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// gmTranslator turns one getmail rc file, which describes one account,
// into an account.
type gmTranslator struct {
	r    *Result
	file string
	ini  *iniFile
	a    *Account
	used map[string]bool // sections read, so the rest can be listed
}

func translateGetmail(r *Result, srcs []source) error {
	for _, s := range srcs {
		ini, err := parseINI(s.path, s.data)
		if err != nil {
			return err
		}
		ret := ini.section("retriever")
		if ret == nil {
			return fmt.Errorf("%s: no [retriever] section: not a getmail rc file (getmail refuses it too)", s.path)
		}
		t := &gmTranslator{r: r, file: s.path, ini: ini, used: map[string]bool{"retriever": true, "destination": true, "options": true}}
		t.account(ret)
	}
	return nil
}

func (t *gmTranslator) note(v iniValue, option, why string) { t.r.note(t.file, v.line, option, why) }

func (t *gmTranslator) account(ret *iniSection) {
	a := &Account{Origin: fmt.Sprintf("%s:%d", t.r.display(t.file), ret.line)}
	t.a = a
	t.r.add(a, t.file, ret.line)
	t.retriever(ret)
	base := filepath.Base(t.file)
	a.wantName = strings.TrimLeft(strings.TrimPrefix(base, "getmailrc"), "-_.")
	if a.wantName == "" {
		a.wantName = a.User + "@" + a.Server
	}
	t.options(t.ini.section("options"))
	if d := t.ini.section("destination"); d == nil {
		a.disable("no [destination] section: getmail refuses the file too")
	} else {
		t.destination(d)
	}
	for _, s := range t.ini.sections {
		switch {
		case t.used[s.name]:
		case strings.HasPrefix(strings.ToLower(s.name), "filter"):
			t.note(iniValue{line: s.line}, "["+s.name+"]", "fetchd has no filters: run the filter in front of the MDA instead (mda_shell = \"filter | procmail\")")
		case s.name == "DEFAULT":
			t.note(iniValue{line: s.line}, "[DEFAULT]", "not read: set each key in its own section")
		default:
			t.note(iniValue{line: s.line}, "["+s.name+"]", "no destination refers to it: getmail ignores it too")
		}
	}
}

// gmBool reads a getmail boolean: true/yes/on/1 or false/no/off/0, in any
// case.
func (t *gmTranslator) gmBool(s *iniSection, key string, def bool) bool {
	v, ok := s.get(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v.val) {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0":
		return false
	}
	t.note(v, key+" = "+v.val, "not a boolean: getmail refuses it too")
	return def
}

// gmInt reads a whole number; ok is false when the key is unset or bad.
func (t *gmTranslator) gmInt(s *iniSection, key string) (int64, bool) {
	v, ok := s.get(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(v.val, "_", ""), 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		t.note(v, key+" = "+v.val, "not a whole number fetchd can take: set it by hand")
		return 0, false
	}
	return n, true
}

// gmExpand expands $VAR, ${VAR} and a leading ~ or ~user as getmail does
// (Python's expandvars, then expanduser): what cannot be expanded stays.
func (t *gmTranslator) gmExpand(s string) string {
	o := &t.r.opts
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		name, n := envName(s[i:])
		if val := o.Getenv(name); n > 0 && val != "" {
			b.WriteString(val)
			i += n - 1
			continue
		}
		b.WriteByte(s[i])
	}
	p := b.String()
	if !strings.HasPrefix(p, "~") {
		return p
	}
	user, rest, _ := strings.Cut(p[1:], "/")
	home, ok := o.Home, o.Home != ""
	if user != "" {
		home, ok = o.HomeOf(user)
	}
	if !ok {
		return p
	}
	return filepath.Join(home, rest)
}

// gmPath expands a path as getmail does and insists on an absolute result.
func (t *gmTranslator) gmPath(v iniValue, s string) (string, bool) {
	abs, ok := t.r.opts.absPath(t.gmExpand(s), "")
	if !ok || !validText(abs) {
		t.note(v, s, "not an absolute path after expanding ~ and $VARIABLES: set it by hand")
		return "", false
	}
	return abs, true
}

// envName reads "$NAME" or "${NAME}" at the start of s: the name and the
// length taken, or 0.
func envName(s string) (string, int) {
	if len(s) < 2 || s[0] != '$' {
		return "", 0
	}
	if s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 3 {
			return "", 0
		}
		return s[2:end], end + 1
	}
	n := 1
	for n < len(s) && (s[n] == '_' || 'a' <= lower(s[n]) && lower(s[n]) <= 'z' || n > 1 && '0' <= s[n] && s[n] <= '9') {
		n++
	}
	if n == 1 {
		return "", 0
	}
	return s[1:n], n
}
