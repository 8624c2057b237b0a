package importconfig

import (
	"regexp"
	"strings"
)

// The fetchmail rc lexer, after fetchmail's rcfile_l.l: keywords (exact and
// case-sensitive), numbers, bare strings (any run of characters but white
// space and ",;:="), quoted strings ("…" or '…', which may span lines), and
// comments from '#' to the end of the line. The noise words "and with has
// wants options" and the punctuation ",;:" are dropped. After "user",
// "password", "is", "to" and "=" the next word is always a string, even
// if it spells a keyword or a number.

type fmKind int

const (
	fmEOF     fmKind = iota
	fmKeyword        // text is the canonical keyword
	fmString         // text is the value, escapes resolved
	fmNumber         // num is the value
	fmAuth           // text is the authentication type
	fmProto          // text is the protocol, lower case
)

type fmToken struct {
	kind fmKind
	text string
	num  int
	raw  string // as written, for messages
	line int
	// hidden marks a password and the word after it, which error
	// messages must not quote: an unquoted password with a space in it
	// is read as two words, and the second one is what looks wrong.
	hidden bool
}

// fmKeywords maps each keyword spelling to its canonical form.
var fmKeywords = fmKeywordTable()

func fmKeywordTable() map[string]string {
	m := map[string]string{}
	for _, k := range strings.Fields(`set logfile idfile pidfile daemon syslog invisible showdots postmaster
		bouncemail spambounce softbounce warnings tracepolls defaults poll skip via aka localdomains
		protocol service port interval auth timeout idletimeout envelope qvirtual principal esmtpname
		esmtppassword bad-header accept reject user password folder smtphost fetchdomains smtpaddress
		smtpname antispam mda bsmtp lmtp preconnect postconnect interface monitor plugin plugout
		batchlimit fetchlimit fetchsizelimit fastuidl expunge properties is here there to no keep flush
		limitflush fetchall rewrite forcecr stripcr pass8bits dropstatus dropdelivered mimedecode idle
		forceidle dns uidl ssl sslkey sslcert sslproto sslcertck sslcertfile sslcertpath sslcommonname
		sslfingerprint checkalias limit`) {
		m[k] = k
	}
	for alias, k := range map[string]string{
		"server": "poll", "local": "localdomains", "proto": "protocol",
		"preauth": "auth", "preauthenticate": "auth", "authenticate": "auth",
		"username": "user", "pass": "password", "folders": "folder", "smtp": "smtphost",
		"pre": "preconnect", "post": "postconnect", "pass8": "pass8bits", "mimedec": "mimedecode",
	} {
		m[alias] = k
	}
	return m
}

var (
	fmAuthTypes = map[string]string{
		"any": "any", "gssapi": "gssapi", "kerberos": "kerberos_v4", "kerberos4": "kerberos_v4",
		"kerberos_v4": "kerberos_v4", "kerberos5": "kerberos_v5", "kerberos_v5": "kerberos_v5",
		"ssh": "ssh", "implicit": "ssh", "external": "external", "otp": "otp", "opie": "otp",
		"cram": "cram-md5", "cram-md5": "cram-md5", "msn": "msn", "ntlm": "ntlm",
	}
	fmNoise  = map[string]bool{"with": true, "and": true, "has": true, "wants": true, "options": true}
	fmProtos = regexp.MustCompile(`^(auto|pop2|pop3|imap|apop|rpop|etrn|odmr|kpop|sdps|AUTO|POP2|POP3|IMAP|APOP|RPOP|ETRN|ODMR|KPOP|SDPS)$`)
	// "nokeep" is "no keep"; fetchmail knows these run-together forms.
	fmNoForms  = regexp.MustCompile(`^no(bouncemail|uidl|checkalias|dns|envelope|keep|flush|limitflush|fetchall|rewrite|forcecr|stripcr|pass8|pass8bits|dropstatus|dropdelivered|mimedec|mimedecode|spambounce|idle|forceidle)$`)
	fmNumberRe = regexp.MustCompile(`^-?[0-9]+$`)
)

// fmLex splits data into tokens.
func fmLex(data []byte) []fmToken {
	s := string(data)
	line := 1
	var toks []fmToken
	nameState, authState := false, false
	emit := func(t fmToken) {
		toks = append(toks, t)
		switch {
		case t.kind == fmKeyword && (t.text == "user" || t.text == "password" || t.text == "is" || t.text == "to" || t.text == "="):
			nameState = true
		case t.kind == fmKeyword && t.text == "auth":
			authState = true
		case t.kind == fmAuth:
			authState = false
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == ',' || c == ';' || c == ':':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++ // the newline is counted next
		case c == '=':
			emit(fmToken{kind: fmKeyword, text: "=", raw: "=", line: line})
			i++
		case (c == '"' || c == '\'') && strings.IndexByte(s[i+1:], c) >= 0:
			end := i + 1 + strings.IndexByte(s[i+1:], c)
			raw := s[i+1 : end]
			emit(fmToken{kind: fmString, text: fmEscapes(raw), raw: s[i : end+1], line: line})
			nameState = false
			line += strings.Count(raw, "\n")
			i = end + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n=;:,", rune(s[j])) {
				j++
			}
			word := s[i:j]
			i = j
			for _, t := range fmWord(word, line, nameState, authState) {
				emit(t)
			}
			if nameState && len(toks) > 0 && toks[len(toks)-1].kind == fmString {
				nameState = false
			}
		}
	}
	for i, t := range toks {
		if t.kind == fmKeyword && (t.text == "password" || t.text == "esmtppassword") {
			for j := i + 1; j < len(toks) && j <= i+2; j++ {
				toks[j].hidden = true
			}
		}
	}
	// An error at the end names the last line that holds something.
	if len(toks) > 0 {
		line = toks[len(toks)-1].line
	}
	return append(toks, fmToken{kind: fmEOF, raw: "end of file", line: line})
}

// fmWord classifies one bare word; "nokeep" yields two tokens.
func fmWord(w string, line int, nameState, authState bool) []fmToken {
	str := fmToken{kind: fmString, text: fmEscapes(w), raw: w, line: line}
	switch {
	case nameState:
		return []fmToken{str}
	case authState && w == "password":
		return []fmToken{{kind: fmAuth, text: "password", raw: w, line: line}}
	case authState && w == "pass":
		return []fmToken{str}
	case fmNoise[w]:
		return nil
	case fmAuthTypes[w] != "":
		return []fmToken{{kind: fmAuth, text: fmAuthTypes[w], raw: w, line: line}}
	case fmProtos.MatchString(w):
		return []fmToken{{kind: fmProto, text: strings.ToLower(w), raw: w, line: line}}
	case fmNoForms.MatchString(w):
		rest := fmWord(w[2:], line, false, false)
		return append([]fmToken{{kind: fmKeyword, text: "no", raw: "no", line: line}}, rest...)
	case fmKeywords[w] != "":
		return []fmToken{{kind: fmKeyword, text: fmKeywords[w], raw: w, line: line}}
	case fmNumberRe.MatchString(w):
		n := 0
		for _, d := range strings.TrimPrefix(w, "-") {
			if n < 1<<30 {
				n = n*10 + int(d-'0')
			}
		}
		if strings.HasPrefix(w, "-") {
			n = -n
		}
		return []fmToken{{kind: fmNumber, num: n, text: w, raw: w, line: line}}
	}
	return []fmToken{str}
}

// fmEscapes resolves fetchmail's backslash escapes: \n \t \b \r \\, \xhh
// (hex), \0ooo (octal), \nnn (decimal), a backslash before a newline joins
// lines, and any other \c is c.
func fmEscapes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			if s[i] != '\\' {
				b.WriteByte(s[i])
			}
			continue
		}
		i++
		switch c := s[i]; {
		case c == 'x' || c == 'X':
			v, n := fmDigits(s[i+1:], 16, 2)
			b.WriteByte(byte(v))
			i += n
		case c == '0':
			v, n := fmDigits(s[i:], 8, 3)
			b.WriteByte(byte(v))
			i += n - 1
		case c >= '1' && c <= '9':
			v, n := fmDigits(s[i:], 10, 3)
			b.WriteByte(byte(v))
			i += n - 1
		case c == '\n':
		case c == 'n':
			b.WriteByte('\n')
		case c == 't':
			b.WriteByte('\t')
		case c == 'b':
			b.WriteByte('\b')
		case c == 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fmDigits reads up to max digits of base from the start of s.
func fmDigits(s string, base, max int) (v, n int) {
	for n < len(s) && n < max {
		d := strings.IndexByte("0123456789abcdef", lower(s[n]))
		if d < 0 || d >= base {
			break
		}
		v = v*base + d
		n++
	}
	return v, n
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
