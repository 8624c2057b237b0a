package pop3test

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFaults_Drop(t *testing.T) {
	body := "Subject: x\r\n\r\n.dot\r\n" // wire: "Subject: x\r\n\r\n..dot\r\n"
	tests := []struct {
		name   string
		faults Faults
		script []string // commands after login, each answered +OK, before the dropped one
		drop   string   // the command the server drops on
		want   string   // everything the client receives after sending drop
	}{
		{"DropAt QUIT", Faults{DropAt: "QUIT"}, []string{"DELE 1"}, "QUIT", ""},
		{"DropAt DELE any", Faults{DropAt: "dele"}, nil, "DELE 2", ""},
		{"DropAt RETR 2", Faults{DropAt: "RETR 2"}, []string{"DELE 1"}, "RETR 2", ""},
		{"DropAtBody", Faults{DropAtBody: 16}, []string{"DELE 2"}, "RETR 1", "+OK 20 octets\r\nSubject: x\r\n\r\n.."},
		{"DropAtBody past end: no terminator", Faults{DropAtBody: 1000}, []string{"DELE 2"}, "RETR 1", "+OK 20 octets\r\nSubject: x\r\n\r\n..dot\r\n"},
		{"DropAtBodyMsg selects", Faults{DropAtBody: 3, DropAtBodyMsg: 2}, []string{"DELE 1"}, "RETR 2", "+OK 20 octets\r\nSub"},
		{"DropAfterQuitCommit", Faults{DropAfterQuitCommit: true}, []string{"DELE 1"}, "QUIT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			s.Messages = []Message{{UID: "one", Body: []byte(body)}, {UID: "two", Body: []byte(body)}}
			s.Faults = tt.faults
			c := loggedIn(t, s.Start())
			for _, cmd := range tt.script {
				c.ok(cmd)
			}
			c.send(tt.drop)
			if got := c.rest(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			waitUnlocked(t, s)
			want := []string{"one", "two"} // rolled back
			if tt.faults.DropAfterQuitCommit {
				want = []string{"two"}
			}
			if got := uids(s); !slices.Equal(got, want) {
				t.Errorf("mailbox: got %q, want %q", got, want)
			}
			if got := s.Retrieved(); len(got) != 0 {
				t.Errorf("Retrieved: got %v, want none", got)
			}
		})
	}
}

// A DropAtBodyMsg for another message leaves RETR alone.
func TestFaults_DropAtBodyOtherMessage(t *testing.T) {
	s := NewServer(t)
	s.Messages = msgs("m1\r\n", "m2\r\n")
	s.Faults = Faults{DropAtBody: 1, DropAtBodyMsg: 2}
	c := loggedIn(t, s.Start())
	c.ok("RETR 1")
	if got, want := c.multiRaw(), "m1\r\n.\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := s.Retrieved()["uid-1"]; got != 1 {
		t.Errorf("Retrieved[uid-1]: got %d, want 1", got)
	}
}

func TestFaults_Stall(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		cmd    string
		want   string // received before the stall
	}{
		{"StallAt", Faults{StallAt: "RETR"}, "RETR 1", ""},
		{"StallAtBody", Faults{StallAtBody: 2}, "RETR 1", "+OK 6 octets\r\nab"},
		{"StallAtBody before DropAtBody", Faults{StallAtBody: 2, DropAtBody: 4}, "RETR 1", "+OK 6 octets\r\nab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			s.Messages = msgs("abcd\r\n", "x\r\n")
			s.Faults = tt.faults
			addr := s.Start()
			c := loggedIn(t, addr)
			c.ok("DELE 2")
			c.send(tt.cmd)
			c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
			if got := readFull(t, c, make([]byte, len(tt.want))); got != tt.want {
				t.Fatalf("before stall: got %q, want %q", got, tt.want)
			}
			c.silent(100 * time.Millisecond)

			// The stalled session holds the lock: another login is IN-USE.
			other := greeted(t, addr)
			other.ok("USER user")
			other.errReply("PASS pass", "-ERR [IN-USE]")

			done := make(chan struct{})
			go func() { s.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(clientTimeout):
				t.Fatal("Close did not return: stall not unblocked")
			}
			if got := c.rest(); got != "" {
				t.Errorf("after Close: got %q, want EOF", got)
			}
			if got := uids(s); len(got) != 2 {
				t.Errorf("mailbox: got %q, want DELE 2 rolled back", got)
			}
		})
	}
}

// A stalled session ends, and releases the lock, when the client hangs up.
func TestFaults_StallEndsOnClientClose(t *testing.T) {
	s := NewServer(t)
	s.Faults = Faults{StallAt: "STAT", Sessions: 1}
	addr := s.Start()
	c := loggedIn(t, addr)
	c.send("STAT")
	c.silent(50 * time.Millisecond)
	c.conn.Close()
	waitUnlocked(t, s)
	loggedIn(t, addr).ok("STAT")
}

func readFull(t *testing.T, c *client, b []byte) string {
	t.Helper()
	for n := 0; n < len(b); {
		m, err := c.r.Read(b[n:])
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, b[:n])
		}
		n += m
	}
	return string(b)
}

func TestFaults_Replies(t *testing.T) {
	s := NewServer(t)
	s.Messages = msgs("m1\r\n", "m2\r\n", "m3\r\n")
	s.Faults = Faults{Replies: map[string]string{
		"RETR":   "-ERR [SYS/TEMP] try later\r\n",
		"RETR 2": "+OK\r\nmalformed\r\n.\r\n",
		"UIDL":   "+OK\r\n1 has space\r\n.\r\n",
		"NOOP":   "garbage without line end",
	}}
	c := loggedIn(t, s.Start())
	c.errReply("RETR 1", "-ERR [SYS/TEMP] try later")
	c.errReply("RETR 20", "-ERR [SYS/TEMP] try later")
	c.ok("RETR 2")
	if got, want := c.multi(), []string{"malformed"}; !slices.Equal(got, want) {
		t.Errorf("RETR 2: got %q, want %q", got, want)
	}
	c.ok("uidl")
	if got, want := c.multi(), []string{"1 has space"}; !slices.Equal(got, want) {
		t.Errorf("UIDL: got %q, want %q", got, want)
	}
	c.send("NOOP")
	buf := make([]byte, len("garbage without line end"))
	c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
	if got := readFull(t, c, buf); got != "garbage without line end" {
		t.Errorf("NOOP: got %q", got)
	}
	// The override changes no state: STAT is normal.
	if got, want := c.cmd("STAT"), "+OK 3 12"; got != want {
		t.Errorf("STAT: got %q, want %q", got, want)
	}
}

func TestFaults_LoginCodes(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		want   string
	}{
		{"InUse", Faults{InUse: true}, "-ERR [IN-USE] mailbox locked"},
		{"LoginDelay", Faults{LoginDelay: true}, "-ERR [LOGIN-DELAY] wait"},
		{"Replies PASS", Faults{Replies: map[string]string{"PASS": "-ERR [IN-USE] locked\r\n"}}, "-ERR [IN-USE] locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			s.Faults = tt.faults
			c := greeted(t, s.Start())
			c.ok("USER user")
			if got := c.cmd("PASS pass"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.faults.Replies != nil {
				return
			}
			// Bad credentials still say AUTH: the fault needs a correct login.
			c.ok("USER user")
			c.errReply("PASS bad", "-ERR [AUTH]")
		})
	}
}

func TestFaults_Greeting(t *testing.T) {
	s := NewServer(t)
	s.Faults = Faults{Greeting: "-ERR [SYS/TEMP] overloaded"}
	c := dial(t, s.Start())
	if got, want := c.line(), "-ERR [SYS/TEMP] overloaded"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFaults_Sessions(t *testing.T) {
	s := NewServer(t)
	s.Messages = msgs("m1\r\n")
	s.Faults = Faults{DropAt: "QUIT", Sessions: 1}
	addr := s.Start()

	quit := func(wantOK bool) {
		t.Helper()
		c := loggedIn(t, addr)
		c.ok("DELE 1")
		c.send("QUIT")
		got := c.rest()
		if wantOK != strings.HasPrefix(got, "+OK") {
			t.Fatalf("QUIT: got %q, want +OK %v", got, wantOK)
		}
		waitUnlocked(t, s)
	}
	quit(false) // session 1: dropped, rolled back
	if got := uids(s); len(got) != 1 {
		t.Fatalf("mailbox after dropped QUIT: got %q", got)
	}
	quit(true) // session 2: normal
	if got := uids(s); len(got) != 0 {
		t.Fatalf("mailbox after QUIT: got %q", got)
	}

	// SetFaults counts Sessions from the call.
	s.AddMessages(msgs("m2\r\n", "m3\r\n")...)
	s.SetFaults(Faults{DropAt: "QUIT", Sessions: 1})
	quit(false)
	quit(true)
	if got, want := uids(s), []string{"uid-3"}; !slices.Equal(got, want) {
		t.Fatalf("mailbox: got %q, want %q", got, want)
	}
	if got := s.Sessions(); got != 4 {
		t.Errorf("Sessions: got %d, want 4", got)
	}
}

// A test may reuse its Faults value, Replies map included, after SetFaults.
func TestFaults_SetFaultsCopies(t *testing.T) {
	s := NewServer(t)
	addr := s.Start()
	f := Faults{Replies: map[string]string{"NOOP": "+OK first\r\n"}}
	s.SetFaults(f)
	f.Replies["NOOP"] = "+OK changed\r\n"
	if got, want := loggedIn(t, addr).cmd("NOOP"), "+OK first"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMatchCommand(t *testing.T) {
	tests := []struct {
		pattern, line string
		want          bool
	}{
		{"QUIT", "QUIT", true},
		{"quit", "QUIT", true},
		{"RETR", "retr 2", true},
		{"RETR 2", "RETR 2", true},
		{"RETR 2", "RETR 20", false},
		{"RETR 2", "RETR 12", false},
		{"TOP 1", "TOP 1 10", true},
		{"DELE", "DELETE", false},
		{"", "QUIT", false},
		{"PASS", "PASS secret", true},
	}
	for _, tt := range tests {
		if got := matchCommand(tt.pattern, tt.line); got != tt.want {
			t.Errorf("matchCommand(%q, %q) = %v, want %v", tt.pattern, tt.line, got, tt.want)
		}
	}
}

// Close ends every session goroutine, stalled ones included.
func TestClose_NoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	s := NewServer(t)
	s.Mode = ImplicitTLS
	s.Messages = msgs("abcd\r\n")
	s.Faults = Faults{StallAtBody: 1}
	addr := s.Start()
	c := dialTLS(t, addr, s.ClientTLSConfig())
	c.line()
	c.send("USER user", "PASS pass", "RETR 1")
	c.line()
	c.line()
	dial(t, addr) // idle, before the handshake
	s.Close()
	c.conn.Close()
	deadline := time.Now().Add(clientTimeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
