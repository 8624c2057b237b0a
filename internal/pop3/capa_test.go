package pop3

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchd/internal/crashpoint"
)

func TestCapabilities_Expire(t *testing.T) {
	tests := []struct {
		line           string // the CAPA line; "" = not announced
		days           int
		never, ok      bool
		perUser, fetch bool // perUserCaps; ExpiresRetrieved
	}{
		{line: "", ok: false},
		{line: "EXPIRE 0", days: 0, ok: true, fetch: true},
		{line: "EXPIRE 30", days: 30, ok: true},
		{line: "EXPIRE NEVER", never: true, ok: true},
		{line: "expire never", never: true, ok: true},
		{line: "EXPIRE 0 USER", days: 0, ok: true, perUser: true, fetch: true},
		{line: "EXPIRE 30 USER", days: 30, ok: true, perUser: true},
		{line: "EXPIRE 30 user", days: 30, ok: true, perUser: true},
		{line: "EXPIRE", ok: false},
		{line: "EXPIRE -1", ok: false},
		{line: "EXPIRE soon", ok: false},
		{line: "EXPIRE 30 OTHER", ok: false},
		{line: "EXPIRE 99999999999", ok: false},
		{line: "LOGIN-DELAY 900 USER", ok: false, perUser: true},
		{line: "LOGIN-DELAY 900", ok: false},
	}
	for _, tc := range tests {
		caps := Capabilities{}
		if f := strings.Fields(tc.line); len(f) > 0 {
			caps[strings.ToUpper(f[0])] = f[1:]
		}
		days, never, ok := caps.Expire()
		if days != tc.days || never != tc.never || ok != tc.ok {
			t.Errorf("%q: got Expire() %d %v %v, want %d %v %v", tc.line, days, never, ok, tc.days, tc.never, tc.ok)
		}
		if got := caps.perUserCaps(); got != tc.perUser {
			t.Errorf("%q: got perUserCaps %v, want %v", tc.line, got, tc.perUser)
		}
		if got := (&Client{caps: caps}).ExpiresRetrieved(); got != tc.fetch {
			t.Errorf("%q: got ExpiresRetrieved %v, want %v", tc.line, got, tc.fetch)
		}
	}
}

// expireUserHello announces a per-user EXPIRE: Login must ask CAPA again.
var expireUserHello = []string{"S: +OK hi", "C: CAPA", "S: +OK", "S: USER", "S: EXPIRE 0 USER", "S: ."}

func TestLogin_RefreshCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		script    []string
		wantCaps  []string // sorted names after login
		wantExpRt bool
	}{
		{name: "NoUserTagNoRefresh", script: script(hello, loginOK), wantCaps: []string{"UIDL", "USER"}},
		{name: "ExpireUser", script: script(expireUserHello, loginOK, []string{"C: CAPA", "S: +OK", "S: EXPIRE 30", "S: UIDL", "S: ."}),
			wantCaps: []string{"EXPIRE", "UIDL"}},
		{name: "ExpireUserZero", script: script(expireUserHello, loginOK, []string{"C: CAPA", "S: +OK", "S: EXPIRE 0", "S: ."}),
			wantCaps: []string{"EXPIRE"}, wantExpRt: true},
		{name: "LoginDelayUser", script: script([]string{"S: +OK", "C: CAPA", "S: +OK", "S: LOGIN-DELAY 900 USER", "S: ."}, loginOK,
			[]string{"C: CAPA", "S: +OK", "S: LOGIN-DELAY 60", "S: ."}), wantCaps: []string{"LOGIN-DELAY"}},
		// In doubt, the pre-login "EXPIRE 0 USER" counts.
		{name: "ExpireOmittedAfterLogin", script: script(expireUserHello, loginOK, []string{"C: CAPA", "S: +OK", "S: UIDL", "S: ."}),
			wantCaps: []string{"UIDL"}, wantExpRt: true},
		{name: "CapaErrAfterLoginKeepsFirst", script: script(expireUserHello, loginOK, []string{"C: CAPA", "S: -ERR not now"}),
			wantCaps: []string{"EXPIRE", "USER"}, wantExpRt: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runConv(t, convTest{script: tc.script, run: func(ctx context.Context, t *testing.T, c *Client) error {
				if err := login(ctx, c); err != nil {
					return err
				}
				var got []string
				for k := range c.Capabilities() {
					got = append(got, k)
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.wantCaps) {
					t.Errorf("got capabilities %q, want %q", got, tc.wantCaps)
				}
				if c.ExpiresRetrieved() != tc.wantExpRt {
					t.Errorf("got ExpiresRetrieved %v, want %v", c.ExpiresRetrieved(), tc.wantExpRt)
				}
				return nil
			}})
		})
	}
	t.Run("Explicit", func(t *testing.T) {
		runConv(t, convTest{script: script(hello, loginOK, []string{"C: CAPA", "S: +OK", "S: EXPIRE 0", "S: ."}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if err := c.RefreshCapabilities(ctx); err == nil {
					t.Errorf("before login: got no error")
				}
				if err := login(ctx, c); err != nil {
					return err
				}
				if err := c.RefreshCapabilities(ctx); err != nil {
					return err
				}
				if !c.ExpiresRetrieved() {
					t.Errorf("got ExpiresRetrieved false after CAPA said EXPIRE 0")
				}
				return nil
			}})
	})
}

// TestQuit_CrashPointAfterQuitSent runs a session in a child process armed
// to die at "quit.sent", and checks it died after QUIT reached the server.
func TestQuit_CrashPointAfterQuitSent(t *testing.T) {
	if addr := os.Getenv("POP3_CRASH_CHILD_ADDR"); addr != "" {
		plan, err := crashpoint.FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		ctx := crashpoint.With(context.Background(), plan)
		cfg := plainConfig()
		cfg.Addr = addr
		c, err := Dial(ctx, cfg)
		if err == nil {
			err = login(ctx, c)
		}
		if err == nil {
			err = c.Quit(ctx)
		}
		t.Fatalf("child: not killed at quit.sent (err %v)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestQuit_CrashPointAfterQuitSent$")
	cmd.Env = append(os.Environ(), "POP3_CRASH_CHILD_ADDR="+ln.Addr().String(), crashpoint.EnvVar+"=quit.sent:1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	srv := &scriptServer{script: script(hello, loginOK, []string{"C: QUIT", "~S: +OK"}), conn: conn, done: make(chan struct{})}
	go srv.run()
	err = cmd.Wait()
	srv.finish(t)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: got %v, want killed by SIGKILL", err)
	}
	if got := srv.received(); len(got) == 0 || got[len(got)-1] != "QUIT" {
		t.Errorf("server received %q, want QUIT last", got)
	}
}

func TestCapabilities_LoginDelay(t *testing.T) {
	tests := []struct {
		args []string
		want time.Duration
	}{
		{nil, 0},
		{[]string{"900"}, 900 * time.Second},
		{[]string{"60", "USER"}, time.Minute},
		{[]string{"60", "EXTRA"}, 0},
		{[]string{"-5"}, 0},
		{[]string{"x"}, 0},
		{[]string{"99999999"}, maxLoginDelay},
	}
	for _, tt := range tests {
		c := Capabilities{}
		if tt.args != nil {
			c["LOGIN-DELAY"] = tt.args
		}
		if got := c.LoginDelay(); got != tt.want {
			t.Errorf("LoginDelay(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
