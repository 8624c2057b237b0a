package integration

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
)

// The peers that fetchd's delivery targets hand mail to: a private Postfix
// (scripts/postfix.sh), Dovecot's LMTP server (scripts/dovecot.sh), procmail
// and maildrop. Like Dovecot, a missing peer skips its tests, or fails them
// under CI=true.

// postfixPeer describes the private Postfix that scripts/postfix.sh started.
type postfixPeer struct {
	Dir, Log, SMTP, VMail, Domain string
	Pool                          int // addresses p000 … p(Pool-1)
}

func needPostfix(t *testing.T) *postfixPeer {
	t.Helper()
	get := func(k string) string { return os.Getenv("FETCHD_POSTFIX_" + k) }
	p := &postfixPeer{Dir: get("DIR"), Log: get("LOG"), SMTP: get("SMTP"), VMail: get("VMAIL"), Domain: get("DOMAIN")}
	var err error
	p.Pool, err = strconv.Atoi(get("POOL"))
	if p.Dir == "" || p.SMTP == "" || p.VMail == "" || p.Domain == "" || err != nil || p.Pool <= 0 {
		missingPeer(t, "Postfix not running (no FETCHD_POSTFIX_* variables)")
	}
	if p.Log == "" {
		p.Log = filepath.Join(p.Dir, "postfix.log")
	}
	return p
}

// needProgram returns path if it is an executable file.
func needProgram(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		missingPeer(t, fmt.Sprintf("%s not installed (Debian package %s)", path, pkg))
	}
	return path
}

// missingPeer skips the test, or fails it under CI=true so that CI cannot pass
// by skipping.
func missingPeer(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + ": run ./scripts/test.sh")
	}
	t.Skip(why + ": run ./scripts/test.sh")
}

// poolNext spreads the tests of one process over Postfix's address pool.
var poolNext atomic.Uint32

// mailbox returns a Postfix address nobody else in this process uses, and the
// maildir its mail lands in, emptied first (a previous run may have used it).
func (p *postfixPeer) mailbox(t *testing.T) (addr, maildir string) {
	t.Helper()
	if poolNext.Load() == 0 {
		poolNext.CompareAndSwap(0, rand.Uint32N(uint32(p.Pool))+1)
	}
	local := fmt.Sprintf("p%03d", poolNext.Add(1)%uint32(p.Pool))
	maildir = filepath.Join(p.VMail, local)
	if err := os.RemoveAll(maildir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(maildir) })
	return local + "@" + p.Domain, maildir
}

// wait returns when maildir holds n messages and Postfix's queue is empty:
// Postfix answers 250 to DATA when the message is queued, and delivers it after.
func (p *postfixPeer) wait(t *testing.T, maildir string, n int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := countMaildir(t, maildir)
		queued := p.queued(t)
		if got >= n && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("Postfix: after 90s %s holds %d messages, want %d; %d still queued; last lines of %s:\n%s",
				maildir, got, n, queued, p.Log, tail(readFile(t, p.Log), 20))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queued counts the messages in the instance's queues.
func (p *postfixPeer) queued(t *testing.T) int {
	t.Helper()
	n := 0
	for _, q := range []string{"maildrop", "incoming", "active", "deferred", "hold"} {
		err := filepath.WalkDir(filepath.Join(p.Dir, "spool", q), func(_ string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // a file Postfix moved on while we walked
				}
				return err
			}
			if e.Type().IsRegular() {
				n++
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return n
}

// lmtpMailbox returns a fresh Dovecot user for LMTP and the maildir its mail
// lands in (the static userdb gives any name a home under FETCHD_DOVECOT_HOME).
func lmtpMailbox(t *testing.T, d *dovecot) (user, maildir string) {
	t.Helper()
	user = fmt.Sprintf("r%08x", rand.Uint32())
	home := filepath.Join(d.Home, user)
	t.Cleanup(func() { os.RemoveAll(home) })
	return user, filepath.Join(home, "Maildir")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(data)
}

// gotMsg is one message as a peer stored it.
type gotMsg struct {
	Where string // file name, or mbox offset, for reports
	Data  []byte
}

// countMaildir counts the messages in new/ and cur/; a missing maildir holds none.
func countMaildir(t *testing.T, maildir string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(maildir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}

// readMaildir returns the messages in maildir's new/ and cur/.
func readMaildir(t *testing.T, maildir string) []gotMsg {
	t.Helper()
	var out []gotMsg
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(maildir, sub)
		es, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, gotMsg{Where: sub + "/" + e.Name(), Data: data})
		}
	}
	return out
}

// parseMboxrd splits an mbox into its messages and undoes mboxrd quoting: a
// message starts at a line beginning "From " (the writer quoted every such line
// inside messages), one '>' is removed from each line matching ^>+From , and
// the empty line that separates a message from the next From line is dropped.
// It also returns each message's From line, for checks of the sender.
func parseMboxrd(data []byte) (msgs []gotMsg, fromLines []string, err error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	if !bytes.HasPrefix(data, []byte("From ")) {
		return nil, nil, fmt.Errorf("mbox does not start with a From line: %q", data[:min(len(data), 40)])
	}
	if !bytes.HasSuffix(data, []byte("\n\n")) {
		return nil, nil, fmt.Errorf("mbox does not end with an empty line: …%q", data[max(0, len(data)-40):])
	}
	var cur *bytes.Buffer
	var start int
	finish := func() error {
		b := cur.Bytes()
		if !bytes.HasSuffix(b, []byte("\n\n")) && !(len(b) == 1 && b[0] == '\n') {
			return fmt.Errorf("message at offset %d is not followed by an empty line", start)
		}
		msgs = append(msgs, gotMsg{Where: fmt.Sprintf("mbox offset %d", start), Data: bytes.Clone(b[:len(b)-1])})
		return nil
	}
	off := 0
	for off < len(data) {
		end := bytes.IndexByte(data[off:], '\n')
		line := data[off : off+end+1] // the mbox ends with "\n", so end >= 0
		if bytes.HasPrefix(line, []byte("From ")) {
			if cur != nil {
				if err := finish(); err != nil {
					return nil, nil, err
				}
			}
			cur, start = &bytes.Buffer{}, off
			fromLines = append(fromLines, string(line[:len(line)-1]))
		} else {
			q := bytes.IndexFunc(line, func(r rune) bool { return r != '>' })
			if q > 0 && bytes.HasPrefix(line[q:], []byte("From ")) {
				line = line[1:] // mboxrd: one '>' comes off
			}
			cur.Write(line)
		}
		off += end + 1
	}
	if err := finish(); err != nil {
		return nil, nil, err
	}
	return msgs, fromLines, nil
}

// field is a header field a peer or fetchd adds at the top of a message.
type field struct {
	Name string // exact field name, e.g. "Received"
	Has  string // a substring its text must contain ("" = any)
}

// The fields each hop adds, top to bottom, as seen here (scripts/postfix.sh and
// scripts/dovecot.sh describe the peers' settings):
var (
	// Postfix: virtual(8) adds Return-Path, X-Original-To, Delivered-To; smtpd adds Received.
	postfixFields = []field{{"Return-Path", ""}, {"X-Original-To", ""}, {"Delivered-To", ""}, {"Received", "(Postfix)"}}
	// Dovecot LMTP: Return-Path, Delivered-To, and its Received.
	lmtpFields = []field{{"Return-Path", ""}, {"Delivered-To", ""}, {"Received", "with LMTP"}}
	// fetchd in front of a relayed message: Received only (the final MTA adds
	// Return-Path and Delivered-To).
	fetchdRelayFields = []field{{"Received", "(fetchd "}}
)

// fetchdLocalFields are the fields fetchd adds for a local target (mda, mbox)
// with trace_headers on: Delivered-To when the delivery has a recipient, and
// Received. Return-Path only when the message has none and the target sets
// from; the tests do not set it, and Mixed messages carry their own.
func fetchdLocalFields(rcpt string) []field {
	if rcpt == "" {
		return []field{{"Received", "(fetchd "}}
	}
	return []field{{"Delivered-To", rcpt}, {"Received", "(fetchd "}}
}

func concatFields(fs ...[]field) []field {
	var out []field
	for _, f := range fs {
		out = append(out, f...)
	}
	return out
}

// stripFields removes exactly the header fields want from the top of data, in
// that order, each with its folded continuation lines, and fails if the top of
// data is anything else: a peer that adds a field more, or one fewer, shows.
func stripFields(data []byte, want []field) ([]byte, error) {
	rest := data
	for _, f := range want {
		prefix := f.Name + ":"
		if !bytes.HasPrefix(rest, []byte(prefix)) {
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

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b[:min(len(b), 80)]
}

// relayExpected is what a message must look like after an SMTP or LMTP hop,
// in the LF form a maildir holds: Expected(m) with each bare CR turned into a
// line end. RFC 5321 §2.3.8 allows only CRLF in DATA, so fetchd's SMTP and
// LMTP targets send a bare CR or bare LF as CRLF; every other byte (NUL,
// 8-bit, 20 KB lines) goes through as it is. (testcorpus messages have no CR
// before an LF, so every CR in them is bare.)
func relayExpected(m testcorpus.Message) []byte {
	return bytes.ReplaceAll(testcorpus.Expected(m), []byte("\r"), []byte("\n"))
}

// checkArrived compares the messages that arrived, each with the fields added
// stripped from its top, with want(m) for every m in ms: each exactly once, and
// nothing else. It returns the names of the messages that did not arrive;
// those are errors unless allowMissing (a test that then checks fetchd reported
// them failed).
func checkArrived(t *testing.T, where string, got []gotMsg, added []field, ms []testcorpus.Message,
	want func(testcorpus.Message) []byte, allowMissing bool) (missing []string) {
	t.Helper()
	wantSet, names := multiset{}, map[[32]byte]string{}
	for _, m := range ms {
		h := sha256.Sum256(want(m))
		wantSet[h]++
		names[h] = m.Name
	}
	gotSet := multiset{}
	var problems []string
	for _, g := range got {
		rest, err := stripFields(g.Data, added)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: unexpected header at the top: %v", g.Where, err))
			continue
		}
		h := sha256.Sum256(rest)
		gotSet[h]++
		if _, ok := wantSet[h]; !ok {
			problems = append(problems, fmt.Sprintf("%s: matches no corpus message: %s", g.Where, mismatch(rest, ms, want)))
		}
	}
	for h, n := range wantSet {
		switch {
		case gotSet[h] == 0 && allowMissing:
			missing = append(missing, names[h])
		case gotSet[h] != n:
			problems = append(problems, fmt.Sprintf("message %s: arrived %d times, want %d", names[h], gotSet[h], n))
		}
	}
	sort.Strings(problems)
	sort.Strings(missing)
	if len(problems) > 15 {
		problems = append(problems[:15], fmt.Sprintf("… and %d more", len(problems)-15))
	}
	if len(problems) > 0 {
		t.Errorf("%s does not match the corpus (%d messages, %d arrived):\n%s", where, len(ms), len(got), strings.Join(problems, "\n"))
	}
	return missing
}

// mismatch finds the corpus message sharing data's Message-ID and says where
// data first differs from want(m).
func mismatch(data []byte, ms []testcorpus.Message, want func(testcorpus.Message) []byte) string {
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
