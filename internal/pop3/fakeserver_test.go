package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchd/internal/testcert"
)

// scriptServer is a fake POP3 server on a loopback connection that follows a script,
// one step per string:
//
//	"S: text"  send text and CRLF
//	"R: raw"   send raw exactly as given (no CRLF added)
//	"C: line"  expect the client to send line
//	"TLS"      TLS handshake as server; "TLS?" the same, failure expected
//	"T 50ms: raw" send raw one octet at a time, 50ms apart (a slowloris)
//	"SLEEP 50ms" pause
//	"DROP"     close the connection
//	"HANG"     read and discard until the client closes, never answer
//
// A "~" before a step means its write may fail (the client hung up). After
// the script any line from the client is an error: that is how tests show
// that nothing (no PASS) was sent.
type scriptServer struct {
	script []string
	conn   net.Conn
	done   chan struct{}

	mu   sync.Mutex
	got  []string // every line received
	errs []string
}

func startServer(t *testing.T, script []string) (*scriptServer, net.Conn) {
	t.Helper()
	// Loopback TCP rather than net.Pipe: net.Pipe has no buffer, so a TLS
	// alert written while the peer is writing deadlocks until a timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clientEnd, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	serverEnd, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{script: script, conn: serverEnd, done: make(chan struct{})}
	go s.run()
	return s, clientEnd
}

func (s *scriptServer) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *scriptServer) run() {
	defer close(s.done)
	defer s.conn.Close()
	var conn net.Conn = s.conn
	br := bufio.NewReader(conn)
	readLine := func() (string, error) {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
		s.mu.Lock()
		s.got = append(s.got, l)
		s.mu.Unlock()
		return l, nil
	}
	for i, step := range s.script {
		tolerant := strings.HasPrefix(step, "~")
		step = strings.TrimPrefix(step, "~")
		switch {
		case strings.HasPrefix(step, "S: "), strings.HasPrefix(step, "R: "):
			out := step[3:]
			if step[0] == 'S' {
				out += "\r\n"
			}
			if _, err := io.WriteString(conn, out); err != nil {
				if !tolerant {
					s.errorf("step %d %q: write: %v", i, clip(step), err)
				}
				return
			}
		case strings.HasPrefix(step, "C: "):
			l, err := readLine()
			if err != nil {
				s.errorf("step %d: want %q, got error %v", i, step[3:], err)
				return
			}
			if l != step[3:] {
				s.errorf("step %d: got %q, want %q", i, l, step[3:])
				return
			}
		case step == "TLS" || step == "TLS?":
			if br.Buffered() > 0 {
				s.errorf("step %d: client sent data before TLS handshake", i)
			}
			tc := tls.Server(s.conn, serverTLSConfig())
			if err := tc.Handshake(); err != nil {
				if step == "TLS" {
					s.errorf("step %d: handshake: %v", i, err)
				}
				return
			}
			conn = tc
			br = bufio.NewReader(conn)
		case strings.HasPrefix(step, "T "):
			d, out, _ := strings.Cut(step[2:], ": ")
			gap, _ := time.ParseDuration(d)
			for k := 0; k < len(out); k++ {
				if _, err := io.WriteString(conn, out[k:k+1]); err != nil {
					return // the client hung up on the slowloris: expected
				}
				time.Sleep(gap)
			}
		case strings.HasPrefix(step, "SLEEP "):
			d, _ := time.ParseDuration(step[6:])
			time.Sleep(d)
		case step == "DROP":
			return
		case step == "HANG":
			io.Copy(io.Discard, br)
			return
		default:
			s.errorf("bad script step %q", step)
			return
		}
	}
	for {
		l, err := readLine()
		if err != nil {
			return
		}
		s.errorf("after script: unexpected line %q", l)
	}
}

// finish waits for the server to end (the client must have closed) and
// reports its errors.
func (s *scriptServer) finish(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("fake server did not finish")
	}
	for _, e := range s.errs {
		t.Errorf("server: %s", e)
	}
}

// received returns the lines the server received.
func (s *scriptServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// pipeDialer returns a DialContext that hands out conn once, whatever the address.
func pipeDialer(conn net.Conn) func(context.Context, string, string) (net.Conn, error) {
	var once sync.Once
	return func(context.Context, string, string) (net.Conn, error) {
		var c net.Conn
		once.Do(func() { c = conn })
		if c == nil {
			return nil, errors.New("pipeDialer: already used")
		}
		return c, nil
	}
}

// testCert is a self-signed certificate for localhost and 127.0.0.1.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	cert, pool, err := testcert.New("localhost", "127.0.0.1")
	if err != nil {
		panic(err)
	}
	return cert, pool
})

func serverTLSConfig() *tls.Config {
	cert, _ := testCert()
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func clientTLSConfig() *tls.Config {
	_, pool := testCert()
	return &tls.Config{RootCAs: pool}
}
