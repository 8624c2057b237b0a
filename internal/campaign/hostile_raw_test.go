package campaign

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchd/internal/pop3/pop3test"
)

// rawServer is a minimal POP3 server for the hostile cases pop3test cannot
// script: replies that are streamed (endless bodies, 10 MB lines, listings
// of a million lines) rather than held in memory, and greetings followed by
// anything. It serves USER/PASS, UIDL, LIST, RETR, DELE, QUIT (deletions
// committed by QUIT) over a committed mailbox, and lets a script replace the
// reply to any command.
type rawServer struct {
	ln       net.Listener
	greeting rawAction
	on       map[string]rawAction // "VERB arg" or "VERB" → action

	wg       sync.WaitGroup
	mu       sync.Mutex
	mailbox  []pop3test.Message // committed state; UIDs given explicitly
	commands []string
	sessions int
	conns    map[net.Conn]bool
	closed   bool
}

// rawAction writes a reply. Returning errDrop closes the connection.
type rawAction func(w *bufio.Writer) error

var errDrop = errors.New("drop")

// rawWriteTimeout bounds each write, so that a client that stops reading
// without closing cannot hold a server goroutine for long.
const rawWriteTimeout = 10 * time.Second

func newRawServer(t *testing.T, msgs []pop3test.Message, greeting rawAction, on map[string]rawAction) *rawServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("raw server: %v", err)
	}
	s := &rawServer{ln: ln, greeting: greeting, on: on, mailbox: slices.Clone(msgs), conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

func (s *rawServer) Addr() string { return s.ln.Addr().String() }

// Close stops listening, closes every session and waits for them.
func (s *rawServer) Close() {
	s.mu.Lock()
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rawServer) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

func (s *rawServer) Mailbox() []pop3test.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mailbox)
}

func (s *rawServer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func (s *rawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.sessions++
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serve(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// deadlineWriter gives each write to the connection a fresh deadline.
type deadlineWriter struct{ c net.Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(rawWriteTimeout))
	return d.c.Write(p)
}

func (s *rawServer) serve(c net.Conn) {
	r := bufio.NewReaderSize(c, 1024)
	w := bufio.NewWriterSize(deadlineWriter{c}, 32<<10)
	s.mu.Lock()
	msgs := slices.Clone(s.mailbox) // RFC 1939 §4: numbered at session start
	s.mu.Unlock()
	deleted := make([]bool, len(msgs))
	send := func(a rawAction) error {
		if err := a(w); err != nil {
			return err
		}
		return w.Flush()
	}
	greet := s.greeting
	if greet == nil {
		greet = text("+OK raw ready\r\n")
	}
	if send(greet) != nil {
		return
	}
	for {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.commands = append(s.commands, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		a := s.on[verb+" "+arg]
		if a == nil {
			a = s.on[verb]
		}
		if a == nil {
			a = s.normal(verb, arg, msgs, deleted)
		}
		if err := send(a); err != nil || verb == "QUIT" {
			return
		}
	}
}

// normal is the well-behaved answer to one command.
func (s *rawServer) normal(verb, arg string, msgs []pop3test.Message, deleted []bool) rawAction {
	num := func() (int, bool) {
		n, err := strconv.Atoi(arg)
		return n, err == nil && n >= 1 && n <= len(msgs) && !deleted[n-1]
	}
	switch verb {
	case "CAPA":
		return text("+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n")
	case "USER", "PASS", "NOOP":
		return text("+OK\r\n")
	case "UIDL", "LIST":
		var b strings.Builder
		b.WriteString("+OK\r\n")
		for i, m := range msgs {
			if deleted[i] {
				continue
			}
			if verb == "UIDL" {
				fmt.Fprintf(&b, "%d %s\r\n", i+1, m.UID)
			} else {
				fmt.Fprintf(&b, "%d %d\r\n", i+1, len(m.Body))
			}
		}
		b.WriteString(".\r\n")
		return text(b.String())
	case "RETR":
		n, ok := num()
		if !ok {
			return text("-ERR no such message\r\n")
		}
		return text("+OK\r\n" + stuff(string(msgs[n-1].Body)) + ".\r\n")
	case "DELE":
		n, ok := num()
		if !ok {
			return text("-ERR no such message\r\n")
		}
		deleted[n-1] = true
		return text("+OK\r\n")
	case "QUIT":
		s.mu.Lock()
		var kept []pop3test.Message
		for i, m := range msgs {
			if !deleted[i] {
				kept = append(kept, m)
			}
		}
		s.mailbox = kept
		s.mu.Unlock()
		return text("+OK bye\r\n")
	}
	return text("-ERR unknown command\r\n")
}

// stuff is RFC 1939 §3 byte-stuffing of a body with CRLF line ends, as
// pop3test does it (CRLF appended to a body that lacks one).
func stuff(body string) string {
	if body == "" {
		return ""
	}
	if !strings.HasSuffix(body, "\r\n") {
		body += "\r\n"
	}
	if strings.HasPrefix(body, ".") {
		body = "." + body
	}
	return strings.ReplaceAll(body, "\r\n.", "\r\n..")
}

// text sends s.
func text(s string) rawAction {
	return func(w *bufio.Writer) error {
		_, err := w.WriteString(s)
		return err
	}
}

// then runs actions in order.
func then(as ...rawAction) rawAction {
	return func(w *bufio.Writer) error {
		for _, a := range as {
			if err := a(w); err != nil {
				return err
			}
		}
		return nil
	}
}

// repeat sends chunk n times (n < 0: until the client goes away), so
// nothing of size is ever held by the server.
func repeat(chunk string, n int) rawAction {
	return func(w *bufio.Writer) error {
		for i := 0; n < 0 || i < n; i++ {
			if _, err := w.WriteString(chunk); err != nil {
				return err
			}
		}
		return nil
	}
}

// trickle sends chunk every interval until the client goes away.
func trickle(chunk string, every time.Duration) rawAction {
	return func(w *bufio.Writer) error {
		for {
			if _, err := w.WriteString(chunk); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			time.Sleep(every)
		}
	}
}

// listing sends "+OK" and n generated lines (n < 0: endless), and the
// terminator when term.
func listing(n int, line func(i int) string, term bool) rawAction {
	return func(w *bufio.Writer) error {
		if _, err := w.WriteString("+OK\r\n"); err != nil {
			return err
		}
		for i := 1; n < 0 || i <= n; i++ {
			if _, err := w.WriteString(line(i)); err != nil {
				return err
			}
		}
		if term {
			_, err := w.WriteString(".\r\n")
			return err
		}
		return nil
	}
}

func drop(*bufio.Writer) error { return errDrop }
