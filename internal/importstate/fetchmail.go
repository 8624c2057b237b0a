package importstate

import (
	"fmt"
	"io"
	"strings"
)

// ParseFetchids reads a fetchmail idfile (.fetchids): the UIDLs of the
// messages fetchmail fetched and left on the server, one a line:
//
//	alice@pop.example.org 000000016b08498a
//
// (uid.c writes "%s@%s %s\n": the remote user, the server's poll name or
// "via" name, the UIDL). It is read as fetchmail reads it: the user@host
// part ends at the first space, the host at the last '@' (a user may hold
// one: "me@example.org@pop.example.org"), and the UIDL ends at the next
// space or tab. A blank line or one without a space is ignored, as
// fetchmail ignores it; one without an '@' or with an unusable UIDL is
// skipped and counted. The mailboxes come in the order of their first
// line. name is the file's name, for the mailboxes and errors.
func ParseFetchids(r io.Reader, name string) (*File, error) {
	return parseFetchids(r, name, &budget{MaxUIDLs})
}

func parseFetchids(r io.Reader, name string, b *budget) (*File, error) {
	f := &File{Name: name}
	byKey := map[string]*Mailbox{}
	ls := newLines(r)
	for {
		line, ok := ls.next()
		if !ok {
			break
		}
		if !strings.Contains(strings.TrimLeft(line, " \t"), " ") {
			continue
		}
		user, host, id, ok := splitFetchidsLine(line)
		if !ok || !validUIDL(id) {
			f.Skipped++
			continue
		}
		key := host + "\x00" + user
		m := byKey[key]
		if m == nil {
			m = &Mailbox{Server: host, User: user}
			byKey[key] = m
			f.Mailboxes = append(f.Mailboxes, m)
		}
		if err := b.take(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m.UIDLs = append(m.UIDLs, UIDL{ID: id})
	}
	if err := ls.err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(f.Mailboxes) == 0 && f.Skipped > 0 {
		return nil, fmt.Errorf("%s: no line of the form \"USER@SERVER UIDL\" in %d: not a fetchmail idfile", name, f.Skipped)
	}
	return f, nil
}

// splitFetchidsLine splits "USER@HOST UIDL" as fetchmail's
// initialize_saved_lists does; ok is false for a line it could not take.
func splitFetchidsLine(line string) (user, host, id string, ok bool) {
	line = strings.TrimLeft(line, " \t")
	userhost, rest, found := strings.Cut(line, " ")
	if !found {
		return "", "", "", false
	}
	userhost = strings.TrimRight(userhost, " \t")
	rest = strings.TrimLeft(rest, " ")
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndexByte(userhost, '@')
	if at <= 0 || at == len(userhost)-1 {
		return "", "", "", false
	}
	return userhost[:at], userhost[at+1:], rest, true
}
