package deliver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawSMTP is a scripted SMTP server that records the command lines and the
// exact bytes of each DATA stream, terminator included.
type rawSMTP struct {
	ln      net.Listener
	ext     []string // EHLO keywords
	idle421 bool     // after the first message: send 421 and close, as an idle timeout does

	mu    sync.Mutex
	cmds  []string
	data  [][]byte
	conns int
}

func startRawSMTP(t *testing.T, idle421 bool, ext ...string) *rawSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawSMTP{ln: ln, ext: ext, idle421: idle421}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
			go r.serve(c)
		}
	}()
	return r
}

func (r *rawSMTP) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprint(c, "220 raw ESMTP\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		r.mu.Lock()
		r.cmds = append(r.cmds, line)
		r.mu.Unlock()
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch verb {
		case "EHLO":
			fmt.Fprint(c, "250-raw\r\n")
			for _, e := range r.ext {
				fmt.Fprintf(c, "250-%s\r\n", e)
			}
			fmt.Fprint(c, "250 ENHANCEDSTATUSCODES\r\n")
		case "DATA":
			fmt.Fprint(c, "354 go ahead\r\n")
			var d []byte
			for !bytes.Equal(d, []byte(".\r\n")) && !bytes.HasSuffix(d, []byte("\r\n.\r\n")) {
				b, err := br.ReadByte()
				if err != nil {
					return
				}
				d = append(d, b)
			}
			r.mu.Lock()
			r.data = append(r.data, d)
			n := len(r.data)
			r.mu.Unlock()
			fmt.Fprint(c, "250 2.0.0 queued\r\n")
			if r.idle421 && n == 1 {
				fmt.Fprint(c, "421 4.4.2 idle timeout\r\n")
				return
			}
		case "QUIT":
			fmt.Fprint(c, "221 2.0.0 bye\r\n")
			return
		default:
			fmt.Fprint(c, "250 2.0.0 ok\r\n")
		}
	}
}

func (r *rawSMTP) snapshot() (cmds []string, data [][]byte, conns int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...), append([][]byte(nil), r.data...), r.conns
}

func TestSMTPWire_DataBytesExact(t *testing.T) {
	srv := startRawSMTP(t, false, "8BITMIME", "SIZE 1000000", "PIPELINING")
	m, err := NewSMTP(SMTPConfig{Addr: srv.ln.Addr().String(), TLS: "none", Helo: "fetchd.test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	long := strings.Repeat("x", 20<<10)
	body := "Subject: t\r\n\r\nline1\nline2\rline3\r\n.dot\r\n..two\r\nnul\x00 8bit\xe9\xff\r\n" +
		long + "\r\n" + "a\n.\r\nb\r\n.\rc"
	env := &Envelope{
		Recipients: []string{"u@example.org"},
		Size:       int64(len(body)),
		Trace:      Trace{Received: "from pop.example by fetchd", ReturnPath: "<x@y>", DeliveredTo: "u@example.org"},
	}
	if _, err := m.Stage(context.Background(), env, strings.NewReader(body)); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	want := "Received: from pop.example by fetchd\r\n" +
		"Subject: t\r\n\r\nline1\r\nline2\r\nline3\r\n..dot\r\n...two\r\nnul\x00 8bit\xe9\xff\r\n" +
		long + "\r\n" + "a\r\n..\r\nb\r\n..\r\nc\r\n" + ".\r\n"
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	cmds, data, _ := srv.snapshot()
	if len(data) != 1 || string(data[0]) != want {
		t.Fatalf("DATA bytes:\n got %q\nwant %q", data, want)
	}
	hdr := len("Received: from pop.example by fetchd\r\n")
	wantCmds := []string{
		"EHLO fetchd.test",
		fmt.Sprintf("MAIL FROM:<> BODY=8BITMIME SIZE=%d", len(body)+hdr),
		"RCPT TO:<u@example.org>",
		"DATA",
		"QUIT",
	}
	if strings.Join(cmds, "|") != strings.Join(wantCmds, "|") {
		t.Errorf("commands:\n got %q\nwant %q", cmds, wantCmds)
	}
}

// A server that closes an idle session with 421 (RFC 5321 §4.5.3.2.7):
// the next Stage reconnects and delivers, once.
func TestSMTPWire_ReconnectAfterIdle421(t *testing.T) {
	srv := startRawSMTP(t, true)
	m, err := NewSMTP(SMTPConfig{Addr: srv.ln.Addr().String(), TLS: "none", Helo: "fetchd.test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range 2 {
		env := &Envelope{From: "a@example.com", Recipients: []string{"u@example.org"}}
		if _, err := m.Stage(context.Background(), env, strings.NewReader(fmt.Sprintf("n: %d\r\n", i))); err != nil {
			t.Fatalf("Stage %d: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond) // let the 421 arrive
	}
	_, data, conns := srv.snapshot()
	if len(data) != 2 || conns != 2 {
		t.Fatalf("got %d messages over %d connections, want 2 over 2", len(data), conns)
	}
	if string(data[1]) != "n: 1\r\n.\r\n" {
		t.Errorf("second message: got %q", data[1])
	}
}
