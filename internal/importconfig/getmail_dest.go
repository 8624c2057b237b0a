package importconfig

import (
	"net"
	"regexp"
	"strconv"
	"strings"
)

// gmMaxDepth bounds MultiDestination sections that name each other.
const gmMaxDepth = 8

// destination translates [destination] into the account's targets. One
// that fetchd cannot reproduce sets the account aside: delivering the mail
// somewhere the user did not choose would be worse than not importing it.
func (t *gmTranslator) destination(s *iniSection) {
	var users []iniValue
	targets, why := t.dest(s, 0, &users)
	if why != "" {
		t.a.disable(why)
		return
	}
	t.a.Deliver = targets
	t.runAs(users, s)
}

func (t *gmTranslator) dest(s *iniSection, depth int, users *[]iniValue) ([]Deliver, string) {
	t.used[s.name] = true
	if depth > gmMaxDepth {
		return nil, "destinations nest too deep (a loop?)"
	}
	typ, _ := s.get("type")
	if u, ok := s.get("user"); ok && u.val != "" {
		*users = append(*users, u)
	}
	for _, k := range []string{"group", "allow_root_commands", "filemode"} {
		if v, ok := s.get(k); ok {
			t.note(v, k, "fetchd delivers as run_as (or as itself), with its own file modes: it takes no "+k)
		}
	}
	switch typ.val {
	case "Maildir", "Mboxrd":
		v, _ := s.get("path")
		p, ok := t.gmPath(v, v.val)
		if !ok {
			return nil, typ.val + " path is not a path fetchd can use"
		}
		if typ.val == "Maildir" {
			return []Deliver{{Maildir: p}}, ""
		}
		if v, ok := s.get("locktype"); ok && v.val == "flock" {
			t.note(v, "locktype = flock", "fetchd locks mbox files with fcntl and a .lock file")
		}
		return []Deliver{{Mbox: p}}, ""
	case "MDA_external":
		return t.external(s)
	case "MDA_lmtp":
		return t.lmtp(s)
	case "MultiDestination":
		v, _ := s.get("destinations")
		list, err := parseTuple(v.val)
		if err != nil || len(list) == 0 {
			return nil, "MultiDestination destinations: cannot read them"
		}
		var out []Deliver
		for _, d := range list {
			ds, why := t.named(v, d, depth, users)
			if why != "" {
				return nil, why
			}
			out = append(out, ds...)
		}
		return out, ""
	case "MultiGuesser", "MultiSorter":
		locals, hasLocals := s.get("locals")
		def, hasDef := s.get("default")
		if (!hasLocals || strings.TrimSpace(locals.val) == "()") && hasDef && typ.val == "MultiGuesser" {
			// Without locals every message goes to the default.
			return t.named(def, def.val, depth, users)
		}
		// The sections it names are its, not unused ones.
		for _, m := range sectionRef.FindAllStringSubmatch(def.val+locals.val, -1) {
			t.used[m[1]] = true
		}
		return nil, typ.val + " sorts mail by recipient: fetchd delivers every message of an account to the same targets (sort in the MDA instead)"
	}
	return nil, "destination type " + strconv.Quote(typ.val) + " is not supported"
}

// named resolves one MultiDestination entry: "[section]", or a path
// (a maildir when it ends in '/', else an mbox file).
func (t *gmTranslator) named(v iniValue, d string, depth int, users *[]iniValue) ([]Deliver, string) {
	if strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") {
		sec := t.ini.section(d[1 : len(d)-1])
		if sec == nil {
			return nil, "destination " + d + " names no section"
		}
		return t.dest(sec, depth+1, users)
	}
	p, ok := t.gmPath(v, d)
	if !ok {
		return nil, "destination " + strconv.Quote(d) + " is not a path fetchd can use"
	}
	if strings.HasSuffix(d, "/") {
		return []Deliver{{Maildir: p}}, ""
	}
	return []Deliver{{Mbox: p}}, ""
}

// external translates MDA_external: a program and its arguments, run
// without a shell, with %(sender) as fetchd's %F.
func (t *gmTranslator) external(s *iniSection) ([]Deliver, string) {
	v, _ := s.get("path")
	prog := v.val // a bare name is looked up in $PATH
	if strings.ContainsAny(prog, "/~$") || prog == "" {
		var ok bool
		if prog, ok = t.gmPath(v, v.val); !ok {
			return nil, "MDA_external path is not a program fetchd can run"
		}
	}
	argv := []string{prog}
	if a, ok := s.get("arguments"); ok {
		args, err := parseTuple(a.val)
		if err != nil {
			return nil, "MDA_external arguments: " + err.Error()
		}
		for _, arg := range args {
			out, why := gmPlaceholders(t.gmExpand(arg))
			if why != "" {
				return nil, "MDA_external arguments: " + why
			}
			argv = append(argv, out)
		}
	}
	if !allValid(argv) {
		return nil, "MDA_external: holds a NUL or invalid UTF-8"
	}
	if t.gmBool(s, "unixfrom", false) {
		t.note(s.keys["unixfrom"], "unixfrom", "fetchd's MDA input starts with the header, without a From_ line: give the MDA the sender another way (procmail -f %F)")
	}
	if v, ok := s.get("ignore_stderr"); ok && !t.gmBool(s, "ignore_stderr", false) {
		t.note(v, "ignore_stderr", "fetchd judges an MDA by its exit status alone, and logs what it writes to stderr")
	}
	if v, ok := s.get("pipe_stdout"); ok {
		t.note(v, "pipe_stdout", "fetchd discards what the MDA writes to standard output")
	}
	return []Deliver{{MDA: argv}}, ""
}

// gmPlaceholders turns getmail's %(sender) into fetchd's %F, drops
// %(mailbox) (empty with POP3) and keeps every other '%' literal; the
// recipient placeholders have no value outside multidrop retrievers, which
// fetchd does not import.
func gmPlaceholders(arg string) (string, string) {
	var b strings.Builder
	for i := 0; i < len(arg); i++ {
		if rest := arg[i:]; strings.HasPrefix(rest, "%(") {
			name, _, closed := strings.Cut(rest[2:], ")")
			switch {
			case closed && name == "sender":
				b.WriteString("%F")
				i += len("%(sender)") - 1
				continue
			case closed && name == "mailbox":
				i += len("%(mailbox)") - 1
				continue
			case closed && (name == "recipient" || name == "local" || name == "domain"):
				return "", "%(" + name + ") is the envelope recipient of a multidrop retriever, which fetchd does not have"
			}
		}
		if arg[i] == '%' {
			b.WriteByte('%')
		}
		b.WriteByte(arg[i])
	}
	return b.String(), ""
}

func (t *gmTranslator) lmtp(s *iniSection) ([]Deliver, string) {
	h, _ := s.get("host")
	d := Deliver{}
	switch {
	case strings.HasPrefix(h.val, "/") && validText(h.val):
		d.LMTP = h.val
	case hostName(h.val):
		port := int64(2003) // Python's smtplib.LMTP_PORT, getmail's default
		if n, ok := t.gmInt(s, "port"); ok && n >= 1 && n <= 65535 {
			port = n
		}
		d.LMTP = net.JoinHostPort(h.val, strconv.FormatInt(port, 10))
	default:
		return nil, "MDA_lmtp host is not a host name or socket path"
	}
	if v, ok := s.get("override"); ok && v.val != "" {
		if !validText(v.val) || strings.ContainsAny(v.val, badRecipient) {
			return nil, "MDA_lmtp override is not an address fetchd can pass on"
		}
		d.Recipients = []string{v.val}
	}
	if v, ok := s.get("fallback"); ok {
		t.note(v, "fallback", "fetchd has no fallback recipient: a refused message stays on the server")
	}
	return []Deliver{d}, ""
}

// sectionRef finds the "[section]" names in a destination value.
var sectionRef = regexp.MustCompile(`\[([^\]]+)\]`)

// runAs carries the destinations' user over, when there is one and it
// exists here.
func (t *gmTranslator) runAs(users []iniValue, s *iniSection) {
	if len(users) == 0 {
		return
	}
	for _, u := range users[1:] {
		if u.val != users[0].val {
			t.note(u, "user = "+u.val, "the destinations deliver as different users: fetchd delivers all of an account's mail as one (run_as)")
			return
		}
	}
	u := users[0]
	if !validText(u.val) || !t.r.opts.UserExists(u.val) {
		t.note(u, "user = "+u.val, "no such local user here: fetchd delivers as the user it runs as")
		return
	}
	t.a.RunAs = u.val
}
