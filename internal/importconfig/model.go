package importconfig

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Result is a translated configuration, ready to be written out.
type Result struct {
	Program  string
	Files    []string
	Notes    []Note     // options not translated, in the order met
	Defaults Defaults   // keys for [defaults]
	Accounts []*Account // in the order of the sources

	opts  Options
	noted map[string]bool // file:line:option of each note, against repeats
}

// Note is a source option that is not in the output, and why.
type Note struct {
	File   string
	Line   int // 0: the file as a whole
	Option string
	Reason string
}

func (n Note) String() string {
	where := n.File
	if n.Line > 0 {
		where += ":" + strconv.Itoa(n.Line)
	}
	return where + ": " + n.Option + " — " + n.Reason
}

// note records an untranslated option once, however many accounts it
// applies to (fetchmail's defaults entry, mpop's defaults and parents).
func (r *Result) note(file string, line int, option, reason string) {
	key := file + "\x00" + strconv.Itoa(line) + "\x00" + option
	if r.noted == nil {
		r.noted = map[string]bool{}
	}
	if r.noted[key] {
		return
	}
	r.noted[key] = true
	r.Notes = append(r.Notes, Note{File: file, Line: line, Option: option, Reason: reason})
}

// Defaults are the [defaults] keys an import sets.
type Defaults struct {
	Schedule     string
	TraceHeaders *bool
}

// Account is one translated mailbox. Zero values are keys left out.
type Account struct {
	Name     string
	Origin   string   // "FILE:LINE (what)", written above the account
	Comments []string // lines written above the account's keys
	// Disabled, when set, is why the account is written commented out.
	Disabled string

	wantName   string // the name before it was made unique
	noPassword string // where the source took the password from, when it names none
	file       string
	line       int

	Server        string
	Port          int
	TLS           string
	AllowInsecure bool
	User          string
	Auth          string

	// Password is an inline secret: WriteSecrets puts it in a file and the
	// TOML names that file. Never written to the TOML or to a note.
	Password        string
	PasswordCommand []string

	TLSMinVersion  string
	CAFile         string
	TLSServerName  string
	TLSClientCert  string
	TLSClientKey   string
	TLSFingerprint []string

	Keep               bool
	Timeout            int    // seconds
	MaxMessageSize     string // as TOML: 1234 or "10KiB"
	Oversize           string
	DeleteAfter        string
	MaxMessagesPerPoll int
	MaxBytesPerPoll    int64
	TraceHeaders       *bool
	RunAs              string
	Schedule           string

	Deliver []Deliver
}

// Deliver is one [[account.deliver]] entry: exactly one of the target
// fields is set.
type Deliver struct {
	Maildir  string
	Mbox     string
	MDA      []string
	MDAShell string
	SMTP     string
	LMTP     string

	Recipients   []string
	SMTPUser     string
	SMTPPassword string // secret, like Account.Password
}

func (a *Account) comment(format string, args ...any) {
	a.Comments = append(a.Comments, fmt.Sprintf(format, args...))
}

// disable sets the account aside, keeping the first reason.
func (a *Account) disable(reason string) {
	if a.Disabled == "" {
		a.Disabled = reason
	}
}

// effectivePort is the port fetchd will connect to.
func (a *Account) effectivePort() int {
	switch {
	case a.Port != 0:
		return a.Port
	case a.TLS == "implicit":
		return 995
	}
	return 110
}

// add appends an account translated from file:line.
func (r *Result) add(a *Account, file string, line int) {
	a.file, a.line = file, line
	r.Accounts = append(r.Accounts, a)
}

// finish gives every account a unique name, sets aside each account that
// polls a mailbox an earlier one already polls (fetchd refuses two), and
// lists every set-aside account among the notes.
func (r *Result) finish() {
	taken := map[string]bool{}
	type mailbox struct {
		server string
		port   int
		user   string
	}
	first := map[mailbox]*Account{}
	for _, a := range r.Accounts {
		a.Name = uniqueName(sanitizeName(a.wantName), taken)
		if a.TLS == "none" && len(a.TLSFingerprint) > 0 {
			// Without TLS there is no certificate to pin, and fetchd
			// refuses the combination.
			r.note(a.file, a.line, "tls_fingerprint", `the source used no TLS, so it checked no certificate: pin it again with tls = "implicit" or "starttls"`)
			a.TLSFingerprint = nil
		}
		if a.Disabled != "" || a.Server == "" || a.User == "" {
			continue
		}
		k := mailbox{strings.ToLower(a.Server), a.effectivePort(), a.User}
		if prev, dup := first[k]; dup {
			a.disable(fmt.Sprintf("polls the same mailbox as %s (%s:%d): fetchd polls each mailbox once", prev.Name, r.display(prev.file), prev.line))
			continue
		}
		first[k] = a
	}
	for _, a := range r.Accounts {
		if a.Disabled != "" {
			r.note(a.file, a.line, "account "+a.Name, "not imported: "+a.Disabled)
		}
	}
	// In file order, then line order: the header reads like the sources.
	fileIndex := map[string]int{}
	for i, f := range r.Files {
		if _, ok := fileIndex[f]; !ok {
			fileIndex[f] = i
		}
	}
	slices.SortStableFunc(r.Notes, func(x, y Note) int {
		if d := fileIndex[x.File] - fileIndex[y.File]; d != 0 {
			return d
		}
		return x.Line - y.Line
	})
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Enabled counts the accounts written as TOML rather than commented out.
func (r *Result) Enabled() int {
	n := 0
	for _, a := range r.Accounts {
		if a.Disabled == "" {
			n++
		}
	}
	return n
}

// NoPassword lists the enabled accounts with no password source, which
// `fetchd check` refuses until the user adds one.
func (r *Result) NoPassword() []string {
	var out []string
	for _, a := range r.Accounts {
		if a.Disabled == "" && a.Password == "" && len(a.PasswordCommand) == 0 {
			out = append(out, a.Name)
		}
	}
	return out
}

// sanitizeName turns s into a name fetchd accepts ([A-Za-z0-9._-], at most
// 64 bytes): each run of other characters becomes one '-', and no '-' or
// '.' at the ends, so the name never looks like a command-line flag.
func sanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
			dash = c == '-'
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if len(out) > 56 {
		out = strings.TrimRight(out[:56], "-.")
	}
	if out == "" {
		out = "account"
	}
	return out
}

// uniqueName returns name, or name-2, name-3… when it is taken.
func uniqueName(name string, taken map[string]bool) string {
	out := name
	for i := 2; taken[out]; i++ {
		out = name + "-" + strconv.Itoa(i)
	}
	taken[out] = true
	return out
}
