package importstate

import (
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// getmailPrefix begins the name of every getmail oldmail file.
const getmailPrefix = "oldmail-"

// getmailStrip is what getmail replaces by '-' in an oldmail file's name
// (_retrieverbases.py, STRIP_CHAR_RE).
var getmailStrip = regexp.MustCompile(`[/\\:;<>|]+`)

// getmailName splits SERVER-PORT-USER at the first "-DIGITS-": only for
// naming a mailbox no account matches, since both SERVER and USER may
// hold such a run (Matches compares whole names instead).
var getmailName = regexp.MustCompile(`^(.+?)-([0-9]{1,5})-(.+)$`)

// getmailTemp is the name of a file getmail is writing (updatefile).
var getmailTemp = regexp.MustCompile(`\.tmp\.[0-9]+$`)

// isGetmailFile reports whether base names an oldmail file.
func isGetmailFile(base string) bool {
	return strings.HasPrefix(base, getmailPrefix) && !getmailTemp.MatchString(base)
}

// ParseGetmail reads a getmail oldmail file, whose name (path's last
// element) names the account, "oldmail-SERVER-PORT-USER", and whose lines
// are "UIDL\0UNIXTIME", the time when getmail first fetched the message:
//
//	000000016b08498a\x001795705284
//
// It is read as getmail reads it: each line stripped of surrounding white
// space, split at its first NUL. A line without a NUL or with a bad time
// is skipped and counted (getmail skips it too), as is a UIDL fetchd's
// POP3 client would refuse. A file of an IMAP folder (ids
// "UIDVALIDITY/UID", which a POP3 id never is: getmail turns each '/' of a
// UIDL into '-') gives an error wrapping ErrIMAP.
func ParseGetmail(r io.Reader, path string) (*File, error) {
	return parseGetmail(r, path, &budget{MaxUIDLs})
}

func parseGetmail(r io.Reader, path string, b *budget) (*File, error) {
	base := filepath.Base(path)
	name, ok := strings.CutPrefix(base, getmailPrefix)
	parts := getmailName.FindStringSubmatch(name)
	if !ok || parts == nil {
		return nil, fmt.Errorf("%s: not a getmail oldmail file: its name is not oldmail-SERVER-PORT-USER", path)
	}
	port, _ := strconv.Atoi(parts[2])
	if getmailStrip.MatchString(name) || port < 1 || port > 65535 || parts[2][0] == '0' {
		// getmail replaces those characters, and writes the port with %i.
		return nil, fmt.Errorf("%s: not a getmail oldmail file: getmail would not make that name", path)
	}
	m := &Mailbox{Server: parts[1], Port: port, User: parts[3], name: name}
	f := &File{Name: path, Mailboxes: []*Mailbox{m}}
	ls := newLines(r)
	for {
		line, ok := ls.next()
		if !ok {
			break
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		id, ts, ok := strings.Cut(line, "\x00")
		at, tsOK := parseUnixTime(ts)
		if !ok || !tsOK || !validUIDL(id) {
			f.Skipped++
			continue
		}
		if strings.Contains(id, "/") {
			return nil, fmt.Errorf("%s: %w: the ids are an IMAP folder's (UIDVALIDITY/UID); fetchd fetches over POP3 only", path, ErrIMAP)
		}
		if err := b.take(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m.UIDLs = append(m.UIDLs, UIDL{ID: id, At: at})
	}
	if err := ls.err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// parseUnixTime parses getmail's "%i" of a Unix time in seconds. A time
// that cannot be a fetch is no time: the importer then uses its own.
func parseUnixTime(s string) (time.Time, bool) {
	if s == "" || len(s) > 12 || strings.Trim(s, "0123456789") != "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	// Before 1980 or after 9999 (which JSON cannot carry to a daemon).
	if n < 315532800 || n > 253402300799 {
		return time.Time{}, true
	}
	return time.Unix(n, 0), true
}

// getmailNameMatches reports whether name, SERVER-PORT-USER from an
// oldmail file's name, is the one getmail makes for user at server:port,
// comparing the SERVER part without regard to case. Stripping never joins
// the parts: '-' is not one of the characters it replaces.
func getmailNameMatches(name, server string, port int, user string) bool {
	s := getmailStrip.ReplaceAllString(server, "-")
	rest := "-" + strconv.Itoa(port) + "-" + getmailStrip.ReplaceAllString(user, "-")
	return len(name) == len(s)+len(rest) && strings.EqualFold(name[:len(s)], s) && name[len(s):] == rest
}
