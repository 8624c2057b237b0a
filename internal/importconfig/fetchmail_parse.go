package importconfig

import (
	"fmt"
	"strings"
)

// The fetchmail rc grammar, after fetchmail's rcfile_y.y: global "set"
// statements, and entries ("poll NAME", "skip NAME" or "defaults") made of
// server options, then either user options for an implicit user or any
// number of "user …" descriptions each followed by its user options.

// fmOpt is one option as written: key is the canonical keyword, prefixed
// with "no " or "set " where the source has those.
type fmOpt struct {
	key  string
	strs []string
	nums []int
	line int
}

func (o fmOpt) str() string {
	if len(o.strs) == 0 {
		return ""
	}
	return o.strs[0]
}

func (o fmOpt) num() int {
	if len(o.nums) == 0 {
		return 0
	}
	return o.nums[0]
}

// fmLocal is a local name after is/to/here, or a server=local mapping.
type fmLocal struct{ server, local string }

type fmUser struct {
	line      int
	remote    string
	hasRemote bool
	locals    []fmLocal
	wildcard  bool // "*" among the local names
	opts      []fmOpt
}

type fmEntry struct {
	kind   string // "poll", "skip" or "defaults"
	name   string
	line   int
	server []fmOpt
	users  []*fmUser
}

type fmFile struct {
	globals []fmOpt
	entries []*fmEntry
}

// Option classes: what follows each keyword.
var (
	fmServerString = wordSet("via principal esmtpname esmtppassword qvirtual interface monitor plugin plugout")
	fmServerList   = wordSet("aka localdomains")
	fmServerNumber = wordSet("port interval timeout idletimeout")
	fmServerFlag   = wordSet("uidl checkalias dns tracepolls")
	fmServerNo     = wordSet("uidl checkalias dns envelope tracepolls")
	fmServerOther  = wordSet("protocol service auth envelope bad-header")
	fmUserString   = wordSet("password smtpaddress smtpname mda bsmtp preconnect postconnect sslkey sslcert sslproto sslcertfile sslcertpath sslcommonname sslfingerprint properties")
	fmUserList     = wordSet("folder smtphost fetchdomains")
	fmUserNumber   = wordSet("limit warnings fetchlimit fetchsizelimit fastuidl batchlimit expunge")
	fmUserFlag     = wordSet("lmtp keep flush limitflush fetchall rewrite forcecr stripcr pass8bits dropstatus dropdelivered mimedecode idle forceidle ssl sslcertck")
	fmSetString    = wordSet("logfile idfile pidfile postmaster properties")
	fmSetFlag      = wordSet("bouncemail spambounce softbounce syslog invisible showdots")
)

func wordSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

type fmParser struct {
	file string
	toks []fmToken
	pos  int
}

func (p *fmParser) peek() fmToken { return p.toks[p.pos] }

func (p *fmParser) next() fmToken {
	t := p.toks[p.pos]
	if t.kind != fmEOF {
		p.pos++
	}
	return t
}

func (p *fmParser) errf(t fmToken, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.file, t.line, fmt.Sprintf(format, args...))
}

func (p *fmParser) isKeyword(words ...string) bool {
	t := p.peek()
	if t.kind != fmKeyword {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

// keywordAfterNo is the keyword after a "no" at the current position.
func (p *fmParser) keywordAfterNo() string {
	if !p.isKeyword("no") || p.toks[p.pos+1].kind != fmKeyword {
		return ""
	}
	return p.toks[p.pos+1].text
}

// parseFetchmail parses a whole rc file.
func parseFetchmail(file string, data []byte) (*fmFile, error) {
	p := &fmParser{file: file, toks: fmLex(data)}
	f := &fmFile{}
	for p.peek().kind != fmEOF {
		switch t := p.peek(); {
		case p.isKeyword("set"):
			o, err := p.set()
			if err != nil {
				return nil, err
			}
			f.globals = append(f.globals, o)
		case p.isKeyword("poll", "skip", "defaults"):
			e, err := p.entry()
			if err != nil {
				return nil, err
			}
			f.entries = append(f.entries, e)
		default:
			return nil, p.errf(t, `unexpected %s: a statement starts with "poll", "skip", "defaults" or "set"`, describe(t))
		}
	}
	return f, nil
}

func (p *fmParser) set() (fmOpt, error) {
	p.next()
	t := p.next()
	o := fmOpt{line: t.line}
	if t.kind == fmKeyword && t.text == "no" {
		t = p.next()
		if t.kind == fmKeyword && fmSetFlag[t.text] {
			o.key = "set no " + t.text
			return o, nil
		}
		return o, p.errf(t, `unknown global option %s after "set no"`, describe(t))
	}
	switch {
	case t.kind == fmKeyword && fmSetFlag[t.text]:
		o.key = "set " + t.text
		return o, nil
	case t.kind == fmKeyword && t.text == "daemon":
		o.key = "set daemon"
		if p.isKeyword("=") {
			p.next()
		}
		// After "=" fetchmail's lexer reads the number as a string.
		v := p.next()
		if v.kind != fmNumber && !(v.kind == fmString && fmNumberRe.MatchString(v.text)) {
			return o, p.errf(v, "set daemon needs a number of seconds, got %s", describe(v))
		}
		o.nums = []int{atoiClamp(v.text)}
		return o, nil
	case t.kind == fmKeyword && fmSetString[t.text]:
		o.key = "set " + t.text
		if p.isKeyword("=") {
			p.next()
		}
		v := p.next()
		if v.kind != fmString && v.kind != fmNumber {
			return o, p.errf(v, "set %s needs a value, got %s", t.text, describe(v))
		}
		o.strs = []string{v.text}
		return o, nil
	}
	return o, p.errf(t, `unknown global option %s after "set"`, describe(t))
}

func describe(t fmToken) string {
	switch {
	case t.kind == fmEOF:
		return "end of file"
	case t.hidden:
		return "a word next to a password (not shown; quote a password that holds white space)"
	}
	return fmt.Sprintf("%q", t.raw)
}
