package pop3

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestConversation_Commands(t *testing.T) {
	loggedIn := func(steps ...string) []string { return script(hello, loginOK, steps) }
	tests := []convTest{
		{name: "ListUIDL", script: loggedIn(
			"C: LIST", "S: +OK 3 messages", "S: 1 120", "S: 2 200 extra", "S: 3  7", "S: .",
			"C: UIDL", "S: +OK", "S: 1 whqtswO00WBw418f9t5JxYwZ", "S: 2 .dup", "S: 3 .dup", "S: .",
		), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			list, err := c.List(ctx)
			if err != nil {
				return err
			}
			want := []MessageInfo{{1, 120, ""}, {2, 200, ""}, {3, 7, ""}}
			if !slices.Equal(list, want) {
				t.Errorf("got %+v, want %+v", list, want)
			}
			uids, err := c.UIDL(ctx)
			if err != nil {
				return err
			}
			// Duplicates are returned as listed; the caller decides.
			want = []MessageInfo{{1, -1, "whqtswO00WBw418f9t5JxYwZ"}, {2, -1, ".dup"}, {3, -1, ".dup"}}
			if !slices.Equal(uids, want) {
				t.Errorf("got %+v, want %+v", uids, want)
			}
			return nil
		}},
		{name: "ListMalformedThenUsable", script: loggedIn(
			"C: LIST", "S: +OK", "S: 1 120", "S: two 200", "S: 3 -5", "S: .", "C: NOOP", "S: +OK",
		), run: func(ctx context.Context, t *testing.T, c *Client) error {
			if err := login(ctx, c); err != nil {
				return err
			}
			_, err := c.List(ctx)
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("got %v, want ErrProtocol at line 2", err)
			}
			return c.Noop(ctx)
		}},
		{name: "UIDLControlChar", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: UIDL", "S: +OK", "S: 1 a\x01b", "S: ."),
			run:    func(ctx context.Context, t *testing.T, c *Client) error { return loginThen(ctx, c, uidlOp) }},
		{name: "UIDLErr", wantIs: ErrNoUIDL, wantCmd: "UIDL", wantTemp: false,
			script: loggedIn("C: UIDL", "S: -ERR unknown command"),
			run:    func(ctx context.Context, t *testing.T, c *Client) error { return loginThen(ctx, c, uidlOp) }},
		{name: "UIDLErrTemp", wantCode: "SYS/TEMP", wantCmd: "UIDL", wantTemp: true,
			script: loggedIn("C: UIDL", "S: -ERR [SYS/TEMP] try later"),
			run:    func(ctx context.Context, t *testing.T, c *Client) error { return loginThen(ctx, c, uidlOp) }},
		{name: "EndlessListingLine", wantIs: ErrLineTooLong,
			script: loggedIn("C: LIST", "S: +OK", "~R: 1 "+strings.Repeat("9", 100<<10)),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error { _, err := c.List(ctx); return err })
			}},
		{name: "NotLoggedIn", script: hello, wantTemp: true, wantIs: errAny,
			run: func(ctx context.Context, t *testing.T, c *Client) error { return c.Dele(ctx, 1) }},
		{name: "BadStatus", wantIs: ErrProtocol, wantTemp: true, script: loggedIn("C: NOOP", "S: OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				err := loginThen(ctx, c, func(ctx context.Context, c *Client) error { return c.Noop(ctx) })
				if err2 := c.Noop(ctx); !errors.Is(err2, ErrBroken) {
					t.Errorf("after protocol error: got %v, want ErrBroken", err2)
				}
				return err
			}},
		{name: "DeleErr", wantCmd: "DELE", wantTemp: true, script: loggedIn("C: DELE 9", "S: -ERR no such message"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error { return c.Dele(ctx, 9) })
			}},
		{name: "QuitOK", script: loggedIn("C: DELE 1", "S: +OK", "C: RSET", "S: +OK", "C: QUIT", "S: +OK bye"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					if err := c.Dele(ctx, 1); err != nil {
						return err
					}
					if err := c.Rset(ctx); err != nil {
						return err
					}
					return c.Quit(ctx)
				})
			}},
		{name: "QuitDropped", wantIs: io.EOF, wantTemp: true, script: loggedIn("C: DELE 1", "S: +OK", "C: QUIT", "DROP"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					if err := c.Dele(ctx, 1); err != nil {
						return err
					}
					return c.Quit(ctx)
				})
			}},
		{name: "QuitErr", wantCmd: "QUIT", wantTemp: true, script: loggedIn("C: QUIT", "S: -ERR some deleted messages not removed"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error { return c.Quit(ctx) })
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}

// errAny matches any error in convTest.wantIs.
var errAny = errors.New("any error")

func uidlOp(ctx context.Context, c *Client) error { _, err := c.UIDL(ctx); return err }

func loginThen(ctx context.Context, c *Client, f func(context.Context, *Client) error) error {
	if err := login(ctx, c); err != nil {
		return err
	}
	return f(ctx, c)
}
