package pop3

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		line string
		want reply
		err  bool
	}{
		{line: "+OK", want: reply{ok: true}},
		{line: "+ok  2 320 ", want: reply{ok: true, text: "2 320"}},
		{line: "+OK POP3 ready <1.2@x>", want: reply{ok: true, text: "POP3 ready <1.2@x>"}},
		{line: "+OK [IN-USE] not a code on +OK", want: reply{ok: true, text: "[IN-USE] not a code on +OK"}},
		{line: "-ERR", want: reply{}},
		{line: "-err [in-use] locked", want: reply{code: "IN-USE", text: "locked"}},
		{line: "-ERR [SYS/TEMP]", want: reply{code: "SYS/TEMP"}},
		{line: "-ERR [SYS/PERM/X] gone", want: reply{code: "SYS/PERM/X", text: "gone"}},
		{line: "-ERR [] empty", want: reply{text: "[] empty"}},
		{line: "-ERR [A//B] x", want: reply{text: "[A//B] x"}},
		{line: "-ERR [A B] x", want: reply{text: "[A B] x"}},
		{line: "-ERR [open", want: reply{text: "[open"}},
		{line: "-ERR esc\x1b[31m", want: reply{text: "esc?[31m"}},
		{line: "+OKAY", err: true},
		{line: "OK", err: true},
		{line: "", err: true},
		{line: "* OK IMAP", err: true},
	}
	for _, tc := range tests {
		got, err := parseReply(tc.line)
		if (err != nil) != tc.err {
			t.Errorf("parseReply(%q): got error %v, want error %v", tc.line, err, tc.err)
			continue
		}
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("parseReply(%q): got %v, want ErrProtocol", tc.line, err)
		}
		if got != tc.want {
			t.Errorf("parseReply(%q): got %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{in: "+OK\r\n", want: "+OK"},
		{in: "+OK\n", want: "+OK"}, // QUIRK
		{in: "+OK\r\r\n", want: "+OK\r"},
		{in: "+OK", err: io.ErrUnexpectedEOF},
		{in: "", err: io.EOF},
		{in: strings.Repeat("x", 17) + "\r\n", err: ErrLineTooLong},
		{in: strings.Repeat("x", 100), err: ErrLineTooLong},
	}
	for _, tc := range tests {
		got, err := readLine(bufio.NewReaderSize(strings.NewReader(tc.in), 32), 16)
		if !errors.Is(err, tc.err) || string(got) != tc.want {
			t.Errorf("readLine(%q): got %q, %v, want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestError(t *testing.T) {
	tests := []struct {
		err        Error
		temp, auth bool
		msg        string
	}{
		{Error{"PASS", "AUTH", "bad"}, false, true, "server rejected PASS: -ERR [AUTH] bad"},
		{Error{"PASS", "", "bad"}, true, true, "server rejected PASS: -ERR bad"},
		{Error{"APOP", "IN-USE", "locked"}, true, false, "server rejected APOP: -ERR [IN-USE] locked"},
		{Error{"PASS", "LOGIN-DELAY", ""}, true, false, "server rejected PASS: -ERR [LOGIN-DELAY]"},
		{Error{"PASS", "SYS/TEMP", "x"}, true, false, "server rejected PASS: -ERR [SYS/TEMP] x"},
		{Error{"PASS", "SYS/PERM", "x"}, false, true, "server rejected PASS: -ERR [SYS/PERM] x"},
		{Error{"RETR", "SYS/PERM/DISK", "x"}, false, false, "server rejected RETR: -ERR [SYS/PERM/DISK] x"},
		{Error{"USER", "AUTH", ""}, false, true, "server rejected USER: -ERR [AUTH]"},
		{Error{"USER", "", "no such user"}, true, false, "server rejected USER: -ERR no such user"},
		{Error{"DELE", "FOO", "x"}, true, false, "server rejected DELE: -ERR [FOO] x"},
		{Error{"PASS", "AUTHX", "x"}, true, true, "server rejected PASS: -ERR [AUTHX] x"},
	}
	for _, tc := range tests {
		if got := tc.err.Temporary(); got != tc.temp {
			t.Errorf("%+v: Temporary() = %v, want %v", tc.err, got, tc.temp)
		}
		if got := tc.err.IsAuth(); got != tc.auth {
			t.Errorf("%+v: IsAuth() = %v, want %v", tc.err, got, tc.auth)
		}
		if got := tc.err.Error(); got != tc.msg {
			t.Errorf("got %q, want %q", got, tc.msg)
		}
	}
}

func TestIsTemporary(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("retr 3: read body: %w", err) }
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{wrap(io.ErrUnexpectedEOF), true},
		{wrap(os.ErrDeadlineExceeded), true},
		{wrap(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{wrap(context.Canceled), true},
		{wrap(ErrBroken), true},
		{wrap(ErrProtocol), true},
		{wrap(&Error{Command: "PASS", Code: "IN-USE"}), true},
		{wrap(&Error{Command: "PASS", Code: "AUTH"}), false},
		{wrap(&Error{Command: "RETR", Code: "SYS/PERM"}), false},
		{wrap(ErrInsecure), false},
		{wrap(ErrSTLSUnavailable), false},
		{fmt.Errorf("stls: %w: %w", ErrSTLSUnavailable, &Error{Command: "STLS", Code: "SYS/TEMP"}), false},
		{wrap(ErrInjection), false},
		{wrap(ErrInvalidArgument), false},
		{wrap(ErrLineTooLong), false},
		{wrap(ErrMessageTooLarge), false},
		{wrap(ErrNoUIDL), false},
		{wrap(x509.UnknownAuthorityError{}), false},
		{wrap(x509.HostnameError{Host: "x"}), false},
		{errors.New("unclassified"), true},
	}
	for _, tc := range tests {
		if got := IsTemporary(tc.err); got != tc.want {
			t.Errorf("IsTemporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestAPOPDigest(t *testing.T) {
	// RFC 1939 §7, the APOP example.
	ts := findTimestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>")
	if want := "<1896.697170952@dbc.mtview.ca.us>"; ts != want {
		t.Fatalf("got timestamp %q, want %q", ts, want)
	}
	if got, want := apopDigest(ts, "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFindTimestamp(t *testing.T) {
	tests := []struct{ text, want string }{
		{"ready", ""},
		{"ready <>", ""},
		{"ready <a b@c>", ""},
		{"ready <1.2@host> more", "<1.2@host>"},
		{"<<1@h>", ""},
		{"ready <unterminated", ""},
	}
	for _, tc := range tests {
		if got := findTimestamp(tc.text); got != tc.want {
			t.Errorf("findTimestamp(%q): got %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		cmd   command
		want  string
		trace string
		err   bool
	}{
		{cmd: command{verb: "STAT"}, want: "STAT", trace: "STAT"},
		{cmd: command{verb: "PASS", args: []string{"a b"}, secretArg: 1}, want: "PASS a b", trace: "PASS <redacted>"},
		{cmd: command{verb: "APOP", args: []string{"u", "d"}, secretArg: 2}, want: "APOP u d", trace: "APOP u <redacted>"},
		{cmd: command{verb: "USER", args: []string{"a\nb"}}, err: true},
		{cmd: command{verb: "USER", args: []string{"a\rb"}}, err: true},
		{cmd: command{verb: "USER", args: []string{"a\x00b"}}, err: true},
		{cmd: command{verb: "USER", args: []string{strings.Repeat("u", 248)}}, want: "USER " + strings.Repeat("u", 248), trace: "USER " + strings.Repeat("u", 248)},
		{cmd: command{verb: "USER", args: []string{strings.Repeat("u", 249)}}, err: true},
	}
	for _, tc := range tests {
		got, err := tc.cmd.line()
		if (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrInvalidArgument)) {
			t.Errorf("%v: got error %v, want error %v", tc.cmd.args, err, tc.err)
			continue
		}
		if got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
		if err == nil {
			if tr := tc.cmd.traceLine(got); tr != tc.trace {
				t.Errorf("got trace %q, want %q", tr, tc.trace)
			}
		}
	}
	_, err := (&command{verb: "PASS", args: []string{"hunter2\r\n"}, secretArg: 1}).line()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("got %v, want an error without the password", err)
	}
}

func TestParseListingLines(t *testing.T) {
	tests := []struct {
		line string
		uidl bool
		want MessageInfo
		err  bool
	}{
		{line: "1 120", want: MessageInfo{1, 120, ""}},
		{line: "2 200 extra info", want: MessageInfo{2, 200, ""}},
		{line: "3   7", want: MessageInfo{3, 7, ""}},
		{line: "0 1", err: true},
		{line: "+1 1", err: true},
		{line: "1 -1", err: true},
		{line: "1", err: true},
		{line: "x 1", err: true},
		{line: "99999999999 1", err: true},
		{line: "1 whqtswO00WBw418f9t5JxYwZ", uidl: true, want: MessageInfo{1, -1, "whqtswO00WBw418f9t5JxYwZ"}},
		{line: "1 " + strings.Repeat("u", 512), uidl: true, want: MessageInfo{1, -1, strings.Repeat("u", 512)}},
		{line: "1 " + strings.Repeat("u", 513), uidl: true, err: true},
		{line: "1 has space ", uidl: true, want: MessageInfo{1, -1, "has space"}},
		{line: "1 caf\xc3\xa9", uidl: true, want: MessageInfo{1, -1, "caf\xc3\xa9"}},
		{line: "1 a\tb", uidl: true, err: true},
		{line: "1 a\x7f", uidl: true, err: true},
		{line: "1", uidl: true, err: true},
		{line: "1 ", uidl: true, err: true},
	}
	for _, tc := range tests {
		parse := parseScanLine
		if tc.uidl {
			parse = parseUIDLine
		}
		got, err := parse(tc.line)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parse(%q): got %+v, %v, want %+v, error %v", tc.line, got, err, tc.want, tc.err)
		}
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		text  string
		count int
		size  int64
		err   bool
	}{
		{"2 320", 2, 320, false},
		{"0 0", 0, 0, false},
		{"2 320 messages", 2, 320, false},
		{"2", 0, 0, true},
		{"", 0, 0, true},
		{"a 1", 0, 0, true},
	}
	for _, tc := range tests {
		n, size, err := parseStat(tc.text)
		if (err != nil) != tc.err || n != tc.count || size != tc.size {
			t.Errorf("parseStat(%q): got %d %d %v, want %d %d error %v", tc.text, n, size, err, tc.count, tc.size, tc.err)
		}
	}
}
