package pop3test

import (
	"bufio"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// loginAs dials and logs in as user with USER/PASS.
func loginAs(t *testing.T, addr, user, pass string) *client {
	t.Helper()
	c := greeted(t, addr)
	c.ok("USER " + user)
	c.ok("PASS " + pass)
	return c
}

// pollOnce is a whole session as a daemon makes it (greeting, USER, PASS,
// QUIT, EOF), for use off the test goroutine: it returns what failed.
func pollOnce(addr, user, pass string) error {
	c, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(clientTimeout))
	r := bufio.NewReader(c)
	for _, cmd := range []string{"", "USER " + user, "PASS " + pass, "QUIT"} {
		if cmd != "" {
			if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
		}
		l, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%q: %w", cmd, err)
		}
		if !strings.HasPrefix(l, "+OK") {
			return fmt.Errorf("%q: got %q, want +OK", cmd, l)
		}
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		return fmt.Errorf("after QUIT: got %q, %v, want EOF", rest, err)
	}
	return nil
}

// waitCommand waits until the server has received line.
func waitCommand(t *testing.T, s *Server, line string) {
	t.Helper()
	deadline := time.Now().Add(clientTimeout)
	for !slices.Contains(s.Commands(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("server did not receive %q", line)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitUserUnlocked waits until no session holds user's lock (AnyUser).
func waitUserUnlocked(t *testing.T, s *Server, user string) {
	t.Helper()
	deadline := time.Now().Add(clientTimeout)
	for {
		s.mu.Lock()
		id := s.userLocks[user]
		s.mu.Unlock()
		if id == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d still holds the lock of %q", id, user)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closeWithin calls s.Close and fails if it does not return within clientTimeout.
func closeWithin(t *testing.T, s *Server) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(clientTimeout):
		t.Fatal("Close did not return")
	}
}

func TestHost_OtherLoopback(t *testing.T) {
	const host = "127.0.0.2"
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Skipf("cannot listen on %s (not a loopback address here?): %v", host, err)
	}
	ln.Close()

	tests := []struct {
		name      string
		certHosts []string // nil: the default
		verify    map[string]bool
	}{
		{"default SANs gain Host", nil,
			map[string]bool{host: true, "127.0.0.1": true, "localhost": true, "127.0.0.3": false}},
		{"custom SANs kept as given", []string{"mail.example.org"},
			map[string]bool{"mail.example.org": true, host: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			s.Host = host
			s.Mode = ImplicitTLS
			if tt.certHosts != nil {
				s.CertHosts = tt.certHosts
			}
			addr := s.Start()
			if !strings.HasPrefix(addr, host+":") || s.Addr() != addr {
				t.Fatalf("Start %q, Addr %q, want %s:port", addr, s.Addr(), host)
			}
			for name, want := range tt.verify {
				cfg := s.ClientTLSConfig()
				cfg.ServerName = name
				d := &net.Dialer{Timeout: clientTimeout}
				c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
				if err == nil {
					c.Close()
				}
				if got := err == nil; got != want {
					t.Errorf("handshake for %q: got ok %v (%v), want %v", name, got, err, want)
				}
			}
			cfg := s.ClientTLSConfig()
			cfg.ServerName = "mail.example.org"
			if tt.certHosts == nil {
				cfg.ServerName = host
			}
			c := dialTLS(t, addr, cfg)
			c.line()
			c.ok("USER user")
			c.ok("PASS pass")
		})
	}
}

func TestAnyUser_Credentials(t *testing.T) {
	tests := []struct {
		name       string
		anyUser    bool
		user, pass string
		want       string
	}{
		{"configured user", false, "user", "pass", "+OK"},
		{"other user refused", false, "alice", "pass", "-ERR [AUTH]"},
		{"AnyUser: other user", true, "alice", "pass", "+OK"},
		{"AnyUser: configured user", true, "user", "pass", "+OK"},
		{"AnyUser: wrong password", true, "alice", "bad", "-ERR [AUTH]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			s.AnyUser = tt.anyUser
			c := greeted(t, s.Start())
			c.ok("USER " + tt.user)
			if got := c.cmd("PASS " + tt.pass); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want prefix %q", got, tt.want)
			}
		})
	}
}

func TestAnyUser_LockPerUser(t *testing.T) {
	s := NewServer(t)
	s.AnyUser = true
	s.APOP = true
	s.Messages = msgs("m1\r\n", "m2\r\n")
	addr := s.Start()

	alice := loginAs(t, addr, "alice", "pass")
	bob := loginAs(t, addr, "bob", "pass") // no IN-USE across users

	// APOP with any name too.
	carol := dial(t, addr)
	ts := regexp.MustCompile(`<[^>]*>`).FindString(carol.line())
	sum := md5.Sum([]byte(ts + "pass"))
	carol.ok("APOP carol " + hex.EncodeToString(sum[:]))

	// A second session of the same user is IN-USE.
	again := greeted(t, addr)
	again.ok("USER alice")
	again.errReply("PASS pass", "-ERR [IN-USE]")

	// One shared mailbox.
	for name, c := range map[string]*client{"alice": alice, "bob": bob, "carol": carol} {
		if got, want := c.cmd("STAT"), "+OK 2 8"; got != want {
			t.Errorf("%s STAT: got %q, want %q", name, got, want)
		}
	}

	// DELE removes from the shared mailbox at QUIT; bob's numbering, taken
	// at his login, stays.
	alice.ok("DELE 1")
	alice.ok("QUIT")
	alice.rest()
	if got, want := uids(s), []string{"uid-2"}; !slices.Equal(got, want) {
		t.Errorf("mailbox after alice's QUIT: got %q, want %q", got, want)
	}
	bob.ok("RETR 1")
	if got, want := bob.multiRaw(), "m1\r\n.\r\n"; got != want {
		t.Errorf("bob RETR 1: got %q, want %q", got, want)
	}
	bob.ok("DELE 1") // already gone: committing it changes nothing
	bob.ok("QUIT")
	bob.rest()
	if got, want := uids(s), []string{"uid-2"}; !slices.Equal(got, want) {
		t.Errorf("mailbox after bob's QUIT: got %q, want %q", got, want)
	}

	// alice's lock went with her session.
	waitUserUnlocked(t, s, "alice")
	again.ok("USER alice")
	again.ok("PASS pass")
	if got, want := again.cmd("STAT"), "+OK 1 4"; got != want {
		t.Errorf("alice STAT after DELE: got %q, want %q", got, want)
	}
	if got, want := s.Logins(), map[string]int{"alice": 2, "bob": 1, "carol": 1}; !maps.Equal(got, want) {
		t.Errorf("Logins: got %v, want %v", got, want)
	}
}

func TestSetPassword(t *testing.T) {
	s := NewServer(t)
	s.APOP = true
	s.SetPassword("first") // before Start: what Start uses
	addr := s.Start()

	early := greeted(t, addr) // connected before the change
	early.ok("USER user")
	s.SetPassword("second")
	if s.Password != "second" {
		t.Errorf("Password: got %q, want %q", s.Password, "second")
	}
	early.errReply("PASS first", "-ERR [AUTH]")
	early.ok("USER user")
	early.ok("PASS second")
	early.ok("QUIT")
	early.rest()
	waitUnlocked(t, s)

	tests := []struct {
		name, pass string
		apop       bool
		want       string
	}{
		{"PASS old", "first", false, "-ERR [AUTH]"},
		{"PASS new", "second", false, "+OK"},
		{"APOP old", "first", true, "-ERR [AUTH]"},
		{"APOP new", "second", true, "+OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			ts := regexp.MustCompile(`<[^>]*>`).FindString(c.line())
			var got string
			if tt.apop {
				sum := md5.Sum([]byte(ts + tt.pass))
				got = c.cmd("APOP user " + hex.EncodeToString(sum[:]))
			} else {
				c.ok("USER user")
				got = c.cmd("PASS " + tt.pass)
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want prefix %q", got, tt.want)
			}
			c.ok("QUIT")
			c.rest()
			waitUnlocked(t, s)
		})
	}
}

func TestCounters(t *testing.T) {
	s := NewServer(t)
	if s.ActiveSessions() != 0 || s.PeakSessions() != 0 || len(s.Logins()) != 0 {
		t.Fatalf("before Start: %d active, %d peak, logins %v; want zeros",
			s.ActiveSessions(), s.PeakSessions(), s.Logins())
	}
	addr := s.Start()

	var cs []*client
	for range 3 {
		cs = append(cs, greeted(t, addr)) // greeted: accepted and counted
	}
	if got := s.ActiveSessions(); got != 3 {
		t.Errorf("ActiveSessions with 3 open: got %d, want 3", got)
	}
	cs[0].ok("USER user")
	cs[0].ok("PASS pass")
	cs[1].ok("USER user")
	cs[1].errReply("PASS pass", "-ERR [IN-USE]") // not a login
	cs[2].ok("USER user")
	cs[2].errReply("PASS bad", "-ERR [AUTH]") // nor this
	for _, c := range cs {
		c.conn.Close()
	}
	waitUnlocked(t, s)
	loggedIn(t, addr).ok("QUIT")
	waitUnlocked(t, s)

	if got := s.ActiveSessions(); got != 0 {
		t.Errorf("ActiveSessions after all closed: got %d, want 0", got)
	}
	if got := s.PeakSessions(); got != 3 {
		t.Errorf("PeakSessions: got %d, want 3", got)
	}
	// Only one of the three ever logged in at a time.
	if got := s.PeakLoggedIn(); got != 1 {
		t.Errorf("PeakLoggedIn: got %d, want 1", got)
	}
	got := s.Logins()
	if want := map[string]int{"user": 2}; !maps.Equal(got, want) {
		t.Errorf("Logins: got %v, want %v", got, want)
	}
	got["user"] = 99
	if s.Logins()["user"] != 2 {
		t.Error("Logins returned the server's map, not a copy")
	}
}
