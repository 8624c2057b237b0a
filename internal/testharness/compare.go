package testharness

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"fetchd/internal/testcorpus"
)

// Multiset maps a SHA-256 to how many times it occurs.
type Multiset map[[32]byte]int

// Want is the multiset of want(m) over ms (want is testcorpus.Expected for
// local targets, RelayExpected for LMTP and SMTP), with each digest's name.
func Want(ms []testcorpus.Message, want func(testcorpus.Message) []byte) (Multiset, map[[32]byte]string) {
	set, names := Multiset{}, map[[32]byte]string{}
	for _, m := range ms {
		h := sha256.Sum256(want(m))
		set[h]++
		names[h] = m.Name
	}
	return set, names
}

// RelayExpected is what a message looks like after fetchd's LMTP or SMTP
// target and a peer that stores LF: Expected(m) with each bare CR turned into
// a line end (RFC 5321 §2.3.8 allows only CRLF in DATA). testcorpus messages
// have no CR before an LF, so every CR in them is bare.
func RelayExpected(m testcorpus.Message) []byte {
	return bytes.ReplaceAll(testcorpus.Expected(m), []byte("\r"), []byte("\n"))
}

// Digests returns the multiset of fs, after removing the header fields strip
// from the top of each (see StripFields). Files whose top is not what
// strip says are returned as problems, not counted.
func Digests(fs []File, strip []Field) (got Multiset, problems []string) {
	got = Multiset{}
	for _, f := range fs {
		rest, err := StripFields(f.Data, strip)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.Where, err))
			continue
		}
		got[sha256.Sum256(rest)]++
	}
	return got, problems
}

// Field is a header field a hop (fetchd, an MTA, an LMTP server) adds at the
// top of a message.
type Field struct {
	Name string // exact field name, e.g. "Received"
	Has  string // a substring its text must contain ("" = any)
}

// LMTPFields are the fields Dovecot's LMTP server adds at the top of each
// message, in order (fetchd adds none with trace_headers off).
var LMTPFields = []Field{{"Return-Path", ""}, {"Delivered-To", ""}, {"Received", ""}}

// StripFields removes exactly the fields want from the top of data, in that
// order, each with its folded continuation lines, and fails if the top of data
// is anything else: a hop that adds a field more, or one fewer, shows.
func StripFields(data []byte, want []Field) ([]byte, error) {
	rest := data
	for _, f := range want {
		if !bytes.HasPrefix(rest, []byte(f.Name+":")) {
			return nil, fmt.Errorf("want a %s field next, found %q", f.Name, firstLine(rest))
		}
		n := 0
		for {
			i := bytes.IndexByte(rest[n:], '\n')
			if i < 0 {
				return nil, fmt.Errorf("%s field does not end", f.Name)
			}
			n += i + 1
			if n == len(rest) || (rest[n] != ' ' && rest[n] != '\t') {
				break
			}
		}
		if f.Has != "" && !bytes.Contains(rest[:n], []byte(f.Has)) {
			return nil, fmt.Errorf("%s field %q does not contain %q", f.Name, rest[:n], f.Has)
		}
		rest = rest[n:]
	}
	return rest, nil
}

// firstLine returns b up to its first line end, or its first 80 bytes.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b[:min(len(b), 80)]
}

// Mismatch finds the message of ms whose want(m) shares data's Message-ID and
// says where data first differs from it, for reports of a delivered message
// that matches none.
func Mismatch(data []byte, ms []testcorpus.Message, want func(testcorpus.Message) []byte) string {
	for _, m := range ms {
		w := want(m)
		if id := messageID(w); id == "" || id != messageID(data) {
			continue
		}
		i := 0
		for i < len(data) && i < len(w) && data[i] == w[i] {
			i++
		}
		lo := max(0, i-20)
		return fmt.Sprintf("%s (%d bytes, want %d): first difference at byte %d: got %q, want %q",
			m.Name, len(data), len(w), i, data[lo:min(len(data), i+20)], w[lo:min(len(w), i+20)])
	}
	return fmt.Sprintf("%d bytes, unknown Message-ID, starts %q", len(data), firstLine(data))
}

func messageID(data []byte) string {
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" {
			break
		}
		if strings.HasPrefix(l, "Message-ID: ") {
			return l
		}
	}
	return ""
}

// Diff is how a delivered multiset differs from the wanted one.
type Diff struct {
	Lost       []string // names of messages delivered fewer times than wanted
	Duplicates int      // deliveries beyond the wanted count, summed over messages
	DupMax     int      // the most copies of any one message
	Unknown    int      // delivered files that match no wanted message
}

// Compare compares got with want.
func Compare(want Multiset, names map[[32]byte]string, got Multiset) Diff {
	var d Diff
	for h, n := range want {
		switch g := got[h]; {
		case g < n:
			d.Lost = append(d.Lost, names[h])
		case g > n:
			d.Duplicates += g - n
		}
		d.DupMax = max(d.DupMax, got[h])
	}
	for h, n := range got {
		if _, ok := want[h]; !ok {
			d.Unknown += n
		}
	}
	sort.Strings(d.Lost)
	return d
}

// ReadMbox reads an mboxrd file (as fetchd's mbox target writes it) and
// returns its messages with the quoting undone and the From lines dropped.
func ReadMbox(tb testing.TB, path string) []File {
	tb.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	fs, err := ParseMboxrd(data)
	if err != nil {
		tb.Fatalf("mbox %s: %v", path, err)
	}
	return fs
}

// ParseMboxrd splits an mbox into its messages: a message starts at a line
// beginning "From " (kept in File.From), one '>' comes off each line matching
// ^>+From , and the empty line before the next From line is dropped.
func ParseMboxrd(data []byte) ([]File, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if !bytes.HasPrefix(data, []byte("From ")) {
		return nil, fmt.Errorf("does not start with a From line: %q", data[:min(len(data), 40)])
	}
	if !bytes.HasSuffix(data, []byte("\n\n")) {
		return nil, fmt.Errorf("does not end with an empty line: …%q", data[max(0, len(data)-40):])
	}
	var out []File
	var cur *bytes.Buffer
	start, from := 0, ""
	finish := func() error {
		b := cur.Bytes()
		if !bytes.HasSuffix(b, []byte("\n\n")) && !(len(b) == 1 && b[0] == '\n') {
			return fmt.Errorf("message at offset %d is not followed by an empty line", start)
		}
		out = append(out, File{Where: fmt.Sprintf("mbox offset %d", start), From: from, Data: bytes.Clone(b[:len(b)-1])})
		return nil
	}
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		line := data[off : off+end+1]
		if bytes.HasPrefix(line, []byte("From ")) {
			if cur != nil {
				if err := finish(); err != nil {
					return nil, err
				}
			}
			cur, start, from = &bytes.Buffer{}, off, string(line[:len(line)-1])
		} else {
			q := bytes.IndexFunc(line, func(r rune) bool { return r != '>' })
			if q > 0 && bytes.HasPrefix(line[q:], []byte("From ")) {
				line = line[1:]
			}
			cur.Write(line)
		}
		off += end + 1
	}
	return out, finish()
}

// Scanner reads a maildir's new/ and cur/ again and again, hashing each file
// once (by name: maildir files do not change once delivered), for campaigns
// that check the delivered multiset after every run.
type Scanner struct {
	Maildir string
	Strip   []Field // header fields to strip from the top (StripFields)

	seen map[string][32]byte
	bad  map[string]string
}

// Scan returns the multiset of the files delivered so far, and a problem for
// each file whose top does not match Strip.
func (s *Scanner) Scan(tb testing.TB) (Multiset, []string) {
	tb.Helper()
	if s.seen == nil {
		s.seen, s.bad = map[string][32]byte{}, map[string]string{}
	}
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(s.Maildir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range es {
			name := sub + "/" + e.Name()
			if _, ok := s.seen[name]; ok {
				continue
			}
			if _, ok := s.bad[name]; ok {
				continue
			}
			data, err := os.ReadFile(filepath.Join(s.Maildir, name))
			if err != nil {
				tb.Fatal(err)
			}
			rest, err := StripFields(data, s.Strip)
			if err != nil {
				s.bad[name] = err.Error()
				continue
			}
			s.seen[name] = sha256.Sum256(rest)
		}
	}
	got := Multiset{}
	for _, h := range s.seen {
		got[h]++
	}
	var problems []string
	for name, p := range s.bad {
		problems = append(problems, name+": "+p)
	}
	sort.Strings(problems)
	return got, problems
}
