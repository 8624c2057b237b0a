package integration

import (
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchd/internal/testcorpus"
	"fetchd/internal/testharness"
)

// wantCode fails the test unless r exited with code.
func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("fetchd exited %d, want %d\nstdout: %s\nstderr (tail):\n%s", r.Code, code, r.Stdout, testharness.Tail(r.Stderr, 30))
	}
}

func wantServerCount(t *testing.T, b *testharness.Box, n int) {
	t.Helper()
	if got := b.Left(t); got != n {
		t.Errorf("server mailbox holds %d messages, want %d", got, n)
	}
}

func TestDovecot_TrickyMessagesByteExact(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	ms := testcorpus.Tricky()
	b.Seed(t, ms)
	cfg := b.Config(t, b.ImplicitTLS())

	r := once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != len(ms) {
		t.Errorf("fetched %d, want %d", n, len(ms))
	}
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, 0)

	r = once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != 0 {
		t.Errorf("second run fetched %d, want 0", n)
	}
	checkDelivered(t, b.Out, ms)
}

func TestDovecot_STLS(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	ms := append(testcorpus.Tricky(), testcorpus.Mixed(20, 2)...)
	b.Seed(t, ms)
	_, port := testharness.SplitAddr(d.POP3)
	cfg := b.Config(t, testharness.Account{Server: "localhost", Port: port, TLS: "starttls", Password: d.Password})

	r := once(t, b, cfg)
	wantCode(t, r, 0)
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, 0)
}

func TestDovecot_KeepModeSecondPollFetchesNothing(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	ms := testcorpus.Mixed(30, 3)
	b.Seed(t, ms)
	a := b.ImplicitTLS()
	a.Keep = true
	cfg := b.Config(t, a)

	r := once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != len(ms) {
		t.Errorf("first run fetched %d, want %d", n, len(ms))
	}
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, len(ms))

	r = once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != 0 {
		t.Errorf("second run fetched %d, want 0", n)
	}
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, len(ms))
}

func TestDovecot_500Mixed(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	ms := testcorpus.Mixed(500, 1)
	var total int
	for _, m := range ms {
		total += len(m.Data)
	}
	b.Seed(t, ms)
	cfg := b.Config(t, b.ImplicitTLS())

	r := once(t, b, cfg)
	wantCode(t, r, 0)
	t.Logf("500 messages, %.1f MB in %v", float64(total)/1e6, r.Elapsed.Round(time.Millisecond))
	if n := r.fetched(t); n != len(ms) {
		t.Errorf("fetched %d, want %d", n, len(ms))
	}
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, 0)
}

// TestDovecot_FlatMemory: fetchd streams a message from the socket to the
// maildir, so a 20 MB message costs no more than a few buffers.
func TestDovecot_FlatMemory(t *testing.T) {
	d := needFetchd(t)
	small := testcorpus.Mixed(10, 5)
	big := testcorpus.Big(20 << 20)

	rss := func(ms []testcorpus.Message) int64 {
		b := newBox(t, d)
		b.Seed(t, ms)
		r := once(t, b, b.Config(t, b.ImplicitTLS()))
		wantCode(t, r, 0)
		checkDelivered(t, b.Out, ms)
		return r.MaxRSSKiB
	}
	base := rss(small)
	withBig := rss(append(small[:len(small):len(small)], big))
	t.Logf("peak RSS: %d KiB for 10 small messages, %d KiB with a %.1f MB message added (%+d KiB)",
		base, withBig, float64(len(big.Data))/1e6, withBig-base)
	if base == 0 || withBig == 0 {
		t.Fatal("no Maxrss from rusage")
	}
	if withBig-base > 5<<10 {
		t.Errorf("peak RSS grew by %d KiB with a 20 MB message, want at most 5120 KiB: fetchd buffers messages", withBig-base)
	}
}

// TestDovecot_CutBeforeQuit: the connection drops after the DELEs but before
// QUIT, so Dovecot rolls the deletions back (RFC 1939 §6: only QUIT enters the
// UPDATE state). The next poll must DELE those messages again and deliver none
// of them a second time.
//
// Both runs go through the proxy (the second in pass-through mode): the state
// store keys an account by server, port and user, so polling the Dovecot port
// directly would be a different account.
func TestDovecot_CutBeforeQuit(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	ms := append(testcorpus.Mixed(15, 6), testcorpus.Tricky()[:4]...)
	b.Seed(t, ms)
	p := startCutProxy(t, d.POP3)
	host, port := testharness.SplitAddr(p.Addr())
	cfg := b.Config(t, testharness.Account{Server: host, Port: port, TLS: "none", AllowInsecure: true, Password: d.Password})

	p.cut.Store(true)
	r := once(t, b, cfg)
	if p.cuts.Load() == 0 {
		t.Fatalf("the proxy never saw QUIT (exit %d): nothing was tested", r.Code)
	}
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, len(ms)) // DELEs rolled back

	p.cut.Store(false)
	r = once(t, b, cfg)
	wantCode(t, r, 0)
	if n := r.fetched(t); n != 0 {
		t.Errorf("second run fetched %d, want 0", n)
	}
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, 0)
}

func TestDovecot_CertForOtherHost(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	b.Seed(t, testcorpus.Mixed(3, 8))
	_, port := testharness.SplitAddr(d.POP3S)
	cfg := b.Config(t, testharness.Account{Server: "127.0.0.2", Port: port, TLS: "implicit", Password: d.Password})

	r := once(t, b, cfg)
	wantCode(t, r, 1)
	out := r.Stdout + r.Stderr
	if !regexp.MustCompile(`(?i)certificate|verif`).MatchString(out) {
		t.Errorf("output does not say the certificate failed verification:\n%s", testharness.Tail(out, 20))
	}
	if n := testharness.CountMaildir(t, b.Out); n != 0 {
		t.Errorf("maildir holds %d messages, want 0", n)
	}
	wantServerCount(t, b, 3)

	// Positive control first, so that "no login in the log" means something: a
	// good run does log the user's login.
	b2 := newBox(t, d)
	wantCode(t, once(t, b2, b2.Config(t, b2.ImplicitTLS())), 0)
	if !waitLog(t, d, "user=<"+b2.User+">", 3*time.Second) {
		t.Fatalf("Dovecot's log %s shows no login for a good run of %s", d.Log, b2.User)
	}
	if waitLog(t, d, "user=<"+b.User+">", 0) {
		t.Errorf("Dovecot's log shows a login attempt for %s: the password was sent to an unverified server", b.User)
	}
}

func TestDovecot_WrongPassword(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	b.Seed(t, testcorpus.Mixed(2, 9))
	a := b.ImplicitTLS()
	a.Password = "not-" + d.Password
	r := once(t, b, b.Config(t, a))
	wantCode(t, r, 1)
	out := r.Stdout + r.Stderr
	if !regexp.MustCompile(`(?i)auth|password|login`).MatchString(out) {
		t.Errorf("output does not say the login failed:\n%s", testharness.Tail(out, 20))
	}
	if strings.Contains(out, a.Password) {
		t.Errorf("output contains the password %q", a.Password)
	}
	if n := testharness.CountMaildir(t, b.Out); n != 0 {
		t.Errorf("maildir holds %d messages, want 0", n)
	}
	wantServerCount(t, b, 2)
}

// TestDovecot_StateLocked: while another process holds the state store's lock,
// fetchd exits 3 and touches nothing.
func TestDovecot_StateLocked(t *testing.T) {
	d := needFetchd(t)
	b := newBox(t, d)
	cfg := b.Config(t, b.ImplicitTLS())
	wantCode(t, once(t, b, cfg), 0) // creates the store

	ms := testcorpus.Mixed(3, 10)
	b.Seed(t, ms)
	f, err := os.OpenFile(b.State, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// bbolt takes flock(LOCK_EX) on the store file; hold it as another fetchd would.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	r := once(t, b, cfg)
	wantCode(t, r, 3)
	if !strings.Contains(strings.ToLower(r.Stderr), "lock") {
		t.Errorf("stderr does not say the store is locked:\n%s", testharness.Tail(r.Stderr, 10))
	}
	if n := testharness.CountMaildir(t, b.Out); n != 0 {
		t.Errorf("maildir holds %d messages, want 0", n)
	}
	wantServerCount(t, b, len(ms))

	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	wantCode(t, once(t, b, cfg), 0)
	checkDelivered(t, b.Out, ms)
	wantServerCount(t, b, 0)
}

// waitLog reports whether Dovecot's log contains s, waiting up to wait for it
// (the log process writes asynchronously).
func waitLog(t *testing.T, d *testharness.Dovecot, s string, wait time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		data, err := os.ReadFile(d.Log)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
