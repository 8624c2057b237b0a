package importconfig

import (
	"fmt"
	"path/filepath"
	"strings"
)

// fmTranslator turns one parsed rc file into accounts.
type fmTranslator struct {
	r      *Result
	file   string
	dir    string // relative paths in the file are relative to it
	daemon int    // set daemon, seconds; 0 = none
}

func translateFetchmail(r *Result, srcs []source) error {
	for _, s := range srcs {
		f, err := parseFetchmail(s.path, s.data)
		if err != nil {
			return err
		}
		dir := ""
		if abs, err := filepath.Abs(s.path); err == nil {
			dir = filepath.Dir(abs)
		}
		t := &fmTranslator{r: r, file: s.path, dir: dir}
		t.globals(f.globals)
		var defs *fmEntry
		for i, e := range f.entries {
			if e.kind == "defaults" {
				if i != 0 {
					return fmt.Errorf("%s:%d: a defaults entry must be the first entry, and there may be only one (fetchmail refuses this file too)", s.path, e.line)
				}
				defs = e
			}
		}
		for _, e := range f.entries {
			if e.kind != "defaults" {
				t.entry(e, defs)
			}
		}
	}
	return nil
}

func (t *fmTranslator) globals(opts []fmOpt) {
	for _, o := range opts {
		switch o.key {
		case "set daemon":
			t.daemon = o.num()
			if t.daemon > 0 {
				t.r.Defaults.Schedule = "@every " + itoa(t.daemon) + "s"
			} else {
				t.r.note(t.file, o.line, o.key, "fetchd run polls on a schedule: every 5 minutes unless an account sets schedule")
			}
		case "set invisible":
			off := false
			t.r.Defaults.TraceHeaders = &off
		case "set no invisible", "set softbounce", "set no syslog", "set no spambounce", "set no showdots":
			// What fetchd does anyway.
		default:
			t.r.note(t.file, o.line, o.key, fmGlobalNotes[o.key])
		}
	}
}

// entry translates one poll or skip entry: an account per user.
func (t *fmTranslator) entry(e *fmEntry, defs *fmEntry) {
	var defUser *fmUser
	var defServer []fmOpt
	if defs != nil {
		defServer = defs.server
		if len(defs.users) > 0 {
			defUser = defs.users[0]
		}
		for _, u := range defs.users[min(1, len(defs.users)):] {
			t.r.note(t.file, u.line, "user", "a defaults entry takes one user: only the first one is used")
		}
	}
	users := e.users
	if len(users) == 0 {
		users = []*fmUser{{line: e.line}}
	}
	for _, u := range users {
		var opts []fmOpt
		opts = append(opts, defServer...)
		if defUser != nil {
			opts = append(opts, defUser.opts...)
		}
		opts = append(append(opts, e.server...), u.opts...)
		t.account(e, merged(u, defUser), opts)
	}
}

// merged is u with the defaults entry's user names filled in.
func merged(u, def *fmUser) *fmUser {
	m := *u
	if def == nil {
		return &m
	}
	if !m.hasRemote && def.hasRemote {
		m.remote, m.hasRemote = def.remote, true
	}
	if len(m.locals) == 0 && !m.wildcard {
		m.locals, m.wildcard = def.locals, def.wildcard
	}
	return &m
}

// last holds the last value of each option; a "no X" is stored as X.
type fmLast map[string]fmOpt

func (l fmLast) on(key string) bool {
	o, ok := l[key]
	return ok && !strings.HasPrefix(o.key, "no ")
}

func (l fmLast) has(key string) bool { _, ok := l[key]; return ok }

func (t *fmTranslator) account(e *fmEntry, u *fmUser, opts []fmOpt) {
	last := fmLast{}
	for _, o := range opts {
		last[strings.TrimPrefix(o.key, "no ")] = o
		if why, ok := fmOptionNotes[o.key]; ok {
			t.r.note(t.file, o.line, o.key, why)
		}
	}
	remote := u.remote
	a := &Account{Server: e.name}
	switch {
	case u.hasRemote:
	case len(u.locals) > 0:
		remote = u.locals[0].local
		if u.locals[0].server != "" {
			remote = u.locals[0].server
		}
	default:
		remote = t.r.opts.LocalUser
		a.comment("No user in the source: fetchmail logs in with your login name, %s.", remote)
	}
	line := u.line
	a.User = remote
	a.wantName = remote + "@" + e.name
	a.Origin = fmt.Sprintf("%s:%d (%s %s, user %s)", t.r.display(t.file), line, e.kind, e.name, remote)
	t.r.add(a, t.file, line)
	if !validText(remote) || strings.ContainsAny(remote, "\r\n") {
		a.disable("the user name holds a line break, NUL or invalid UTF-8")
		a.User = ""
		return
	}
	if e.kind == "skip" {
		a.disable("a skip entry: fetchmail polls it only when it is named on the command line")
	}
	if len(u.locals) > 1 || u.wildcard || (len(u.locals) == 1 && u.locals[0].server != "") {
		a.disable("a multidrop mailbox (several local names): fetchd delivers a mailbox to fixed recipients and does not sort mail by the addresses in its header")
	}
	t.server(a, last)
	t.tls(a, last)
	t.user(a, last)
	t.deliver(a, u, last)
}
