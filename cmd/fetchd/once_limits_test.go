package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchd/internal/config"
	"fetchd/internal/pop3/pop3test"
)

// lockedBuffer is a bytes.Buffer for several goroutines: the polls of
// `once` log to stderr at once (os.Stderr takes that; a bytes.Buffer does
// not).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loginCounter is a proxy before a fake server that counts the logins in
// progress at once: from the PASS command passing to the server until the
// server's answer passes back. A login is counted out before its answer is
// forwarded, so a poll that starts after another has finished (its slot
// freed, which needs that answer) is never counted with it. The server's
// own PeakSessions cannot promise that: fetchd does not wait for the answer
// to a QUIT that commits nothing, and when the server is slow to read that
// QUIT it still counts the session while the next one connects.
type loginCounter struct {
	ln     net.Listener
	server string
	wg     sync.WaitGroup

	mu        sync.Mutex
	now, peak int
}

func newLoginCounter(t *testing.T, srv *pop3test.Server, host string) *loginCounter {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	lc := &loginCounter{ln: ln, server: srv.Addr()}
	t.Cleanup(lc.wg.Wait) // runs after the Close below
	t.Cleanup(func() { ln.Close() })
	lc.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			lc.wg.Go(func() { lc.serve(t, c) })
		}
	})
	return lc
}

func (lc *loginCounter) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", lc.server)
	if err != nil {
		t.Error(err)
		return
	}
	defer s.Close()
	var mu sync.Mutex // guards pending
	pending := false  // a PASS awaits its answer
	var wg sync.WaitGroup
	wg.Go(func() {
		defer c.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				mu.Lock()
				if pending {
					pending = false
					lc.mu.Lock()
					lc.now--
					lc.mu.Unlock()
				}
				mu.Unlock()
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if verb, _, _ := strings.Cut(line, " "); strings.EqualFold(verb, "PASS") {
			mu.Lock()
			if !pending {
				pending = true
				lc.mu.Lock()
				lc.now++
				lc.peak = max(lc.peak, lc.now)
				lc.mu.Unlock()
			}
			mu.Unlock()
		}
		if _, werr := io.WriteString(s, line); werr != nil || err != nil {
			break
		}
	}
	s.Close()
	wg.Wait()
}

func (lc *loginCounter) peakLogins() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.peak
}

// onceConfig writes a config with one keep-mode account per address in
// addrs (host:port), each delivering into a maildir of its own under dir.
func onceConfig(t *testing.T, dir, top string, addrs []string) (path string, names []string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state = %q\nlog_level = \"warn\"\n%s\n", filepath.Join(dir, "state", "fetchd.db"), top)
	for i, addr := range addrs {
		host, port, _ := net.SplitHostPort(addr)
		name := fmt.Sprintf("acct%02d", i)
		names = append(names, name)
		fmt.Fprintf(&b, `[[account]]
name = %q
server = %q
port = %s
tls = "none"
allow_insecure = true
user = "user%02d"
password = "pass"
timeout = "10s"
keep = true
[[account.deliver]]
maildir = %q
`, name, host, port, i, filepath.Join(dir, "Maildir-"+name))
	}
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, names
}

// `fetchd once` polls its accounts within max_parallel and max_per_server,
// the daemon's bounds, and with neither set within the defaults (16 and 8).
// Each server answers logins slowly, so that polls overlap: the most logins
// in progress at once on a server is then exactly the bound (more: the
// limit does not hold; fewer: the accounts do not poll in parallel).
func TestOnce_ParallelLimits(t *testing.T) {
	tests := []struct {
		name     string
		top      string   // config keys above the accounts
		hosts    []string // one server on each; the accounts take turns
		accounts int
		wantPeak int // on each server
	}{
		{"max_per_server = 3", "max_per_server = 3", []string{"127.0.0.1"}, 12, 3},
		{"defaults (max_per_server 8)", "", []string{"127.0.0.1"}, 12, 8},
		{"defaults (max_parallel 16)", "max_per_server = 20", []string{"127.0.0.1"}, 20, 16},
		{"max_parallel = 5", "max_parallel = 5", []string{"127.0.0.1"}, 12, 5},
		{"max_parallel below max_per_server", "max_parallel = 2\nmax_per_server = 3", []string{"127.0.0.1"}, 12, 2},
		{"max_per_server counts per server", "max_per_server = 3", []string{"127.0.0.1", "127.0.0.2"}, 12, 3},
	}
	if config.DefaultMaxPerServer != 8 || config.DefaultMaxParallel != 16 {
		t.Errorf("defaults are max_parallel %d, max_per_server %d; want 16 and 8",
			config.DefaultMaxParallel, config.DefaultMaxPerServer)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var servers []*pop3test.Server
			var counters []*loginCounter
			for _, host := range tt.hosts {
				s := pop3test.NewServer(t)
				s.Host = host
				s.AnyUser = true
				s.LoginPause = 300 * time.Millisecond
				s.Messages = []pop3test.Message{{UID: "m1", Body: []byte("Subject: hi\r\n\r\nhello\r\n")}}
				s.Start()
				servers = append(servers, s)
				counters = append(counters, newLoginCounter(t, s, host))
			}
			var addrs []string
			for i := range tt.accounts {
				addrs = append(addrs, counters[i%len(counters)].ln.Addr().String())
			}
			dir := t.TempDir()
			cfg, names := onceConfig(t, dir, tt.top, addrs)

			start := time.Now()
			var stdout, stderr lockedBuffer
			code := run(context.Background(), []string{"once", "-c", cfg}, &stdout, &stderr)
			elapsed := time.Since(start)
			out, errOut := stdout.String(), stderr.String()
			if code != exitOK {
				t.Fatalf("fetchd once exited %d; stdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for i, s := range servers {
				peak := counters[i].peakLogins()
				if peak != tt.wantPeak {
					t.Errorf("server %s had %d logins in progress at once, want exactly %d", tt.hosts[i], peak, tt.wantPeak)
				}
				// The server's count of sessions: at least as many (it
				// may count a session whose QUIT it has not read yet).
				if sp := s.PeakSessions(); sp < tt.wantPeak {
					t.Errorf("server %s had at most %d sessions at once, want at least %d", tt.hosts[i], sp, tt.wantPeak)
				} else if sp > tt.wantPeak {
					t.Logf("server %s counted %d sessions at once (%d logins): sessions whose QUIT it had not yet read", tt.hosts[i], sp, peak)
				}
			}
			for i, name := range names {
				if !strings.Contains(out, name+": 1 fetched, 0 deleted, 0 failed") {
					t.Errorf("no summary line for %s in:\n%s", name, out)
				}
				if n := countFiles(t, filepath.Join(dir, "Maildir-"+name, "new")); n != 1 {
					t.Errorf("account %s delivered %d messages, want 1", name, n)
				}
				if n := servers[i%len(servers)].Logins()[fmt.Sprintf("user%02d", i)]; n != 1 {
					t.Errorf("account %s logged in %d times, want 1", name, n)
				}
			}
			t.Logf("%d accounts in %v", tt.accounts, elapsed.Round(time.Millisecond))
		})
	}
}
