package pop3

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// helloPipe is hello from a server that announces PIPELINING.
var helloPipe = []string{
	"S: +OK POP3 ready",
	"C: CAPA",
	"S: +OK capabilities follow",
	"S: USER",
	"S: UIDL",
	"S: PIPELINING",
	"S: .",
}

// USER and PASS go out together: the script expects both lines before it
// answers either, so a client waiting for USER's reply would stall it.
var loginPipe = []string{
	"C: USER bob",
	"C: PASS " + testPassword,
	"S: +OK",
	"S: +OK logged in",
}

func readAll(t *testing.T, c *Client, ctx context.Context, num int) string {
	t.Helper()
	body, err := c.Retr(ctx, num)
	if err != nil {
		t.Fatalf("retr %d: %v", num, err)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("retr %d: read: %v", num, err)
	}
	if err := body.Close(); err != nil {
		t.Fatalf("retr %d: close: %v", num, err)
	}
	return string(b)
}

// TestPipelining: each script lists the commands the client must send before
// the server answers any of them. A client that waited for a reply before
// sending the next command would stall the script (and time out).
func TestPipelining(t *testing.T) {
	login := func(ctx context.Context, c *Client) error { return c.Login(ctx, "bob", testPassword, AuthUser) }
	tests := []convTest{
		{name: "UserPassTogether", script: script(helloPipe, loginPipe), run: func(ctx context.Context, t *testing.T, c *Client) error {
			return login(ctx, c)
		}},
		{name: "UserErrReadsPassReply", script: script(helloPipe, []string{"C: USER bob", "C: PASS " + testPassword, "S: -ERR no such user", "S: -ERR no"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				err := login(ctx, c)
				var pe *Error
				if !errors.As(err, &pe) || pe.Command != "USER" {
					t.Errorf("got %v, want USER's -ERR", err)
				}
				return nil
			}},
		{name: "UIDLAndListTogether", script: script(helloPipe, loginPipe, []string{
			"C: UIDL", "C: LIST",
			"S: +OK", "S: 1 aaa", "S: 2 bbb", "S: .",
			"S: +OK", "S: 1 100", "S: 2 200", "S: .",
		}), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			uidl, uerr, list, err := c.UIDLAndList(ctx)
			if uerr != nil || err != nil {
				t.Fatalf("UIDLAndList: %v, %v", uerr, err)
			}
			if len(uidl) != 2 || uidl[1].UID != "bbb" || len(list) != 2 || list[1].Size != 200 {
				t.Errorf("got %+v and %+v", uidl, list)
			}
			return nil
		}},
		{name: "UIDLRefusedListStillRead", script: script(helloPipe, loginPipe, []string{
			"C: UIDL", "C: LIST", "S: -ERR no UIDL here", "S: +OK", "S: 1 100", "S: .",
			"C: NOOP", "S: +OK",
		}), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			_, uerr, list, err := c.UIDLAndList(ctx)
			if !errors.Is(uerr, ErrNoUIDL) || err != nil || len(list) != 1 {
				t.Errorf("got uidl error %v, list %+v, error %v; want ErrNoUIDL and the listing", uerr, list, err)
			}
			return c.Noop(ctx) // the stream is still in step
		}},
		{name: "RetrAheadAndDeleAsync", script: script(helloPipe, loginPipe, []string{
			// The three planned RETRs go out before the first reply.
			"C: RETR 1", "C: RETR 2", "C: RETR 3",
			"S: +OK", "S: one", "S: .",
			"S: +OK", "S: two", "S: .",
			// DELE 1 is sent while RETR 3's reply is still owed.
			"C: DELE 1",
			"S: +OK", "S: three", "S: .",
			"C: DELE 2", "C: QUIT",
			"S: +OK deleted", "S: -ERR no", "S: +OK bye",
		}), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			c.PlanRetr([]MessageInfo{{Num: 1, Size: 5}, {Num: 2, Size: 5}, {Num: 3, Size: 7}})
			if b := readAll(t, c, ctx, 1); b != "one\r\n" {
				t.Errorf("message 1 = %q", b)
			}
			if b := readAll(t, c, ctx, 2); b != "two\r\n" {
				t.Errorf("message 2 = %q", b)
			}
			var deles []error
			note := func(err error) { deles = append(deles, err) }
			if err := c.DeleAsync(ctx, 1, note); err != nil {
				return err
			}
			if len(deles) != 0 {
				t.Errorf("DELE's reply was waited for")
			}
			if b := readAll(t, c, ctx, 3); b != "three\r\n" {
				t.Errorf("message 3 = %q", b)
			}
			if err := c.DeleAsync(ctx, 2, note); err != nil {
				return err
			}
			if err := c.Quit(ctx); err != nil {
				return err
			}
			if len(deles) != 2 || deles[0] != nil || deles[1] == nil {
				t.Errorf("DELE outcomes %v, want +OK then -ERR", deles)
			}
			return nil
		}},
		{name: "SkippedPlannedBodyDiscarded", script: script(helloPipe, loginPipe, []string{
			"C: RETR 1", "C: RETR 2", "C: RETR 3",
			"S: +OK", "S: one", "S: .",
			"S: +OK", "S: two", "S: ..stuffed", "S: .",
			"S: +OK", "S: three", "S: .",
			"C: QUIT", "S: +OK",
		}), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			c.PlanRetr([]MessageInfo{{Num: 1}, {Num: 2}, {Num: 3}})
			if b := readAll(t, c, ctx, 1); b != "one\r\n" {
				t.Errorf("message 1 = %q", b)
			}
			if b := readAll(t, c, ctx, 3); b != "three\r\n" {
				t.Errorf("message 3 = %q, want message 2 skipped", b)
			}
			return c.Quit(ctx)
		}},
		{name: "WindowBoundedBySize", script: script(helloPipe, loginPipe, []string{
			// 3 MB + 3 MB exceed the 4 MB window: RETR 2 waits for
			// RETR 1's body to be asked for; RETR 3 is small and joins it.
			"C: RETR 1",
			"S: +OK", "S: one", "S: .",
			"C: RETR 2", "C: RETR 3",
			"S: +OK", "S: two", "S: .",
			"S: +OK", "S: three", "S: .",
			"C: QUIT", "S: +OK",
		}), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			c.PlanRetr([]MessageInfo{{Num: 1, Size: 3 << 20}, {Num: 2, Size: 3 << 20}, {Num: 3, Size: 10}})
			for i, want := range []string{"one\r\n", "two\r\n", "three\r\n"} {
				if b := readAll(t, c, ctx, i+1); b != want {
					t.Errorf("message %d = %q", i+1, b)
				}
			}
			return c.Quit(ctx)
		}},
		{name: "QuitNoWaitWithoutDele", script: script(helloPipe, loginPipe, []string{"C: QUIT"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if err := login(ctx, c); err != nil {
					return err
				}
				return c.QuitNoWait(ctx) // the script never answers QUIT
			}},
		{name: "QuitNoWaitAfterDeleWaits", script: script(helloPipe, loginPipe, []string{"C: DELE 1", "C: QUIT", "S: +OK", "S: -ERR [SYS/TEMP] could not delete"}),
			wantCmd: "QUIT", wantCode: "SYS/TEMP", wantTemp: true,
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if err := login(ctx, c); err != nil {
					return err
				}
				if err := c.DeleAsync(ctx, 1, func(error) {}); err != nil {
					return err
				}
				return c.QuitNoWait(ctx)
			}},
		{name: "SyncCommandReadsOwedFirst", script: script(helloPipe, loginPipe, []string{
			"C: DELE 1", "C: NOOP", "S: +OK", "S: +OK noop",
		}), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			var deleErr error = errors.New("not called")
			if err := c.DeleAsync(ctx, 1, func(err error) { deleErr = err }); err != nil {
				return err
			}
			if err := c.Noop(ctx); err != nil {
				return err
			}
			if deleErr != nil {
				t.Errorf("DELE outcome %v, want +OK read before NOOP's", deleErr)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}

// TestExpectPipelining: after a session that saw PIPELINING, CAPA, USER,
// PASS, UIDL and LIST all go out before the first reply is read.
func TestExpectPipelining(t *testing.T) {
	cfg := plainConfig()
	cfg.ExpectPipelining = true
	capa := []string{"S: +OK capabilities follow", "S: USER", "S: UIDL", "S: PIPELINING", "S: ."}
	tests := []convTest{
		{name: "OneRoundTrip", cfg: cfg, script: script(
			[]string{"S: +OK POP3 ready", "C: CAPA", "C: USER bob", "C: PASS " + testPassword, "C: UIDL", "C: LIST"},
			capa, []string{"S: +OK", "S: +OK logged in",
				"S: +OK", "S: 1 aaa", "S: .", "S: +OK", "S: 1 120", "S: .", "C: QUIT"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				uidl, uerr, list, err := c.LoginAndList(ctx, "bob", testPassword, AuthUser)
				if err != nil || uerr != nil {
					return errors.Join(err, uerr)
				}
				if len(uidl) != 1 || uidl[0].UID != "aaa" || len(list) != 1 || list[0].Size != 120 {
					t.Errorf("got %+v and %+v", uidl, list)
				}
				if !c.Pipelining() {
					t.Errorf("the CAPA read behind the login did not register PIPELINING")
				}
				return c.QuitNoWait(ctx)
			}},
		{name: "WrongPassword", cfg: cfg, wantCmd: "PASS", wantCode: "AUTH", wantAuth: true, script: script(
			[]string{"S: +OK POP3 ready", "C: CAPA", "C: USER bob", "C: PASS " + testPassword, "C: UIDL", "C: LIST"},
			capa, []string{"S: +OK", "S: -ERR [AUTH] invalid password"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				_, _, _, err := c.LoginAndList(ctx, "bob", testPassword, AuthUser)
				return err
			}},
		{name: "AutoReadsCapaFirst", cfg: cfg, script: script(
			// auto needs CAPA's SASL line before it can choose: no pipelining
			// past CAPA.
			[]string{"S: +OK POP3 ready", "C: CAPA"},
			capa, []string{"C: USER bob", "C: PASS " + testPassword, "S: +OK", "S: +OK logged in"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return c.Login(ctx, "bob", testPassword, AuthAuto)
			}},
		{name: "STLSNeverPipelined", cfg: Config{Addr: "localhost:110", TLS: TLSStartTLS, Timeout: 2 * time.Second, ExpectPipelining: true},
			wantIs: ErrSTLSUnavailable, script: []string{"S: +OK POP3 ready", "C: CAPA", "S: +OK", "S: USER", "S: .", "C: QUIT", "~S: +OK"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}

// TestNoPipelining_OneAtATime: without PIPELINING a plan changes nothing and
// DeleAsync waits for its reply.
func TestNoPipelining_OneAtATime(t *testing.T) {
	runConv(t, convTest{script: script(hello, loginOK, []string{
		"C: RETR 1", "S: +OK", "S: one", "S: .",
		"C: DELE 1", "S: +OK",
		"C: RETR 2", "S: +OK", "S: two", "S: .",
		"C: QUIT", "S: +OK",
	}), run: func(ctx context.Context, t *testing.T, c *Client) error {
		if err := c.Login(ctx, "bob", testPassword, AuthUser); err != nil {
			return err
		}
		c.PlanRetr([]MessageInfo{{Num: 1}, {Num: 2}})
		readAll(t, c, ctx, 1)
		called := false
		if err := c.DeleAsync(ctx, 1, func(err error) { called = err == nil }); err != nil {
			return err
		}
		if !called {
			t.Errorf("DeleAsync without PIPELINING returned before its reply")
		}
		readAll(t, c, ctx, 2)
		return c.Quit(ctx)
	}})
}
