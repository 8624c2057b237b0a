package pop3test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSession_Normal(t *testing.T) {
	s := NewServer(t)
	s.Messages = []Message{
		{UID: "a1", Body: []byte("Subject: one\r\n\r\n.hello\r\n")},
		{Body: []byte("Subject: two\r\n\r\nbody\r\n")},
	}
	s.Pipelining = true
	addr := s.Start()
	if s.Addr() != addr || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Addr %q, Start %q", s.Addr(), addr)
	}

	c := greeted(t, addr)
	c.ok("CAPA")
	caps := c.multi()
	for _, want := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "IMPLEMENTATION fetchd-pop3test"} {
		if !slices.Contains(caps, want) {
			t.Errorf("CAPA %q lacks %q", caps, want)
		}
	}
	if slices.Contains(caps, "STLS") {
		t.Errorf("CAPA %q lists STLS, not offered", caps)
	}
	c.ok("user user") // keywords are case-insensitive
	if got, want := c.cmd("PASS pass"), "+OK mailbox has 2 messages (46 octets)"; got != want {
		t.Errorf("PASS: got %q, want %q", got, want)
	}
	if got, want := c.cmd("STAT"), "+OK 2 46"; got != want {
		t.Errorf("STAT: got %q, want %q", got, want)
	}
	c.ok("LIST")
	if got, want := c.multi(), []string{"1 24", "2 22"}; !slices.Equal(got, want) {
		t.Errorf("LIST: got %q, want %q", got, want)
	}
	if got, want := c.cmd("LIST 2"), "+OK 2 22"; got != want {
		t.Errorf("LIST 2: got %q, want %q", got, want)
	}
	c.ok("UIDL")
	if got, want := c.multi(), []string{"1 a1", "2 uid-2"}; !slices.Equal(got, want) {
		t.Errorf("UIDL: got %q, want %q", got, want)
	}
	if got, want := c.cmd("UIDL 1"), "+OK 1 a1"; got != want {
		t.Errorf("UIDL 1: got %q, want %q", got, want)
	}
	if got, want := c.cmd("RETR 1"), "+OK 24 octets"; got != want {
		t.Errorf("RETR 1: got %q, want %q", got, want)
	}
	if got, want := c.multiRaw(), "Subject: one\r\n\r\n..hello\r\n.\r\n"; got != want {
		t.Errorf("RETR 1 body: got %q, want %q", got, want)
	}
	c.ok("TOP 2 0")
	if got, want := c.multiRaw(), "Subject: two\r\n\r\n.\r\n"; got != want {
		t.Errorf("TOP 2 0: got %q, want %q", got, want)
	}
	c.ok("NOOP")
	c.ok("DELE 1")
	c.ok("QUIT")
	if got := c.rest(); got != "" {
		t.Errorf("after QUIT: got %q, want EOF", got)
	}
	waitUnlocked(t, s)

	if got, want := uids(s), []string{"uid-2"}; !slices.Equal(got, want) {
		t.Errorf("mailbox after QUIT: got %q, want %q", got, want)
	}
	if got := s.Retrieved(); len(got) != 1 || got["a1"] != 1 {
		t.Errorf("Retrieved: got %v, want map[a1:1]", got)
	}
	if got := s.Sessions(); got != 1 {
		t.Errorf("Sessions: got %d, want 1", got)
	}
	cmds := s.Commands()
	if len(cmds) < 3 || cmds[2] != "PASS pass" {
		t.Errorf("Commands: got %q, want PASS pass recorded exactly", cmds)
	}
}

func TestRetr_WireForm(t *testing.T) {
	tests := []struct {
		name, body, wire string
	}{
		{"dot at start", ".hello\r\n", "..hello\r\n.\r\n"},
		{"dot after CRLF", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
		{"dot after bare LF not stuffed", "a\n.b\r\n", "a\n.b\r\n.\r\n"},
		{"bare CR kept", "a\rb\r\n", "a\rb\r\n.\r\n"},
		{"missing final CRLF", "abc", "abc\r\n.\r\n"},
		{"final bare LF", "abc\n", "abc\n\r\n.\r\n"},
		{"ends with dot line, no CRLF", "a\r\n.", "a\r\n..\r\n.\r\n"},
		{"empty", "", ".\r\n"},
		{"only CRLF", "\r\n", "\r\n.\r\n"},
	}
	s := NewServer(t)
	for _, tt := range tests {
		s.Messages = append(s.Messages, Message{Body: []byte(tt.body)})
	}
	c := loggedIn(t, s.Start())
	for i, tt := range tests {
		if got, want := c.cmd(fmt.Sprintf("RETR %d", i+1)), fmt.Sprintf("+OK %d octets", len(tt.body)); got != want {
			t.Fatalf("%s: status: got %q, want %q", tt.name, got, want)
		}
		if got := c.multiRaw(); got != tt.wire {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.wire)
		}
	}
}

func TestTop(t *testing.T) {
	body := "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n"
	tests := []struct {
		body  string
		lines int
		want  string
	}{
		{body, 0, "A: 1\r\nB: 2\r\n\r\n"},
		{body, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n"},
		{body, 99, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n"},
		{"A: 1\r\n", 1, "A: 1\r\n"},
		{"\r\nbody\r\nmore\r\n", 1, "\r\nbody\r\n"},
		{"A: 1\r\n\r\nno crlf", 5, "A: 1\r\n\r\nno crlf\r\n"},
	}
	s := NewServer(t)
	for _, tt := range tests {
		s.Messages = append(s.Messages, Message{Body: []byte(tt.body)})
	}
	c := loggedIn(t, s.Start())
	for i, tt := range tests {
		c.ok(fmt.Sprintf("TOP %d %d", i+1, tt.lines))
		if got, want := c.multiRaw(), tt.want+".\r\n"; got != want {
			t.Errorf("TOP %d %d: got %q, want %q", i+1, tt.lines, got, want)
		}
	}
	if got := s.Retrieved(); len(got) != 0 {
		t.Errorf("Retrieved after TOP: got %v, want none", got)
	}
}

func TestDele_CommittedOnlyByQuit(t *testing.T) {
	s := NewServer(t)
	s.Messages = msgs("m1\r\n", "m2\r\n", "m3\r\n")
	addr := s.Start()

	// Dropped by the client: rolled back.
	c := loggedIn(t, addr)
	c.ok("DELE 1")
	c.errReply("DELE 1", "-ERR")
	c.errReply("RETR 1", "-ERR no such message")
	c.errReply("LIST 1", "-ERR no such message")
	c.errReply("UIDL 1", "-ERR no such message")
	c.ok("LIST")
	if got, want := c.multi(), []string{"2 4", "3 4"}; !slices.Equal(got, want) {
		t.Errorf("LIST after DELE 1: got %q, want %q", got, want)
	}
	if got, want := c.cmd("STAT"), "+OK 2 8"; got != want {
		t.Errorf("STAT after DELE 1: got %q, want %q", got, want)
	}
	c.conn.Close()
	waitUnlocked(t, s)
	if got := uids(s); len(got) != 3 {
		t.Fatalf("mailbox after drop: got %q, want 3 messages", got)
	}

	// RSET unmarks.
	c = loggedIn(t, addr)
	c.ok("DELE 2")
	c.ok("RSET")
	c.ok("DELE 3")
	c.ok("QUIT")
	c.rest()
	waitUnlocked(t, s)
	if got, want := uids(s), []string{"uid-1", "uid-2"}; !slices.Equal(got, want) {
		t.Fatalf("mailbox after RSET, DELE 3, QUIT: got %q, want %q", got, want)
	}

	// A new session numbers the remaining messages 1..n, and sees added ones.
	s.AddMessages(Message{Body: []byte("m4\r\n")})
	c = loggedIn(t, addr)
	c.ok("UIDL")
	if got, want := c.multi(), []string{"1 uid-1", "2 uid-2", "3 uid-4"}; !slices.Equal(got, want) {
		t.Errorf("UIDL in new session: got %q, want %q", got, want)
	}
	c.errReply("RETR 4", "-ERR no such message")
}

func TestLogin_InUseWhileLocked(t *testing.T) {
	s := NewServer(t)
	s.Messages = msgs("m1\r\n")
	addr := s.Start()
	first := loggedIn(t, addr)

	second := greeted(t, addr)
	second.ok("USER user")
	second.errReply("PASS pass", "-ERR [IN-USE]")

	first.ok("QUIT")
	first.rest()
	waitUnlockedBy(t, s, 0)
	second.ok("USER user")
	second.ok("PASS pass")
}

// waitUnlockedBy waits until the lock holder is want (0 = free).
func waitUnlockedBy(t *testing.T, s *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(clientTimeout)
	for {
		s.mu.Lock()
		got := s.lockHolder
		s.mu.Unlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock holder %d, want %d", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name    string
		login   bool
		command string
		want    string
	}{
		{"STAT before login", false, "STAT", "-ERR"},
		{"RETR before login", false, "RETR 1", "-ERR"},
		{"PASS without USER", false, "PASS pass", "-ERR"},
		{"unknown command", false, "XYZZY", "-ERR unknown command"},
		{"empty line", false, "", "-ERR"},
		{"APOP not offered", false, "APOP user 0123", "-ERR"},
		{"line too long", false, "USER " + strings.Repeat("x", MaxCommandLine), "-ERR line too long"},
		{"USER in TRANSACTION", true, "USER user", "-ERR"},
		{"STLS in TRANSACTION", true, "STLS", "-ERR"},
		{"RETR zero", true, "RETR 0", "-ERR no such message"},
		{"RETR out of range", true, "RETR 2", "-ERR no such message"},
		{"RETR signed", true, "RETR +1", "-ERR no such message"},
		{"RETR no argument", true, "RETR", "-ERR"},
		{"TOP negative", true, "TOP 1 -1", "-ERR"},
		{"STAT with argument", true, "STAT 1", "-ERR"},
		{"LIST two arguments", true, "LIST 1 2", "-ERR"},
		{"unknown in TRANSACTION", true, "XYZZY", "-ERR unknown command"},
	}
	s := NewServer(t)
	s.Messages = msgs("m1\r\n")
	addr := s.Start()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *client
			if tt.login {
				c = loggedIn(t, addr)
			} else {
				c = greeted(t, addr)
			}
			if got := c.cmd(tt.command); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want prefix %q", got, tt.want)
			}
			c.ok("QUIT") // the session is still in step
			c.rest()
			waitUnlocked(t, s)
		})
	}
}

func TestLogin(t *testing.T) {
	s := NewServer(t)
	s.User, s.Password = "alice", "pass with spaces"
	s.APOP = true
	addr := s.Start()

	c := dial(t, addr)
	g := c.line()
	ts := regexp.MustCompile(`<[^>]*>`).FindString(g)
	if !strings.HasPrefix(g, "+OK") || ts == "" {
		t.Fatalf("greeting %q, want +OK with an APOP timestamp", g)
	}
	c.ok("USER alice")
	c.errReply("PASS wrong", "-ERR [AUTH] invalid credentials")
	c.ok("USER bob")
	c.errReply("PASS pass with spaces", "-ERR [AUTH]")
	c.errReply("APOP alice 00000000000000000000000000000000", "-ERR [AUTH]")
	sum := md5.Sum([]byte(ts + "pass with spaces"))
	c.ok("APOP alice " + hex.EncodeToString(sum[:]))
	c.ok("QUIT")
	c.rest()
	waitUnlocked(t, s)

	c = greeted(t, addr)
	c.ok("USER alice")
	c.ok("PASS pass with spaces")
}

func TestCapabilityOptions(t *testing.T) {
	s := NewServer(t)
	s.NoCAPA = true
	s.NoUIDL = true
	c := greeted(t, s.Start())
	c.errReply("CAPA", "-ERR")
	c.ok("USER user")
	c.ok("PASS pass")
	c.errReply("UIDL", "-ERR")
	c.errReply("CAPA", "-ERR")

	s2 := NewServer(t)
	s2.NoUIDL = true
	c = loggedIn(t, s2.Start())
	c.ok("CAPA")
	caps := c.multi()
	if slices.Contains(caps, "UIDL") || slices.Contains(caps, "USER") {
		t.Errorf("CAPA in TRANSACTION with NoUIDL: got %q, want neither UIDL nor USER", caps)
	}
}

func TestPipelining(t *testing.T) {
	s := NewServer(t)
	s.Pipelining = true
	s.Messages = msgs("m1\r\n", "m2\r\n")
	c := greeted(t, s.Start())
	c.send("USER user", "PASS pass", "STAT", "RETR 2", "DELE 1", "DELE 2", "QUIT")
	want := "+OK send PASS\r\n+OK mailbox has 2 messages (8 octets)\r\n+OK 2 8\r\n" +
		"+OK 4 octets\r\nm2\r\n.\r\n+OK message 1 deleted\r\n+OK message 2 deleted\r\n" +
		"+OK fetchd pop3test signing off\r\n"
	if got := c.rest(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	waitUnlocked(t, s)
	if got := s.Mailbox(); len(got) != 0 {
		t.Errorf("mailbox: got %d messages, want 0", len(got))
	}
}

func TestClose_Idempotent(t *testing.T) {
	s := NewServer(t)
	addr := s.Start()
	c := greeted(t, addr)
	s.Close()
	s.Close()
	if got := c.rest(); got != "" {
		t.Errorf("after Close: got %q, want EOF", got)
	}
}

func TestMailbox_BeforeStart(t *testing.T) {
	s := NewServer(t)
	s.Messages = []Message{{UID: "x"}, {}}
	s.AddMessages(Message{})
	if got, want := uids(s), []string{"x", "uid-2", "uid-3"}; !slices.Equal(got, want) {
		t.Errorf("before Start: got %q, want %q", got, want)
	}
	s.Start()
	if got, want := uids(s), []string{"x", "uid-2", "uid-3"}; !slices.Equal(got, want) {
		t.Errorf("after Start: got %q, want %q", got, want)
	}
}
