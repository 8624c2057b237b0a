package campaign

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// netcutFakePOP3 answers each command line with a fixed reply, enough to check
// where the cutting proxy cuts; it needs no Dovecot.
func netcutFakePOP3(t *testing.T, replies map[string]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "+OK ready\r\n")
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
					io.WriteString(c, replies[verb])
					if verb == "QUIT" {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

const netcutFakeBody = "+OK 12 octets\r\nab\r\n..c\r\nd\r\n.\r\n"

// session sends cmds one at a time through the proxy, reading each reply
// whole (a line, or to the terminator for RETR), and returns all it read.
func netcutProxiedSession(t *testing.T, p *cutProxy, cmds ...string) string {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	var got strings.Builder
	readLine := func() bool {
		l, err := r.ReadString('\n')
		got.WriteString(l)
		return err == nil
	}
	if !readLine() {
		return got.String()
	}
	for _, cmd := range cmds {
		if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
			return got.String()
		}
		if !readLine() {
			return got.String()
		}
		if strings.HasPrefix(cmd, "RETR") {
			for !strings.HasSuffix(got.String(), "\r\n.\r\n") {
				if !readLine() {
					return got.String()
				}
			}
		}
	}
	return got.String()
}

func TestCutProxy_CutsWherePlanned(t *testing.T) {
	srv := netcutFakePOP3(t, map[string]string{"RETR": netcutFakeBody, "DELE": "+OK deleted\r\n", "QUIT": "+OK Logging out.\r\n"})
	const all = "+OK ready\r\n" + netcutFakeBody + "+OK deleted\r\n" + netcutFakeBody + "+OK deleted\r\n+OK Logging out.\r\n"
	cmds := []string{"RETR 1", "DELE 1", "RETR 2", "DELE 2", "QUIT"}
	plan := func(f func(p *cutPlan)) cutPlan {
		p := netcutNoCut
		f(&p)
		return p
	}
	tests := []struct {
		name      string
		plan      cutPlan
		want      string // what the client receives
		wantVerb  string
		wantCut   bool
		wantC2S   bool
		wantBytes int64 // bytes forwarded in the cut's direction
	}{
		{"no cut", netcutNoCut, all, "", false, false, 0},
		{"s2c offset 5", plan(func(p *cutPlan) { p.Offset = 5 }), all[:5], "", true, false, 5},
		{"s2c offset in 2nd body", plan(func(p *cutPlan) { p.Offset = 70 }), all[:70], "RETR", true, false, 70},
		{"c2s offset: QUIT withheld", plan(func(p *cutPlan) { p.C2S, p.Offset = true, 32 }), all[:len(all)-len("+OK Logging out.\r\n")], "QUIT", true, true, 32},
		{"2nd RETR, half", plan(func(p *cutPlan) { p.Verb, p.Nth, p.ReplyFrac = "RETR", 2, 0.5 }),
			all[:11+len(netcutFakeBody)+13+15+6], "RETR", true, false, int64(11 + len(netcutFakeBody) + 13 + 15 + 6)},
		{"1st RETR, 2 bytes before its end", plan(func(p *cutPlan) { p.Verb, p.Nth, p.FromEnd = "RETR", 1, 2 }),
			all[:11+len(netcutFakeBody)-2], "RETR", true, false, int64(11 + len(netcutFakeBody) - 2)},
		{"1st RETR, whole, cut before DELE", plan(func(p *cutPlan) { p.Verb, p.Nth, p.FromEnd = "RETR", 1, 0 }),
			all[:11+len(netcutFakeBody)], "RETR", true, false, int64(11 + len(netcutFakeBody))},
		{"2nd DELE withheld", plan(func(p *cutPlan) { p.Verb, p.Nth, p.InCmd = "DELE", 2, 0 }),
			all[:11+2*len(netcutFakeBody)+13], "DELE", true, true, 3 * 8},
		{"QUIT reply, 3 bytes", plan(func(p *cutPlan) { p.Verb, p.Nth, p.ReplyAt = "QUIT", 1, 3 }),
			all[:len(all)-len("+OK Logging out.\r\n")+3], "QUIT", true, false, int64(len(all) - len("+OK Logging out.\r\n") + 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newCutProxy(srv, srv)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.setPlan(tt.plan)
			got := netcutProxiedSession(t, p, cmds...)
			if got != tt.want {
				t.Errorf("client received %q, want %q", got, tt.want)
			}
			evs := p.take(2 * time.Second)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Cut != tt.wantCut {
				t.Fatalf("cut %t, want %t", ev.Cut, tt.wantCut)
			}
			if !ev.Cut {
				return
			}
			if ev.Verb != tt.wantVerb || ev.C2S != tt.wantC2S || ev.Offset != tt.wantBytes {
				t.Errorf("cut at verb %q, c2s %t, offset %d; want %q, %t, %d", ev.Verb, ev.C2S, ev.Offset, tt.wantVerb, tt.wantC2S, tt.wantBytes)
			}
		})
	}
}

// TestCutProxy_StallKeepsSocketsOpen: a stall forwards nothing more but does
// not close the client's socket; the client's own timeout must end it.
func TestCutProxy_StallKeepsSocketsOpen(t *testing.T) {
	srv := netcutFakePOP3(t, map[string]string{"QUIT": "+OK Logging out.\r\n"})
	p, err := newCutProxy(srv, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	plan := netcutNoCut
	plan.Stall, plan.Verb, plan.Nth, plan.InCmd = true, "QUIT", 1, 0
	p.setPlan(plan)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || l != "+OK ready\r\n" {
		t.Fatalf("greeting %q, %v", l, err)
	}
	io.WriteString(c, "QUIT\r\n")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := r.ReadByte(); !netcutIsTimeout(err) {
		t.Fatalf("read after the stall: %v, want a timeout (socket open, nothing forwarded)", err)
	}
	c.Close()
	evs := p.take(2 * time.Second)
	if len(evs) != 1 || !evs[0].Cut || evs[0].Verb != "QUIT" {
		t.Fatalf("events %+v, want one stall at QUIT", evs)
	}
}

func netcutIsTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestNetcutPhaseFromLog(t *testing.T) {
	line := func(err string) string {
		return `2026-11-26 06:44:01 ERR poll finished error="` + err + `" account=t temporary=true` + "\n"
	}
	tests := []struct{ err, want string }{
		{"dial 127.0.0.1:1: tls handshake: EOF", netcutPhaseLogin},
		{"dial 127.0.0.1:1: read reply: unexpected EOF (connection lost: what was delivered is recorded and is deleted on the server next poll; nothing is lost)", netcutPhaseLogin},
		{"login: read reply: EOF", netcutPhaseLogin},
		{"uidl: uidl: read UIDL listing: unexpected EOF", netcutPhaseListing},
		{"pop3: connection unusable after an earlier error: retr 30: read body: unexpected EOF", netcutPhaseRetr},
		{"retr 3: read reply: EOF", netcutPhaseRetr},
		{"dele 21: read reply: EOF", netcutPhaseDeleQuit},
		{"quit: quit: deletions not confirmed: read reply: EOF", netcutPhaseQuit},
	}
	for _, tt := range tests {
		if got := netcutPhaseFromLog(line(tt.err)); got != tt.want {
			t.Errorf("netcutPhaseFromLog(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if got := netcutPhaseFromLog("no poll line\n"); got != netcutPhaseUnknown {
		t.Errorf("netcutPhaseFromLog without a poll line = %q, want %q", got, netcutPhaseUnknown)
	}
}
