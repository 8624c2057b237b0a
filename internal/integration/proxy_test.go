package integration

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// cutProxy forwards plain POP3 connections to a backend. While cut is set, it
// closes both sides the moment the client sends QUIT, without forwarding it, so
// the server never enters the UPDATE state and rolls back the DELEs.
type cutProxy struct {
	ln      net.Listener
	backend string
	cut     atomic.Bool
	cuts    atomic.Int32
	wg      sync.WaitGroup
}

func startCutProxy(t *testing.T, backend string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, backend: backend}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *cutProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(client, server)
		client.Close()
		close(done)
	}()
	// Commands are CRLF-terminated lines: forward them one by one, so a QUIT
	// pipelined behind DELEs is still caught.
	r := bufio.NewReader(client)
	for {
		line, err := r.ReadString('\n')
		if len(line) > 0 {
			if p.cut.Load() && strings.HasPrefix(strings.ToUpper(line), "QUIT") {
				p.cuts.Add(1)
				break
			}
			if _, werr := io.WriteString(server, line); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	server.Close()
	client.Close()
	<-done
}
