package deliver

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var mboxClock = time.Date(2024, 3, 5, 7, 8, 9, 0, time.FixedZone("CET", 3600))

const mboxFrom = "From a@example.com Tue Mar  5 06:08:09 2024\n"

func newTestMbox(t testing.TB) *Mbox {
	t.Helper()
	m, err := NewMbox(filepath.Join(t.TempDir(), "inbox"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.now = func() time.Time { return mboxClock }
	return m
}

// deliverMbox stages and commits one message from a@example.com.
func deliverMbox(t testing.TB, m *Mbox, body io.Reader, trace Trace) error {
	t.Helper()
	s, err := m.Stage(context.Background(), &Envelope{From: "a@example.com", Trace: trace}, body)
	if err != nil {
		return err
	}
	defer s.Abort()
	return s.Commit(context.Background())
}

func readMbox(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// leftovers lists the files in the mbox's directory other than the mbox.
func leftovers(t testing.TB, m *Mbox) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(m.Path))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != filepath.Base(m.Path) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestNewMbox(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inbox")
	m, err := NewMbox(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "mbox "+path; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewMbox created %s (%v): Commit does that", path, err)
	}
	for _, bad := range []string{"", dir, filepath.Join(dir, "missing", "inbox")} {
		_, err := NewMbox(bad, nil)
		var e *Error
		if !errors.As(err, &e) || e.Permanent {
			t.Errorf("NewMbox(%q) = %v, want a temporary *Error", bad, err)
		}
	}
}

func TestMbox_Format(t *testing.T) {
	trace := Trace{ReturnPath: "<a@example.com>", DeliveredTo: "u@example.org", Received: "by host; Tue, 5 Mar 2024 06:08:09 +0000"}
	tests := []struct {
		name, body string
		trace      Trace
		want       string // after the From line
	}{
		{"simple", "Subject: hi\r\n\r\nhello\r\n", Trace{}, "Subject: hi\n\nhello\n\n"},
		{"empty body", "", Trace{}, "\n"},
		{"no final line end", "Subject: hi\r\n\r\nhello", Trace{}, "Subject: hi\n\nhello\n\n"},
		{"trace header first", "Subject: hi\r\n\r\nx\r\n", trace,
			"Return-Path: <a@example.com>\nDelivered-To: u@example.org\nReceived: by host; Tue, 5 Mar 2024 06:08:09 +0000\nSubject: hi\n\nx\n\n"},
		{"from lines quoted", "S: x\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\nFromage\r\n From\r\n", Trace{},
			"S: x\n\n>From here\n>>From there\n>>>From far\nFromage\n From\n\n"},
		{"nul 8-bit bare cr", "a\x00b\r\n\xff\xfe\r\nc\rd\r\ne\r", Trace{}, "a\x00b\n\xff\xfe\nc\rd\ne\r\n\n"},
		{"body starts with From", "From x\r\n", Trace{}, ">From x\n\n"},
		{"crlf split", "a\r\nFrom \r\n", Trace{}, "a\n>From \n\n"},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				m := newTestMbox(t)
				if err := deliverMbox(t, m, rd.wrap(strings.NewReader(tt.body)), tt.trace); err != nil {
					t.Fatal(err)
				}
				if got, want := readMbox(t, m.Path), mboxFrom+tt.want; got != want {
					t.Errorf("mbox holds %q, want %q", got, want)
				}
				if got := leftovers(t, m); len(got) != 0 {
					t.Errorf("directory also holds %q, want nothing (spool and lock removed)", got)
				}
			})
		}
	}
}

func TestMbox_NullSenderAndNilEnvelope(t *testing.T) {
	m := newTestMbox(t)
	for _, env := range []*Envelope{nil, {From: ""}} {
		s, err := m.Stage(context.Background(), env, strings.NewReader("x\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	line := "From MAILER-DAEMON Tue Mar  5 06:08:09 2024\nx\n\n"
	if got, want := readMbox(t, m.Path), line+line; got != want {
		t.Errorf("mbox holds %q, want %q", got, want)
	}
}

func TestMbox_SeparatorBeforeNewMessage(t *testing.T) {
	tests := []struct{ existing, want string }{
		{"", ""},
		{mboxFrom + "x\n\n", mboxFrom + "x\n\n"},
		{mboxFrom + "x\n", mboxFrom + "x\n\n"},
		{mboxFrom + "x", mboxFrom + "x\n\n"},
		{"\n", "\n\n"},
	}
	for _, tt := range tests {
		m := newTestMbox(t)
		if err := os.WriteFile(m.Path, []byte(tt.existing), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := deliverMbox(t, m, strings.NewReader("y\r\n"), Trace{}); err != nil {
			t.Fatal(err)
		}
		if got, want := readMbox(t, m.Path), tt.want+mboxFrom+"y\n\n"; got != want {
			t.Errorf("after %q: mbox holds %q, want %q", tt.existing, got, want)
		}
	}
}

// parseMboxrd splits an mbox at its From lines (each after an empty line, or
// at the start) and undoes the quoting: what a mail reader sees.
func parseMboxrd(t *testing.T, data string) []string {
	t.Helper()
	if data == "" {
		return nil
	}
	if !strings.HasPrefix(data, "From ") {
		t.Fatalf("mbox does not start with a From line: %q", data)
	}
	var msgs []string
	for _, part := range strings.Split(data[len("From "):], "\n\nFrom ") {
		_, msg, ok := strings.Cut(part, "\n") // drop the rest of the From line
		if !ok {
			t.Fatalf("From line without a line end in %q", part)
		}
		msgs = append(msgs, string(unquoteMboxrd([]byte(msg))))
	}
	last := &msgs[len(msgs)-1]
	if !strings.HasSuffix(*last, "\n\n") {
		t.Fatalf("mbox does not end with an empty line: %q", data)
	}
	*last = strings.TrimSuffix(*last, "\n")
	for i := range msgs[:len(msgs)-1] {
		msgs[i] += "\n" // the line end before the separator was the message's
	}
	return msgs
}

func TestMbox_AppendedMessagesReadBack(t *testing.T) {
	bodies := []string{
		"Subject: one\r\n\r\nFrom the start\r\n>From quoted\r\n\r\n\r\nFrom \r\n",
		"Subject: two\r\n\r\n\x00\xff bare\rcr\r\n>>>From deep\r\nlast\r\n",
		"Subject: three\r\n\r\n\r\n",
	}
	m := newTestMbox(t)
	for _, b := range bodies {
		if err := deliverMbox(t, m, strings.NewReader(b), Trace{}); err != nil {
			t.Fatal(err)
		}
	}
	got := parseMboxrd(t, readMbox(t, m.Path))
	if len(got) != len(bodies) {
		t.Fatalf("read back %d messages %q, want %d", len(got), got, len(bodies))
	}
	for i, b := range bodies {
		if want := strings.ReplaceAll(b, "\r\n", "\n"); got[i] != want {
			t.Errorf("message %d = %q, want %q", i, got[i], want)
		}
	}
}

func TestMbox_StageFailureLeavesNothing(t *testing.T) {
	m := newTestMbox(t)
	body := io.MultiReader(strings.NewReader(strings.Repeat("x\r\n", 50000)), iotest.ErrReader(errBoom))
	s, err := m.Stage(context.Background(), nil, body)
	if s != nil || !errors.Is(err, errBoom) || IsPermanent(err) {
		t.Fatalf("Stage = %v, %v, want nil and a temporary %v", s, err, errBoom)
	}
	if want := "mbox " + m.Path + ": read body: " + errBoom.Error(); err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if got := leftovers(t, m); len(got) != 0 {
		t.Errorf("directory holds %q, want nothing", got)
	}
	if _, err := os.Stat(m.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mbox exists after a failed Stage: %v", err)
	}
}

func TestMbox_Abort(t *testing.T) {
	m := newTestMbox(t)
	s, err := m.Stage(context.Background(), nil, strings.NewReader("x\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := leftovers(t, m); len(got) != 1 || !strings.HasPrefix(got[0], ".inbox.fetchd-") {
		t.Errorf("after Stage the directory holds %q, want one spool file", got)
	}
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background()); err == nil {
		t.Error("Commit after Abort = nil, want an error")
	}
	if got := leftovers(t, m); len(got) != 0 {
		t.Errorf("directory holds %q, want nothing", got)
	}
	if _, err := os.Stat(m.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mbox exists after Abort: %v", err)
	}
}
