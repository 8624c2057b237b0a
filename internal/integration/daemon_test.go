package integration

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fetchd/internal/control"
	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// drainWindow is how long `fetchd run` lets polls finish the message in
// flight after SIGTERM before it cancels them (schedule.DefaultDrainTimeout).
const drainWindow = 5 * time.Second

// TestDovecot_DaemonPollsAndStops: `fetchd run` polls every account once at
// start, reports the poll through /status, /metrics (Go client and curl) and
// `fetchd status`, and stops cleanly on SIGTERM.
func TestDovecot_DaemonPollsAndStops(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	ms := append(testcorpus.Mixed(50, 7), testcorpus.Tricky()...)
	b.Seed(t, ms)
	a := b.ImplicitTLS()
	a.Extra = "schedule = \"@every 1h\"\n"
	cfg := b.Config(t, a)

	dm := testharness.StartDaemon(t, cfg, "SSL_CERT_FILE="+d.Cert)
	st, acct := waitPolled(t, dm, "t", 30*time.Second)
	if acct.LastResult != "ok" {
		t.Fatalf("account t: last result %q (error %q), want %q", acct.LastResult, acct.LastError, "ok")
	}
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, 0)
	if acct.Delivered != len(ms) || acct.LastDelivered != len(ms) {
		t.Errorf("status: delivered %d (last poll %d), want %d (%d)", acct.Delivered, acct.LastDelivered, len(ms), len(ms))
	}
	if acct.Schedule != "@every 1h" {
		t.Errorf("status: schedule %q, want %q", acct.Schedule, "@every 1h")
	}
	// The next turn follows the schedule, not the 5-minute default: an
	// "@every 1h" account polls at its own fixed place in the hour, from
	// an FNV-64a hash of its name, counted from the Unix epoch.
	h := fnv.New64a()
	h.Write([]byte("t"))
	phase := time.Duration(h.Sum64() % uint64(time.Hour))
	epoch := time.Unix(0, 0).Add(phase)
	want := epoch.Add((time.Since(epoch)/time.Hour + 1) * time.Hour)
	if d := acct.NextPoll.Sub(want); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("status: next poll at %v, want %v (the account's place in the hour)", acct.NextPoll, want)
	}

	series := map[string]float64{
		`fetchd_messages_delivered_total{account="t"}`:                 float64(len(ms)),
		`fetchd_polls_total{account="t",result="ok"}`:                  1,
		`fetchd_polls_total{account="t",result="partial"}`:             -1, // absent or 0
		`fetchd_polls_total{account="t",result="error"}`:               -1,
		`fetchd_messages_deleted_total{account="t"}`:                   float64(len(ms)),
		`fetchd_delivery_failures_total{account="t",kind="temporary"}`: -1,
		`fetchd_consecutive_failures{account="t"}`:                     0,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	metrics, err := dm.Client().Get(ctx, "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics on %s: %v", dm.Socket(), err)
	}
	checkMetrics(t, "GET /metrics (control client)", string(metrics), series)

	if curl, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Errorf("curl not installed (Debian package curl): /metrics not checked through curl --unix-socket")
		} else {
			t.Logf("curl not installed: /metrics not checked through curl --unix-socket")
		}
	} else {
		out, err := exec.Command(curl, "-sS", "--fail", "--max-time", "10", "--unix-socket", dm.Socket(), "http://x/metrics").CombinedOutput()
		if err != nil {
			t.Errorf("curl --unix-socket %s http://x/metrics: %v\n%s", dm.Socket(), err, out)
		} else {
			checkMetrics(t, "curl --unix-socket", string(out), series)
		}
	}

	code, out := dm.Cmd("status", "-c", cfg)
	if code != 0 {
		t.Errorf("fetchd status exited %d, want 0:\n%s", code, out)
	}
	// Answered by the daemon (its pid), not from the store.
	if !strings.Contains(out, fmt.Sprintf(", pid %d,", st.PID)) {
		t.Errorf("fetchd status does not name the daemon's pid %d:\n%s", st.PID, out)
	}
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^t +idle +.* ago +ok +in .* +%d \(last poll %d\)`, len(ms), len(ms)))
	if !row.MatchString(out) {
		t.Errorf("fetchd status has no row matching %s:\n%s", row, out)
	}

	took := dm.Stop(10 * time.Second)
	t.Logf("SIGTERM to exit (idle daemon): %v", took.Round(time.Millisecond))
	testharness.Eventually(t, 2*time.Second, "STOPPING=1 from the daemon before it exited (got "+dm.Notify.All()+")",
		func() bool { return dm.Notify.Count("STOPPING=1") >= 1 })
	if _, err := os.Stat(dm.Socket()); err == nil {
		t.Errorf("control socket %s still exists after the daemon exited", dm.Socket())
	}

	// With the daemon gone, status reads the poll history from the store.
	code, out = dm.Cmd("status", "-c", cfg)
	if code != 0 || !strings.Contains(out, "no daemon runs") || !regexp.MustCompile(`(?m)^t +.* ago +ok +`).MatchString(out) {
		t.Errorf("fetchd status after the daemon stopped: exit %d, want 0 and a row \"t … ago ok\" from the store:\n%s", code, out)
	}
}

// TestDovecot_DaemonSIGTERMDuringLargeMessage: SIGTERM while a 20 MB message
// is in flight. The daemon lets it finish if it can within the drain window,
// then QUITs; if it cannot, it cancels the poll at the end of the window and
// the server rolls back. Either way it exits 0 within 10 s, and the next
// daemon on the same config delivers every message exactly once.
func TestDovecot_DaemonSIGTERMDuringLargeMessage(t *testing.T) {
	d := needFetchd(t)
	needLocalhostIPv4(t)
	big := testcorpus.Big(20 << 20)
	small := testcorpus.Mixed(6, 11)
	ms := append(slices.Clone(small), big)
	var smallBytes int64
	for _, m := range small {
		smallBytes += int64(len(m.Data))
	}

	cases := []struct {
		name     string
		rate     int64 // bytes per second from Dovecot while the daemon stops
		finishes bool  // the message in flight can finish within the drain window
	}{
		{"FinishesWithinDrainWindow", 8 << 20, true},
		{"CancelledAfterDrainWindow", 1 << 20, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBox(t, d)
			before, after := small[:3], small[3:]
			seedInOrder(t, b, before, []testcorpus.Message{big}, after)
			p := startPaceProxy(t, d.POP3S)
			p.rate.Store(tc.rate)
			_, port := testharness.SplitAddr(p.Addr())
			a := b.ImplicitTLS()
			a.Port = port
			a.Extra = "schedule = \"@every 1h\"\n"
			cfg := b.Config(t, a)

			dm := testharness.StartDaemon(t, cfg, "SSL_CERT_FILE="+d.Cert)
			// Past the small ones listed first and about a second into the
			// big one: it is in flight, with seconds of it to come.
			threshold := smallBytes + tc.rate
			waitFor(t, 20*time.Second, func() bool { return p.down.Load() >= threshold },
				func() string { return fmt.Sprintf("%d bytes through the proxy, got %d", threshold, p.down.Load()) })
			atSignal := p.down.Load()
			took := dm.Stop(10 * time.Second)
			tail := p.down.Load() - atSignal
			t.Logf("%s at %.0f MiB/s: SIGTERM to exit %v; %.1f MiB forwarded after SIGTERM",
				tc.name, float64(tc.rate)/(1<<20), took.Round(time.Millisecond), float64(tail)/(1<<20))

			log := dm.Stderr.String()
			cancelled := strings.Contains(log, "drain timeout")
			missing := checkArrived(t, "maildir after SIGTERM", testharness.ReadMaildir(t, b.Out), nil, ms, testcorpus.Expected, true)
			bigArrived := !slices.Contains(missing, big.Name)
			// The poll stops after the message in flight: what follows the
			// big one on the server is never started.
			wantMissing := names(after)
			if !tc.finishes {
				wantMissing = names(append([]testcorpus.Message{big}, after...))
			}
			if !slices.Equal(missing, wantMissing) {
				t.Errorf("not delivered after SIGTERM: %v, want %v", missing, wantMissing)
			}
			left := b.Left(t)
			t.Logf("after SIGTERM: %d of %d messages delivered (the big one: %t), %d left on the server",
				len(ms)-len(missing), len(ms), bigArrived, left)
			checkTmpEmpty(t, b.Out)
			if tc.finishes {
				if !bigArrived {
					t.Errorf("the message in flight at SIGTERM was not delivered: it had %v to finish at %d MiB/s", drainWindow, tc.rate>>20)
				}
				if cancelled || took >= drainWindow {
					t.Errorf("daemon took %v and cancelled=%t, want it to exit before the %v drain window ends without cancelling", took, cancelled, drainWindow)
				}
				if tail < 4<<20 {
					t.Errorf("only %d bytes were forwarded after SIGTERM, want the rest of the big message (MiBs): the daemon stopped reading", tail)
				}
				// The drained poll QUITs: the server keeps only what was not delivered.
				if left != len(missing) {
					t.Errorf("server holds %d messages, want %d (the undelivered ones): the drained poll did not QUIT", left, len(missing))
				}
			} else {
				if bigArrived {
					t.Errorf("the big message arrived, yet at %d MiB/s it cannot finish within %v: the test did not test cancelling", tc.rate>>20, drainWindow)
				}
				if !cancelled {
					t.Errorf("daemon log does not say it cancelled the poll after the drain timeout")
				}
				if took < drainWindow-100*time.Millisecond {
					t.Errorf("daemon exited %v after SIGTERM, want it to wait the %v drain window first", took, drainWindow)
				}
				// No QUIT: the server rolled the session's DELEs back.
				if left != len(ms) {
					t.Errorf("server holds %d messages, want all %d (the cancelled session's deletions rolled back)", left, len(ms))
				}
			}

			// The same config, so the same state record (server, port, user).
			p.rate.Store(0)
			dm = testharness.StartDaemon(t, cfg, "SSL_CERT_FILE="+d.Cert)
			_, acct := waitPolled(t, dm, "t", 30*time.Second)
			if acct.LastResult != "ok" {
				t.Fatalf("restarted daemon: last result %q (error %q), want %q", acct.LastResult, acct.LastError, "ok")
			}
			if acct.Delivered != len(missing) {
				t.Errorf("restarted daemon delivered %d messages, want %d (those not delivered before SIGTERM)", acct.Delivered, len(missing))
			}
			wantServerCount(t, b, 0)
			dm.Stop(10 * time.Second)
			checkDelivered(t, b.Out, ms)
			checkTmpEmpty(t, b.Out)
		})
	}
}

// seedInOrder seeds b's mailbox so that Dovecot lists the batches in the
// order given. Dovecot numbers the files it finds in new/ by the time at the
// start of their names, and WriteMaildir gives one call's files the same
// time: each batch gets a later time by renaming its files.
func seedInOrder(t *testing.T, b *testharness.Box, batches ...[]testcorpus.Message) {
	t.Helper()
	dir := filepath.Join(b.Mailbox, "new")
	seen := map[string]bool{}
	base := time.Now().Unix() - int64(len(batches))
	for i, batch := range batches {
		b.Seed(t, batch)
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if seen[e.Name()] {
				continue
			}
			_, rest, ok := strings.Cut(e.Name(), ".")
			if !ok {
				t.Fatalf("maildir file %s: no time.rest name", e.Name())
			}
			name := fmt.Sprintf("%d.%s", base+int64(i), rest)
			if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			seen[name] = true
		}
	}
}

// names returns the messages' names, sorted as checkArrived sorts them.
func names(ms []testcorpus.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

// waitPolled waits until the daemon has finished a poll of account and
// returns its status and the account's.
func waitPolled(t *testing.T, dm *testharness.Daemon, account string, within time.Duration) (control.Status, control.AccountStatus) {
	t.Helper()
	var st control.Status
	var acct control.AccountStatus
	var lastErr error
	c := dm.Client()
	waitFor(t, within, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, lastErr = c.Status(ctx)
		if lastErr != nil {
			return false
		}
		for _, a := range st.Accounts {
			if a.Name == account {
				acct = a
				return a.LastResult != "" && a.State != "polling"
			}
		}
		t.Fatalf("account %s not in the daemon's status: %+v", account, st)
		return false
	}, func() string {
		return fmt.Sprintf("a finished poll of account %s in the daemon's status; last status %+v, error %v", account, acct, lastErr)
	})
	return st, acct
}

// waitFor polls cond every 20 ms and fails the test, saying what(), if it is
// not true within the given time. Unlike testharness.Eventually, the failure
// says what was seen last.
func waitFor(t *testing.T, within time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: want %s", within, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkMetrics fails unless each series in want has its value in the
// Prometheus text exposition; a want of -1 means absent or 0.
func checkMetrics(t *testing.T, where, text string, want map[string]float64) {
	t.Helper()
	got := map[string]string{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			got[line[:i]] = line[i+1:]
		}
	}
	for series, w := range want {
		s, ok := got[series]
		v, err := strconv.ParseFloat(s, 64)
		switch {
		case w < 0 && (!ok || v == 0):
		case w < 0:
			t.Errorf("%s: %s = %s, want absent or 0", where, series, s)
		case !ok:
			t.Errorf("%s: no series %s, want %g", where, series, w)
		case err != nil || v != w:
			t.Errorf("%s: %s = %s, want %g", where, series, s, w)
		}
	}
}

// checkTmpEmpty fails if maildir's tmp/ holds anything: a delivery that
// did not finish must remove its file.
func checkTmpEmpty(t *testing.T, maildir string) {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(maildir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) > 0 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("%s/tmp holds %d files, want none (an aborted delivery left its file): %s", maildir, len(es), strings.Join(names, ", "))
	}
}

// needLocalhostIPv4 fails the test unless "localhost" resolves to
// 127.0.0.1: the test's proxy listens there, and the account must name
// localhost for Dovecot's certificate.
func needLocalhostIPv4(t *testing.T) {
	t.Helper()
	addrs, err := net.DefaultResolver.LookupHost(context.Background(), "localhost")
	if err != nil || !slices.Contains(addrs, "127.0.0.1") {
		t.Fatalf("localhost resolves to %v (%v), want 127.0.0.1 among them: the proxy listens on 127.0.0.1", addrs, err)
	}
}

// paceProxy forwards TCP connections to a backend, pacing what the backend
// sends at rate bytes per second (0: full speed); the rate may change at any
// time and applies at once. down counts the bytes forwarded to clients.
type paceProxy struct {
	ln      net.Listener
	backend string
	rate    atomic.Int64
	down    atomic.Int64
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startPaceProxy(t *testing.T, backend string) *paceProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &paceProxy{ln: ln, backend: backend, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *paceProxy) Addr() string { return p.ln.Addr().String() }

func (p *paceProxy) serve() {
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

// track registers c so that cleanup can close it.
func (p *paceProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = true
}

func (p *paceProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer server.Close()
	p.track(client)
	p.track(server)
	defer func() {
		p.mu.Lock()
		delete(p.conns, client)
		delete(p.conns, server)
		p.mu.Unlock()
	}()
	done := make(chan struct{})
	go func() {
		io.Copy(server, client)
		server.Close()
		close(done)
	}()
	p.pace(client, server)
	client.Close()
	<-done
}

// pace copies src to dst at p.rate. It sleeps after each chunk until the
// time the bytes sent so far are due, so that timer slack does not add up.
func (p *paceProxy) pace(dst io.Writer, src io.Reader) {
	buf := make([]byte, 64<<10)
	var due time.Time
	for {
		rate := p.rate.Load()
		chunk := len(buf)
		if rate > 0 {
			chunk = int(min(max(rate/100, 1<<10), int64(len(buf)))) // ~10 ms a chunk
		}
		n, err := src.Read(buf[:chunk])
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			p.down.Add(int64(n))
			if rate > 0 {
				now := time.Now()
				if due.Before(now) {
					due = now
				}
				due = due.Add(time.Duration(int64(n) * int64(time.Second) / rate))
				time.Sleep(time.Until(due))
			}
		}
		if err != nil {
			return
		}
	}
}
