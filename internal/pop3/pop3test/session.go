package pop3test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// state is the RFC 1939 session state. UPDATE is entered and left inside QUIT.
type state int

const (
	authorization state = iota
	transaction
)

// errEnd ends a session. Uncommitted deletions are then simply forgotten.
var errEnd = errors.New("session ends")

var errLineTooLong = errors.New("line too long")

// session is one connection.
type session struct {
	srv     *Server
	id      int
	f       Faults // zero when the faults do not apply to this session
	raw     net.Conn
	conn    net.Conn // raw, or TLS over raw
	r       *bufio.Reader
	w       *bufio.Writer
	tls     bool
	state   state
	quitted bool // QUIT answered: end gracefully

	timestamp string // APOP timestamp from the greeting, "<...>", or ""
	user      string // name given by a USER the server accepted
	loggedIn  string // user name of the successful login, holding its lock
	inTxn     bool   // counted in Server.inTxn

	msgs    []*message // snapshot taken at login; numbering is index+1
	deleted []bool
}

func (s *Server) serve(c net.Conn, id int, f Faults) {
	defer s.wg.Done()
	ss := &session{srv: s, id: id, f: f, raw: c, conn: c}
	graceful := ss.run() == nil
	if graceful {
		ss.conn.SetDeadline(time.Now().Add(writeTimeout))
		ss.conn.Close() // sends a TLS close_notify if TLS is active
	}
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.endTxnLocked(ss)
	s.unlockLocked(id, ss.loggedIn)
	s.mu.Unlock()
}

// run serves until QUIT (nil) or an error, a drop or a stall (non-nil).
func (ss *session) run() error {
	if ss.srv.cfg.mode == ImplicitTLS {
		if err := ss.startTLS(); err != nil {
			return err
		}
	} else {
		ss.setIO(ss.raw)
	}
	if err := ss.greet(); err != nil {
		return err
	}
	for {
		ss.conn.SetReadDeadline(time.Now().Add(idleTimeout))
		line, err := ss.readLine()
		if errors.Is(err, errLineTooLong) {
			ss.srv.record(line)
			err = ss.reply("-ERR line too long")
		} else if err == nil {
			ss.srv.record(line)
			err = ss.handle(line)
		}
		if err != nil {
			return err
		}
		if ss.quitted {
			return nil
		}
	}
}

func (ss *session) setIO(c net.Conn) {
	ss.conn = c
	ss.r = bufio.NewReader(c)
	ss.w = bufio.NewWriter(c)
}

func (ss *session) startTLS() error {
	tc := tls.Server(ss.raw, ss.srv.cert.serverConfig())
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	ss.setIO(tc)
	ss.tls = true
	return nil
}

func (ss *session) greet() error {
	if g := ss.f.Greeting; g != "" {
		if i := strings.IndexByte(g, '<'); i >= 0 {
			if j := strings.IndexByte(g[i:], '>'); j >= 0 {
				ss.timestamp = g[i : i+j+1]
			}
		}
		if !strings.HasSuffix(g, "\n") {
			g += "\r\n"
		}
		return ss.send(g)
	}
	g := "+OK fetchd pop3test ready"
	if ss.srv.cfg.apop {
		// RFC 1939 §7: the timestamp must differ in each greeting.
		ss.timestamp = fmt.Sprintf("<%d.%d@pop3test>", ss.id, time.Now().UnixNano())
		g += " " + ss.timestamp
	}
	return ss.send(g + "\r\n")
}

// readLine reads one command line without its line end. A line longer than
// MaxCommandLine is consumed whole and returned truncated with errLineTooLong.
func (ss *session) readLine() (string, error) {
	var buf []byte
	n := 0
	for {
		frag, err := ss.r.ReadSlice('\n')
		n += len(frag)
		if len(buf) < MaxCommandLine {
			buf = append(buf, frag...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	// QUIRK: a bare LF ends a command line too.
	line := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
	if n > MaxCommandLine {
		return line[:min(len(line), MaxCommandLine)], errLineTooLong
	}
	return line, nil
}

// send writes raw bytes and flushes them under a write deadline.
func (ss *session) send(b string) error {
	ss.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := ss.w.WriteString(b); err != nil {
		return err
	}
	return ss.w.Flush()
}

// write is send for a byte slice.
func (ss *session) write(b []byte) error {
	ss.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := ss.w.Write(b); err != nil {
		return err
	}
	return ss.w.Flush()
}

func (ss *session) reply(format string, args ...any) error {
	return ss.send(fmt.Sprintf(format, args...) + "\r\n")
}

// multi sends a multi-line reply; lines must not need dot-stuffing.
func (ss *session) multi(first string, lines []string) error {
	var b strings.Builder
	b.WriteString(first + "\r\n")
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString(".\r\n")
	return ss.send(b.String())
}

// stall stops replying. It discards whatever the client still sends, so that
// the session ends (and releases the mailbox lock) when the client hangs up,
// or when Close closes the connection.
func (ss *session) stall() error {
	ss.raw.SetReadDeadline(time.Time{})
	io.Copy(io.Discard, ss.raw)
	return errEnd
}

func (ss *session) handle(line string) error {
	if matchCommand(ss.f.DropAt, line) {
		return errEnd
	}
	if matchCommand(ss.f.StallAt, line) {
		return ss.stall()
	}
	if r, ok := ss.f.reply(line); ok {
		return ss.send(r)
	}
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb) // RFC 1939 §3: keywords are case-insensitive
	switch verb {
	case "CAPA":
		return ss.capa()
	case "QUIT":
		return ss.quit()
	case "UIDL":
		if ss.srv.cfg.noUIDL {
			return ss.reply("-ERR unknown command")
		}
	}
	if ss.state == authorization {
		return ss.handleAuth(verb, arg)
	}
	return ss.handleTransaction(verb, arg)
}

// capa answers RFC 2449 CAPA for the current state.
func (ss *session) capa() error {
	cfg := &ss.srv.cfg
	if cfg.noCAPA {
		return ss.reply("-ERR unknown command")
	}
	caps := []string{"TOP"}
	if !cfg.noUIDL {
		caps = append(caps, "UIDL")
	}
	caps = append(caps, "RESP-CODES", "AUTH-RESP-CODE")
	if cfg.pipelining {
		caps = append(caps, "PIPELINING")
	}
	if ss.state == authorization {
		if !cfg.requireTLSForLogin || ss.tls {
			caps = append(caps, "USER")
		}
		if ss.stlsAvailable() && !ss.f.StripSTLS {
			caps = append(caps, "STLS")
		}
		// RFC 2449 §6.3, RFC 5034 §6: the mechanisms AUTH takes now.
		if mechs := ss.saslOffered(); len(mechs) > 0 {
			caps = append(caps, "SASL "+strings.Join(mechs, " "))
		}
	}
	caps = append(caps, cfg.extraCaps...)
	caps = append(caps, "IMPLEMENTATION fetchd-pop3test")
	return ss.multi("+OK Capability list follows", caps)
}

func (ss *session) stlsAvailable() bool {
	return ss.srv.cfg.offerSTLS && ss.srv.cfg.mode == Plain && !ss.tls
}

func (ss *session) quit() error {
	if ss.state == transaction {
		ss.commit() // RFC 1939 §6: UPDATE state
		if ss.f.DropAfterQuitCommit {
			return errEnd
		}
		// The maildrop is free once UPDATE is done, before the +OK: a
		// client that logs in again right after QUIT must not find it
		// locked by a session that is only closing its socket.
		ss.srv.mu.Lock()
		ss.srv.unlockLocked(ss.id, ss.loggedIn)
		ss.srv.mu.Unlock()
	}
	// A client that has sent QUIT is done with the session; it need not
	// wait for the answer, and may start its next session at once.
	ss.srv.mu.Lock()
	delete(ss.srv.conns, ss.raw)
	ss.srv.endTxnLocked(ss)
	ss.srv.mu.Unlock()
	if err := ss.reply("+OK fetchd pop3test signing off"); err != nil {
		return err
	}
	ss.quitted = true
	return nil
}

// commit removes the messages marked deleted from the committed mailbox.
func (ss *session) commit() {
	gone := make(map[*message]bool)
	for i, d := range ss.deleted {
		if d {
			gone[ss.msgs[i]] = true
		}
	}
	s := ss.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.mailbox[:0]
	for _, m := range s.mailbox {
		if !gone[m] {
			kept = append(kept, m)
		}
	}
	clear(s.mailbox[len(kept):])
	s.mailbox = kept
}
