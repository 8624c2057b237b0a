package importstate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The programs whose state Read takes.
const (
	Fetchmail = "fetchmail"
	Mpop      = "mpop"
	Getmail   = "getmail"
)

// Bounds on what Read accepts.
const (
	// MaxLine is the longest line, in octets with its line end: mpop's own
	// buffer is 1 KiB, fetchmail's 512 octets; a longer line is no state
	// file of theirs.
	MaxLine = 4096
	// MaxFiles is how many files Read takes from a directory.
	MaxFiles = 10_000
	// MaxUIDLs is how many UIDLs Read takes in all: a mailbox of a million
	// kept messages is far beyond any seen, and the cap keeps a hostile
	// file from costing more than a few hundred MB.
	MaxUIDLs = 1_000_000
	// maxUIDLLen is the longest UIDL fetchd's POP3 client accepts.
	maxUIDLLen = 512
)

// ErrTooMany is wrapped by the error for state holding more than MaxUIDLs
// UIDLs or a directory with more than MaxFiles files.
var ErrTooMany = errors.New("too much state")

// ErrIMAP is wrapped by the error for a getmail file that records an IMAP
// folder: fetchd fetches over POP3 only.
var ErrIMAP = errors.New("IMAP state")

// Mailbox is one POP3 account's list of fetched messages in another
// program's state.
type Mailbox struct {
	Server string // as the program wrote it
	Port   int    // 0: the program does not record the port
	User   string
	UIDLs  []UIDL

	// name is, for getmail, SERVER-PORT-USER from the file's name as
	// getmail made it: Matches compares it, since the name cannot always
	// be split back into its parts.
	name string
}

// File is what one state file holds.
type File struct {
	Name      string
	Mailboxes []*Mailbox
	// Skipped counts the lines that held no usable UIDL: malformed, or a
	// UIDL fetchd's POP3 client would refuse.
	Skipped int
}

// UIDL is one message the program fetched.
type UIDL struct {
	ID string
	At time.Time // when it was first fetched; zero when not recorded
}

// String names the mailbox as USER@SERVER, or USER@SERVER:PORT when the
// program records the port. Control characters (the files may be hostile,
// and the name goes to a terminal) are shown as '?'.
func (m *Mailbox) String() string {
	s := m.User + "@" + m.Server
	if m.Port != 0 {
		s += ":" + strconv.Itoa(m.Port)
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Matches reports whether the mailbox is that of the POP3 account user at
// server:port. Host names compare without regard to case, users exactly
// (POP3 servers may tell users apart by case), and the port only where the
// program records it.
func (m *Mailbox) Matches(server string, port int, user string) bool {
	if m.name != "" {
		return getmailNameMatches(m.name, server, port, user)
	}
	return strings.EqualFold(m.Server, server) && m.User == user && (m.Port == 0 || m.Port == port)
}

// validUIDL reports whether fetchd's POP3 client would accept id as a
// unique-id (RFC 1939 §7 allows 1 to 70 octets in 0x21-0x7E; like the
// client we take up to 512 octets, inner spaces and 8-bit octets, never
// control characters).
func validUIDL(id string) bool {
	if id == "" || len(id) > maxUIDLLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// budget is what remains of MaxUIDLs for the files still to be read.
type budget struct{ left int }

func (b *budget) take() error {
	if b.left <= 0 {
		return fmt.Errorf("%w: more UIDLs than %d", ErrTooMany, MaxUIDLs)
	}
	b.left--
	return nil
}

// lines reads r line by line, ending each at '\n' only: like the C and
// Python readers of these files, a '\r' is data (and so makes the UIDL
// it ends invalid, as it would be for the program itself).
type lines struct {
	sc *bufio.Scanner
	n  int // the number of the line last read
}

func newLines(r io.Reader) *lines {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), MaxLine)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	return &lines{sc: sc}
}

func (l *lines) next() (string, bool) {
	if !l.sc.Scan() {
		return "", false
	}
	l.n++
	return l.sc.Text(), true
}

func (l *lines) err() error {
	if err := l.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d octets", l.n+1, MaxLine)
		}
		return err
	}
	return nil
}
