package pop3

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stallTest is one step at which the server stops answering, or trickles.
type stallTest struct {
	name   string
	cfg    Config // plainConfig() if Addr is ""
	script []string
	dial   func(ctx context.Context, network, addr string) (net.Conn, error) // instead of the script
	run    func(ctx context.Context, c *Client) error                        // after Dial; nil: Dial only
	wantIs error                                                             // with Timeout; nil: a stall (see isStall)
}

func TestStall_EachStep(t *testing.T) {
	loggedIn := func(steps ...string) []string { return script(hello, loginOK, steps) }
	implicit := Config{Addr: "localhost:995", TLSConfig: clientTLSConfig()}
	slow := "T 50ms: " + strings.Repeat("x", 100)
	readAll := func(ctx context.Context, c *Client) error {
		return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
			rc, err := c.Retr(ctx, 1)
			if err != nil {
				return err
			}
			_, err = io.ReadAll(rc)
			return err
		})
	}
	closeBody := func(ctx context.Context, c *Client) error {
		return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
			rc, err := c.Retr(ctx, 1)
			if err != nil {
				return err
			}
			return rc.Close()
		})
	}
	tests := []stallTest{
		{name: "Connect", wantIs: context.DeadlineExceeded,
			dial: func(ctx context.Context, _, _ string) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }},
		{name: "Greeting", script: []string{"HANG"}},
		{name: "GreetingTrickle", script: []string{"T 50ms: +OK " + strings.Repeat("x", 100)}, wantIs: ErrTooSlow},
		{name: "CAPA", script: []string{"S: +OK hi", "C: CAPA", "HANG"}},
		{name: "CAPATrickle", script: []string{"S: +OK hi", "C: CAPA", "S: +OK", slow}, wantIs: ErrTooSlow},
		{name: "ImplicitHandshake", cfg: implicit, script: []string{"HANG"}},
		// A TLS record header announcing 16 KiB, then a byte every 30ms:
		// every read is under its deadline, the handshake is not.
		{name: "ImplicitHandshakeTrickle", cfg: implicit, wantIs: context.DeadlineExceeded,
			script: []string{"T 30ms: \x16\x03\x03\x40\x00" + strings.Repeat("x", 200)}},
		{name: "STLS", cfg: stlsConfig(), script: script(stlsHello, []string{"C: STLS", "HANG"})},
		{name: "STLSHandshake", cfg: stlsConfig(), script: script(stlsHello, []string{"C: STLS", "S: +OK", "HANG"})},
		{name: "User", script: script(hello, []string{"C: USER bob", "HANG"}), run: loginRunCtx},
		{name: "Pass", script: script(hello, []string{"C: USER bob", "S: +OK", "C: PASS " + testPassword, "HANG"}), run: loginRunCtx},
		{name: "CAPAAfterLogin", script: script(expireUserHello, loginOK, []string{"C: CAPA", "HANG"}), run: loginRunCtx},
		{name: "List", script: loggedIn("C: LIST", "S: +OK", "S: 1 100", "HANG"),
			run: func(ctx context.Context, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error { _, err := c.List(ctx); return err })
			}},
		{name: "UIDL", script: loggedIn("C: UIDL", "HANG"),
			run: func(ctx context.Context, c *Client) error { return loginThen(ctx, c, uidlOp) }},
		{name: "UIDLTrickle", script: loggedIn("C: UIDL", "S: +OK", slow), wantIs: ErrTooSlow,
			run: func(ctx context.Context, c *Client) error { return loginThen(ctx, c, uidlOp) }},
		{name: "RetrStatus", script: loggedIn("C: RETR 1", "HANG"), run: readAll},
		{name: "RetrBody", script: loggedIn("C: RETR 1", "R: +OK\r\nabc\r\n", "HANG"), run: readAll},
		{name: "RetrBodyTrickle", script: loggedIn("C: RETR 1", "S: +OK", slow), run: readAll, wantIs: ErrTooSlow},
		{name: "Drain", script: loggedIn("C: RETR 1", "R: +OK\r\nabc\r\n", "HANG"), run: closeBody},
		{name: "DrainTrickle", script: loggedIn("C: RETR 1", "S: +OK", slow), run: closeBody, wantIs: ErrTooSlow},
		{name: "Dele", script: loggedIn("C: DELE 1", "HANG"),
			run: func(ctx context.Context, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error { return c.Dele(ctx, 1) })
			}},
		{name: "Quit", script: loggedIn("C: QUIT", "HANG"),
			run: func(ctx context.Context, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error { return c.Quit(ctx) })
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/Timeout", func(t *testing.T) { t.Parallel(); runStall(t, tc, false) })
		t.Run(tc.name+"/Cancel", func(t *testing.T) { t.Parallel(); runStall(t, tc, true) })
	}
}

// runStall runs tc with a 200ms Timeout, or with a long one and ctx
// cancelled at 300ms, and checks that it fails soon, temporarily, with the
// client broken.
func runStall(t *testing.T, tc stallTest, cancel bool) {
	cfg := tc.cfg
	if cfg.Addr == "" {
		cfg = plainConfig()
	}
	cfg.Timeout = 200 * time.Millisecond
	ctx := context.Background()
	if cancel {
		cfg.Timeout = 10 * time.Second
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		time.AfterFunc(300*time.Millisecond, stop)
	}
	var srv *scriptServer
	var conn net.Conn
	cfg.DialContext = tc.dial
	if tc.dial == nil {
		srv, conn = startServer(t, tc.script)
		cfg.DialContext = pipeDialer(conn)
	}
	start := time.Now()
	c, err := Dial(ctx, cfg)
	if err == nil && tc.run != nil {
		err = tc.run(ctx, c)
	}
	elapsed := time.Since(start)
	if c != nil {
		if err2 := c.Noop(context.Background()); !errors.Is(err2, ErrBroken) {
			t.Errorf("after the stall: got %v, want ErrBroken", err2)
		}
		c.Close()
	}
	if conn != nil {
		conn.Close()
		srv.finish(t)
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %v, want < 2s", elapsed)
	}
	switch {
	case err == nil:
		t.Fatalf("got no error")
	case cancel && !errors.Is(err, context.Canceled):
		t.Errorf("got %q, want context.Canceled", err)
	case !cancel && tc.wantIs != nil && !errors.Is(err, tc.wantIs):
		t.Errorf("got %q, want errors.Is %q", err, tc.wantIs)
	case !cancel && tc.wantIs == nil && !isStall(err):
		t.Errorf("got %q, want a timeout", err)
	}
	if !IsTemporary(err) {
		t.Errorf("IsTemporary(%q) = false, want true", err)
	}
}

// isStall reports a read or handshake timeout, or ErrTooSlow: a server that
// sent a few octets and then stopped is too slow by the end of the window.
func isStall(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTooSlow)
}

func loginRunCtx(ctx context.Context, c *Client) error { return login(ctx, c) }

// body1k is a 1000-octet body line.
var body1k = "R: " + strings.Repeat("b", 998) + "\r\n"

func TestRetr_MinRate(t *testing.T) {
	loggedIn := func(steps ...string) []string { return script(hello, loginOK, steps) }
	withRateWindow := func(rate int64, window time.Duration) Config {
		cfg := withTimeout(window)
		cfg.MinRate = rate
		return cfg
	}
	withRate := func(rate int64) Config { return withRateWindow(rate, 200*time.Millisecond) }
	tests := []struct {
		name    string
		cfg     Config
		script  []string
		pause   time.Duration // after each Read: a slow delivery target
		wantErr string        // regexp; "" = no error
	}{
		{name: "TooSlow", cfg: withRate(0), script: loggedIn("C: RETR 1", "S: +OK", "T 50ms: "+strings.Repeat("x", 100)),
			wantErr: `^retr 1: read body: pop3: server too slow: \d+ bytes in 0\.2s, minimum 1024 B/s$`},
		// 200 B/s against 20 B/s over 0.5s windows: a margin for a loaded
		// machine, where the fake server's sleeps can stretch to 100ms.
		{name: "FastEnoughWithGaps", cfg: withRateWindow(20, 500*time.Millisecond),
			script: loggedIn("C: RETR 1", "S: +OK", "T 5ms: "+strings.Repeat("y", 150)+"\r\n.\r\n", "C: DELE 1", "S: +OK")},
		{name: "Disabled", cfg: withRate(-1),
			script: loggedIn("C: RETR 1", "S: +OK", "T 20ms: z\r\n.\r\n", "C: DELE 1", "S: +OK")},
		// Wall-clock windows would fail this: 3000 octets in ~1s against
		// 8000 B/s. The server is prompt; only the reader is slow.
		{name: "SlowReaderNotCounted", cfg: withRate(8000), pause: 300 * time.Millisecond,
			script: loggedIn("C: RETR 1", "S: +OK", body1k, "SLEEP 100ms", body1k, "SLEEP 100ms", body1k, "R: .\r\n", "C: DELE 1", "S: +OK")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, conn := startServer(t, tc.script)
			cfg := tc.cfg
			cfg.DialContext = pipeDialer(conn)
			ctx := context.Background()
			c, err := Dial(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { c.Close(); srv.finish(t) }()
			if err := login(ctx, c); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			rc, err := c.Retr(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1000)
			for err == nil {
				_, err = rc.Read(buf)
				time.Sleep(tc.pause)
			}
			if tc.wantErr == "" {
				if err != io.EOF {
					t.Fatalf("got %v, want the whole body", err)
				}
				rc.Close()
				if err := c.Dele(ctx, 1); err != nil {
					t.Errorf("dele: %v", err)
				}
				return
			}
			if !regexp.MustCompile(tc.wantErr).MatchString(err.Error()) || !errors.Is(err, ErrTooSlow) || !IsTemporary(err) {
				t.Errorf("got %q (temporary %v), want ErrTooSlow matching %q", err, IsTemporary(err), tc.wantErr)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v, want about one 200ms window", d)
			}
		})
	}
}

func TestConversation_Timeouts(t *testing.T) {
	loggedIn := script(hello, loginOK, []string{"C: STAT", "HANG"})
	t.Run("Stall", func(t *testing.T) {
		cfg := plainConfig()
		cfg.Timeout = 100 * time.Millisecond
		runConv(t, convTest{cfg: cfg, script: loggedIn, wantIs: os.ErrDeadlineExceeded, wantTemp: true,
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if err := login(ctx, c); err != nil {
					return err
				}
				start := time.Now()
				_, _, err := c.Stat(ctx)
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("stat took %v with a 100ms timeout", d)
				}
				if !strings.HasPrefix(err.Error(), "stat: read reply: ") {
					t.Errorf("got %q, want it to name the operation", err)
				}
				if err2 := c.Noop(ctx); !errors.Is(err2, ErrBroken) {
					t.Errorf("after timeout: got %v, want ErrBroken", err2)
				}
				return err
			}})
	})
	t.Run("Cancel", func(t *testing.T) {
		runConv(t, convTest{script: loggedIn, wantIs: context.Canceled, wantTemp: true,
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if err := login(ctx, c); err != nil {
					return err
				}
				ctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(50*time.Millisecond, cancel)
				start := time.Now()
				_, _, err := c.Stat(ctx)
				if d := time.Since(start); d > time.Second {
					t.Errorf("stat took %v after cancel at 50ms", d)
				}
				return err
			}})
	})
}

// Regression (network-cut campaign): a server falling silent in the middle
// of a body costs one timeout, not up to two, however the meter's windows
// fall.
func TestRetr_SilenceCostsOneTimeout(t *testing.T) {
	const timeout = 400 * time.Millisecond
	loggedIn := script(hello, loginOK, []string{"C: RETR 1", "S: +OK", "R: " + strings.Repeat("x", 300), "HANG"})
	srv, conn := startServer(t, loggedIn)
	cfg := withTimeout(timeout)
	cfg.MinRate = 1 // the meter is on, its windows end inside the silence
	cfg.DialContext = pipeDialer(conn)
	ctx := context.Background()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); srv.finish(t) }()
	if err := login(ctx, c); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var last time.Time
	for err == nil {
		var n int
		n, err = rc.Read(buf)
		if n > 0 {
			last = time.Now()
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a timeout", err)
	}
	if silence := time.Since(last); silence > timeout*3/2 {
		t.Errorf("silence cost %v, want about one timeout (%v)", silence, timeout)
	}
}
