package campaign

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cutPlan says where the next session through the proxy is cut. A plan has
// one trigger: a raw byte offset in one direction (Offset ≥ 0), or the Nth
// command with verb Verb (plain sessions only: the proxy reads the command
// stream), cut inside the command line (InCmd ≥ 0) or inside its reply
// (ReplyAt ≥ 0, or FromEnd ≥ 0 bytes before the end of a multi-line reply).
type cutPlan struct {
	Kind  string // what the plan aims at, for reports
	TLS   bool   // forward to the implicit TLS port; only raw offsets then
	Stall bool   // stop forwarding but keep both sockets open, instead of closing

	C2S    bool  // the raw offset counts client→server bytes; else server→client
	Offset int64 // raw trigger: cut after this many bytes; -1: none

	Verb    string // command trigger: "RETR", "DELE", "QUIT", "UIDL", "PASS", …
	Nth     int    // the Nth command with Verb in the session, from 1
	InCmd   int    // ≥ 0: forward this many bytes of the command line, then cut
	ReplyAt int64  // ≥ 0: forward the command, then this many bytes of its reply
	// ReplyFrac ≥ 0: like ReplyAt, at this fraction of the octets the
	// status line announces ("+OK 1234 octets"), counted after the status line.
	ReplyFrac float64
	FromEnd   int // ≥ 0: forward the reply up to this many bytes before the end of its "\r\n.\r\n"
}

// netcutNoCut is a plan that forwards everything.
var netcutNoCut = cutPlan{Kind: "none", Offset: -1, InCmd: -1, ReplyAt: -1, ReplyFrac: -1, FromEnd: -1}

// cutEvent is what happened to one session: where the cut landed.
type cutEvent struct {
	Cut     bool      // the plan's trigger fired
	At      time.Time // when
	C2S     bool      // the cut was in the client→server stream
	Offset  int64     // bytes forwarded in that direction before the cut
	Verb    string    // plain: the command being cut, or whose reply was cut ("" before any)
	NthVerb int       // plain: which command with Verb in the session
	InReply int64     // plain, server→client: reply bytes forwarded before the cut
	Verbs   []string  // plain: the commands forwarded, in order (for reproductions)
	S2C     int64     // server→client bytes forwarded in all
	C2SN    int64     // client→server bytes forwarded in all

	done chan struct{} // closed when both sockets are closed
}

// cutProxy forwards each connection to Dovecot and cuts it as the current
// plan says. It serves one session at a time, as the campaign runs them.
type cutProxy struct {
	ln          net.Listener
	plain, tls  string // backend addresses
	plan        atomic.Pointer[cutPlan]
	mu          sync.Mutex
	events      []*cutEvent // one per connection since the last take
	wg          sync.WaitGroup
	backendErrs atomic.Int32
}

func newCutProxy(plain, tls string) (*cutProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &cutProxy{ln: ln, plain: plain, tls: tls}
	p.plan.Store(&netcutNoCut)
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) Close() {
	p.ln.Close()
	p.wg.Wait()
}

// setPlan makes plan apply to the connections accepted from now on.
func (p *cutProxy) setPlan(plan cutPlan) { p.plan.Store(&plan) }

// take returns the events of the connections since the last call, once
// their sockets are closed (waiting up to wait for that); an event whose
// connection is still open after wait is left for the next call.
func (p *cutProxy) take(wait time.Duration) []*cutEvent {
	p.mu.Lock()
	evs := p.events
	p.events = nil
	p.mu.Unlock()
	deadline := time.After(wait)
	var out, open []*cutEvent
	expired := false
	for _, ev := range evs {
		if !expired {
			select {
			case <-ev.done:
			case <-deadline:
				expired = true
			}
		}
		select {
		case <-ev.done:
			out = append(out, ev)
		default:
			open = append(open, ev)
		}
	}
	p.mu.Lock()
	p.events = append(open, p.events...)
	p.mu.Unlock()
	return out
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		plan := *p.plan.Load()
		ev := &cutEvent{done: make(chan struct{})}
		p.mu.Lock()
		p.events = append(p.events, ev)
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(ev.done)
			p.handle(c, plan, ev)
		}()
	}
}

// cutConn is one proxied session. mu orders the two pumps' bookkeeping: the
// client→server pump records a command before forwarding it, and the
// server→client pump accounts bytes before forwarding them, so the reply
// bytes seen after a command are that command's (fetchd sends one command at
// a time).
type cutConn struct {
	plan           cutPlan
	ev             *cutEvent
	client, server net.Conn

	mu        sync.Mutex
	done      bool // cut or stalled: forward nothing more
	stalled   bool
	verbCount map[string]int
	armed     bool   // the current reply is the plan's target
	held      []byte // reply bytes held back, not yet forwarded
	replyAt   int64  // the armed reply's cut point; -1: none
}

func (p *cutProxy) handle(client net.Conn, plan cutPlan, ev *cutEvent) {
	backend := p.plain
	if plan.TLS {
		backend = p.tls
	}
	server, err := net.Dial("tcp", backend)
	if err != nil {
		p.backendErrs.Add(1)
		client.Close()
		return
	}
	c := &cutConn{plan: plan, ev: ev, client: client, server: server, verbCount: map[string]int{}}
	s2cDone := make(chan struct{})
	go func() {
		c.pumpS2C()
		close(s2cDone)
	}()
	c.pumpC2S()
	<-s2cDone
	client.Close()
	server.Close()
}

// cutLocked ends forwarding: it closes both sockets, or with Stall leaves
// them open (the pumps read and discard until the client gives up).
func (c *cutConn) cutLocked(c2s bool, verb string) {
	if c.done {
		return
	}
	c.done = true
	c.ev.Cut, c.ev.At, c.ev.C2S = true, time.Now(), c2s
	if c2s {
		c.ev.Offset = c.ev.C2SN
	} else {
		c.ev.Offset = c.ev.S2C
	}
	c.ev.Verb, c.ev.NthVerb = verb, c.verbCount[verb]
	if c.plan.Stall {
		c.stalled = true
		return
	}
	c.client.Close()
	c.server.Close()
}

// lastVerb is the most recent command forwarded, or "".
func (c *cutConn) lastVerb() string {
	if n := len(c.ev.Verbs); n > 0 {
		return c.ev.Verbs[n-1]
	}
	return ""
}

// pumpC2S forwards the client's bytes: raw chunks in TLS sessions, whole
// command lines in plain ones (so a command can be recognised before any
// of it is forwarded). When the client goes away, both sockets close.
func (c *cutConn) pumpC2S() {
	defer func() {
		c.mu.Lock()
		c.done = true
		c.mu.Unlock()
		c.client.Close()
		c.server.Close()
	}()
	buf := make([]byte, 32<<10)
	var line []byte
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			if c.plan.TLS {
				if !c.forwardC2S(buf[:n], "") {
					return
				}
			} else {
				line = append(line, buf[:n]...)
				for {
					i := bytes.IndexByte(line, '\n')
					if i < 0 {
						break
					}
					if !c.forwardCommand(line[:i+1]) {
						return
					}
					line = line[i+1:]
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// forwardC2S forwards b (part of command verb, or raw), honouring a raw
// client→server offset. It reports whether the session goes on.
func (c *cutConn) forwardC2S(b []byte, verb string) bool {
	c.mu.Lock()
	if c.done {
		stalled := c.stalled
		c.mu.Unlock()
		return stalled // keep reading (and discarding) until the client leaves
	}
	n := int64(len(b))
	cut := false
	if c.plan.C2S && c.plan.Offset >= 0 && c.ev.C2SN+n > c.plan.Offset {
		n, cut = c.plan.Offset-c.ev.C2SN, true
	}
	c.ev.C2SN += n
	c.mu.Unlock()
	if n > 0 {
		if _, err := c.server.Write(b[:n]); err != nil {
			return false
		}
	}
	if cut {
		c.mu.Lock()
		c.cutLocked(true, verb)
		stalled := c.stalled
		c.mu.Unlock()
		return stalled
	}
	return true
}

// forwardCommand forwards one command line of a plain session.
func (c *cutConn) forwardCommand(line []byte) bool {
	verb := strings.ToUpper(string(line))
	if i := strings.IndexAny(verb, " \r\n"); i >= 0 {
		verb = verb[:i]
	}
	c.mu.Lock()
	if c.done {
		stalled := c.stalled
		c.mu.Unlock()
		return stalled
	}
	c.verbCount[verb]++
	target := c.plan.Verb == verb && c.plan.Nth == c.verbCount[verb]
	c.ev.Verbs = append(c.ev.Verbs, verb)
	if target && c.plan.InCmd >= 0 {
		n := min(c.plan.InCmd, len(line))
		c.ev.C2SN += int64(n)
		c.mu.Unlock()
		if n > 0 {
			c.server.Write(line[:n])
		}
		c.mu.Lock()
		c.cutLocked(true, verb)
		stalled := c.stalled
		c.mu.Unlock()
		return stalled
	}
	// The reply that follows is this command's: reset before forwarding.
	c.armed = target
	c.held = nil
	c.replyAt = -1
	if target && c.plan.ReplyAt >= 0 {
		c.replyAt = c.plan.ReplyAt
	}
	c.ev.InReply = 0
	c.mu.Unlock()
	return c.forwardC2S(line, verb)
}

// pumpS2C forwards the server's bytes, honouring a raw server→client offset
// or a cut inside the reply to the target command.
func (c *cutConn) pumpS2C() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			if !c.forwardS2C(buf[:n]) {
				if c.isStalled() {
					io.Copy(io.Discard, c.server)
				}
				return
			}
		}
		if err != nil {
			c.client.Close() // the server ended the session: so does the client's side
			return
		}
	}
}

func (c *cutConn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}

var netcutTerminator = []byte("\r\n.\r\n")

func (c *cutConn) forwardS2C(b []byte) bool {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return false
	}
	out := b
	if len(c.held) > 0 {
		out = append(c.held, b...)
		c.held = nil
	}
	if c.armed && c.plan.ReplyFrac >= 0 && c.replyAt < 0 {
		// Hold the status line back until it is whole, to read its size.
		i := bytes.Index(out, []byte("\r\n"))
		if i < 0 {
			c.held = append([]byte(nil), out...)
			c.mu.Unlock()
			return true
		}
		c.replyAt = c.ev.InReply + int64(i+2)
		var octets int64
		if _, err := fmt.Sscanf(string(out[:i]), "+OK %d", &octets); err == nil {
			c.replyAt += int64(c.plan.ReplyFrac * float64(octets))
		}
	}
	limit := int64(-1) // bytes of out to forward before cutting; -1: all, no cut
	if !c.plan.C2S && c.plan.Offset >= 0 && c.ev.S2C+int64(len(out)) > c.plan.Offset {
		limit = c.plan.Offset - c.ev.S2C
	}
	if c.armed && c.replyAt >= 0 && c.ev.InReply+int64(len(out)) > c.replyAt {
		if l := c.replyAt - c.ev.InReply; limit < 0 || l < limit {
			limit = l
		}
	}
	if c.armed && c.plan.FromEnd >= 0 {
		// Hold back the last bytes until the terminator shows where the end is.
		if i := bytes.Index(out, netcutTerminator); i >= 0 {
			end := int64(i + len(netcutTerminator))
			if l := max(0, end-int64(c.plan.FromEnd)); limit < 0 || l < limit {
				limit = l
			}
		} else if limit < 0 {
			keep := min(len(out), len(netcutTerminator)-1)
			c.held = append([]byte(nil), out[len(out)-keep:]...)
			out = out[:len(out)-keep]
		}
	}
	n := int64(len(out))
	if limit >= 0 {
		n = limit
	}
	c.ev.S2C += n
	c.ev.InReply += n
	verb := c.lastVerb()
	c.mu.Unlock()
	if n > 0 {
		if _, err := c.client.Write(out[:n]); err != nil {
			return false
		}
	}
	if limit >= 0 {
		c.mu.Lock()
		c.cutLocked(false, verb)
		c.mu.Unlock()
		return false
	}
	return true
}
