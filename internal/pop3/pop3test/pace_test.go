package pop3test

import (
	"fmt"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"
)

// LoginPause keeps a session open long enough for the next one to overlap.
func TestLoginPause_Overlap(t *testing.T) {
	const pause = 500 * time.Millisecond
	s := NewServer(t)
	s.AnyUser = true
	s.LoginPause = pause
	addr := s.Start()

	type result struct {
		err     error
		elapsed time.Duration
	}
	run := func(user string) <-chan result {
		ch := make(chan result, 1)
		go func() {
			start := time.Now()
			err := pollOnce(addr, user, "pass")
			ch <- result{err, time.Since(start)}
		}()
		return ch
	}
	first := run("alice")
	waitCommand(t, s, "PASS pass") // alice is in her pause
	second := run("bob")
	for _, ch := range []<-chan result{first, second} {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.elapsed < pause {
			t.Errorf("session took %v, want at least LoginPause %v", r.elapsed, pause)
		}
	}
	waitUnlocked(t, s)
	if got := s.ActiveSessions(); got != 0 {
		t.Errorf("ActiveSessions after both: got %d, want 0", got)
	}
	if got := s.PeakSessions(); got != 2 {
		t.Errorf("PeakSessions: got %d, want 2", got)
	}
	if got, want := s.Logins(), map[string]int{"alice": 1, "bob": 1}; !maps.Equal(got, want) {
		t.Errorf("Logins: got %v, want %v", got, want)
	}
}

func TestLoginPause_CloseEnds(t *testing.T) {
	s := NewServer(t)
	s.LoginPause = time.Hour
	c := greeted(t, s.Start())
	c.ok("USER user")
	c.send("PASS pass")
	waitCommand(t, s, "PASS pass")
	closeWithin(t, s)
	if got := c.rest(); got != "" {
		t.Errorf("after Close: got %q, want EOF", got)
	}
	if got := s.Logins(); len(got) != 0 {
		t.Errorf("Logins: got %v, want none", got)
	}
}

// A client that gives up during the pause is not counted as open for long.
func TestLoginPause_ClientHangsUp(t *testing.T) {
	s := NewServer(t)
	s.LoginPause = time.Hour
	addr := s.Start()
	c := greeted(t, addr)
	c.ok("USER user")
	c.send("PASS pass")
	waitCommand(t, s, "PASS pass")
	c.conn.Close()
	waitUnlocked(t, s) // within clientTimeout, far below the hour
	if got := s.Logins(); len(got) != 0 {
		t.Errorf("Logins: got %v, want none", got)
	}
}

// The session stays in step after a pause: commands sent during it are not
// lost, and the hang-up watch, ended by a read deadline, leaves TLS usable.
func TestLoginPause_InStep(t *testing.T) {
	tests := []struct {
		name        string
		mode        Mode
		duringPause bool // STAT and QUIT sent while PASS is unanswered
	}{
		{"plain, after the pause", Plain, false},
		{"plain, during the pause", Plain, true},
		{"TLS, after the pause", ImplicitTLS, false},
		{"TLS, during the pause", ImplicitTLS, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			s.Mode = tt.mode
			s.LoginPause = 200 * time.Millisecond
			s.Messages = msgs("m1\r\n")
			addr := s.Start()
			var c *client
			if tt.mode == ImplicitTLS {
				c = dialTLS(t, addr, s.ClientTLSConfig())
				c.line()
			} else {
				c = greeted(t, addr)
			}
			c.ok("USER user")
			c.send("PASS pass")
			if tt.duringPause {
				waitCommand(t, s, "PASS pass")
				c.send("STAT", "QUIT")
			}
			if got, want := c.line(), "+OK mailbox has 1 messages (4 octets)"; got != want {
				t.Fatalf("PASS: got %q, want %q", got, want)
			}
			if !tt.duringPause {
				c.send("STAT", "QUIT")
			}
			want := "+OK 1 4\r\n+OK fetchd pop3test signing off\r\n"
			if got := c.rest(); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestBodyRate(t *testing.T) {
	const rate = 512 << 10
	line := strings.Repeat("x", 62) + "\r\n"
	body := strings.Repeat(line, (256<<10)/len(line)) // 256 KiB, no stuffing
	tests := []struct {
		name   string
		faults Faults
		want   string        // received after the status line
		end    string        // "reply": terminator follows; "eof": dropped; "stall": silence
		least  time.Duration // lower bound only: pacing must not be skipped
	}{
		{"whole body", Faults{}, body + ".\r\n", "reply", 400 * time.Millisecond},
		{"DropAtBody", Faults{DropAtBody: 128 << 10}, body[:128<<10], "eof", 200 * time.Millisecond},
		{"StallAtBody", Faults{StallAtBody: 64 << 10}, body[:64<<10], "stall", 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			s.BodyRate = rate
			s.Messages = []Message{{UID: "big", Body: []byte(body)}}
			s.Faults = tt.faults
			c := loggedIn(t, s.Start())
			start := time.Now()
			if got, want := c.cmd("RETR 1"), fmt.Sprintf("+OK %d octets", len(body)); got != want {
				t.Fatalf("RETR 1: got %q, want %q", got, want)
			}
			var got string
			switch tt.end {
			case "reply":
				got = c.multiRaw()
			case "eof":
				got = c.rest()
			case "stall":
				c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
				got = readFull(t, c, make([]byte, len(tt.want)))
			}
			elapsed := time.Since(start)
			if got != tt.want {
				t.Errorf("got %d bytes, want %d (equal: %v)", len(got), len(tt.want), got == tt.want)
			}
			if elapsed < tt.least {
				t.Errorf("took %v, want at least %v at %d B/s", elapsed, tt.least, rate)
			}
			switch tt.end {
			case "reply":
				c.ok("QUIT") // after RETR is counted
				c.rest()
			case "stall":
				c.silent(100 * time.Millisecond)
				closeWithin(t, s)
			}
			waitUnlocked(t, s)
			wantRetrieved := map[string]int{}
			if tt.end == "reply" {
				wantRetrieved["big"] = 1
			}
			if got := s.Retrieved(); !maps.Equal(got, wantRetrieved) {
				t.Errorf("Retrieved: got %v, want %v", got, wantRetrieved)
			}
		})
	}
}

// SetBodyRate paces RETRs begun after it, in sessions already logged in too.
func TestSetBodyRate(t *testing.T) {
	body := strings.Repeat(strings.Repeat("w", 1022)+"\r\n", 64) // 64 KiB
	s := NewServer(t)
	s.BodyRate = 4 << 10 // 16 s for the body
	s.Messages = []Message{{Body: []byte(body)}}
	c := loggedIn(t, s.Start())

	s.SetBodyRate(0)
	if s.BodyRate != 0 {
		t.Errorf("BodyRate: got %d, want 0", s.BodyRate)
	}
	start := time.Now()
	c.ok("RETR 1")
	c.multiRaw()
	if took := time.Since(start); took >= clientTimeout {
		t.Errorf("unpaced RETR took %v: still at the old rate", took)
	}

	s.SetBodyRate(128 << 10) // 0.5 s for the body
	start = time.Now()
	c.ok("RETR 1")
	if got := c.multiRaw(); got != body+".\r\n" {
		t.Errorf("paced RETR: got %d bytes, want %d", len(got), len(body)+3)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("paced RETR took %v, want at least 400ms", took)
	}
}

// A paced body that would take a minute ends as soon as the client hangs up
// or Close is called.
func TestBodyRate_StopsPromptly(t *testing.T) {
	body := strings.Repeat(strings.Repeat("y", 1022)+"\r\n", 4096) // 4 MiB
	for _, name := range []string{"client hangs up", "Close"} {
		t.Run(name, func(t *testing.T) {
			s := NewServer(t)
			s.BodyRate = 64 << 10
			s.Messages = []Message{{Body: []byte(body)}}
			c := loggedIn(t, s.Start())
			c.ok("RETR 1")
			c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
			readFull(t, c, make([]byte, 1024))
			if name == "Close" {
				closeWithin(t, s)
			} else {
				c.conn.Close()
				waitUnlocked(t, s) // within clientTimeout, far below the minute
			}
			if got := s.ActiveSessions(); got != 0 {
				t.Errorf("ActiveSessions: got %d, want 0", got)
			}
		})
	}
}

// Close ends paused logins and paced bodies without leaving goroutines.
func TestClose_NoGoroutineLeakUnderLoad(t *testing.T) {
	before := runtime.NumGoroutine()
	paused := NewServer(t)
	paused.LoginPause = time.Hour
	c := greeted(t, paused.Start())
	c.ok("USER user")
	c.send("PASS pass")
	waitCommand(t, paused, "PASS pass")

	paced := NewServer(t)
	paced.BodyRate = 1 << 10
	paced.Messages = msgs(strings.Repeat("z\r\n", 10000))
	d := loggedIn(t, paced.Start())
	d.ok("RETR 1")

	paused.Close()
	paced.Close()
	c.conn.Close()
	d.conn.Close()
	deadline := time.Now().Add(clientTimeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
