package pop3

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// TestConversation_Unsolicited: octets the server sends while no command is
// outstanding break the client before they can be read as the reply to the
// next command. Each script ends where the client must stop: a command sent
// after it fails the fake server.
func TestConversation_Unsolicited(t *testing.T) {
	loggedIn := func(steps ...string) []string { return script(hello, loginOK, steps) }
	const listing = "+OK\r\n1 120\r\n2 200\r\n.\r\n"
	// thenDele runs op, then DELE 1, which must not be sent; it returns
	// op's error, or DELE's when op had none.
	thenDele := func(op func(context.Context, *Client) error) func(context.Context, *testing.T, *Client) error {
		return func(ctx context.Context, t *testing.T, c *Client) error {
			return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
				err := op(ctx, c)
				if err2 := c.Dele(ctx, 1); err == nil {
					err = err2
				} else if !errors.Is(err2, ErrBroken) {
					t.Errorf("dele after %v: got %v, want ErrBroken", err, err2)
				}
				return err
			})
		}
	}
	list := func(ctx context.Context, c *Client) error { _, err := c.List(ctx); return err }
	noop := func(ctx context.Context, c *Client) error { return c.Noop(ctx) }
	tests := []convTest{
		{name: "ListingTwice", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: LIST", "R: "+listing+listing), run: thenDele(list),
			wantText: "server sent 22 octets nobody asked for after the reply to LIST"},
		{name: "ReplyTwice", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: NOOP", "R: +OK\r\n+OK\r\n"), run: thenDele(noop),
			wantText: "after the reply to NOOP"},
		{name: "ReplyThenErr", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: NOOP", "R: +OK\r\n-ERR [SYS/TEMP] unsolicited\r\n"), run: thenDele(noop)},
		{name: "ErrThenJunk", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: RETR 1", "R: -ERR no such message\r\nSubject: x\r\n\r\n.\r\n"),
			run:    thenDele(func(ctx context.Context, c *Client) error { _, err := c.Retr(ctx, 1); return err })},
		{name: "LateAfterReply", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: NOOP", "S: +OK", "SLEEP 30ms", "S: +OK late"),
			run: thenDele(func(ctx context.Context, c *Client) error {
				if err := c.Noop(ctx); err != nil {
					return err
				}
				time.Sleep(150 * time.Millisecond) // the late line has arrived: DELE must see it
				return nil
			}),
			wantText: "after the reply to NOOP"},
		{name: "LateAfterReplyOverTLS", wantIs: ErrProtocol, wantTemp: true,
			// crypto/tls may have read the late record off the socket
			// already: the kernel's count is no proof of silence over TLS.
			cfg:    Config{Addr: "localhost:995", TLSConfig: clientTLSConfig(), Timeout: 2 * time.Second},
			script: script([]string{"TLS"}, hello, loginOK, []string{"C: NOOP", "S: +OK", "SLEEP 30ms", "S: +OK late"}),
			run: thenDele(func(ctx context.Context, c *Client) error {
				if err := c.Noop(ctx); err != nil {
					return err
				}
				time.Sleep(150 * time.Millisecond)
				return nil
			}),
			wantText: "after the reply to NOOP"},
		{name: "AfterGreeting", wantIs: ErrProtocol, wantTemp: true,
			script: []string{"R: +OK hi\r\n+OK\r\n1 a\r\n.\r\n"}, wantText: "after the greeting"},
		{name: "BodyThenOK", wantIs: ErrBroken, wantTemp: true,
			script: loggedIn("C: RETR 1", "R: +OK\r\nA: b\r\n\r\nx\r\n.\r\n+OK\r\n"),
			run: thenDele(func(ctx context.Context, c *Client) error {
				rc, err := c.Retr(ctx, 1)
				if err != nil {
					return err
				}
				// The body was framed right: it is passed on whole, and
				// only the next command fails.
				got, err := io.ReadAll(rc)
				if string(got) != "A: b\r\n\r\nx\r\n" {
					t.Errorf("got body %q", got)
				}
				if err != nil {
					return err
				}
				return rc.Close()
			}),
			wantText: "after the reply to RETR"},
		{name: "DrainedBodyThenJunk", wantIs: ErrProtocol, wantTemp: true,
			script: loggedIn("C: RETR 1", "R: +OK\r\nA: b\r\n\r\nx\r\n.\r\njunk\r\n"),
			run: thenDele(func(ctx context.Context, c *Client) error {
				rc, err := c.Retr(ctx, 1)
				if err != nil {
					return err
				}
				return rc.Close() // drains to the terminator, then sees the junk
			}),
			wantText: "after the reply to RETR"},
		{name: "QuitThenMore", script: loggedIn("C: QUIT", "R: +OK bye\r\n+OK more\r\n"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error { return c.Quit(ctx) })
			}},
		{name: "IdleBetweenCommands", script: loggedIn("C: NOOP", "S: +OK", "C: NOOP", "S: +OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					if err := c.Noop(ctx); err != nil {
						return err
					}
					time.Sleep(20 * time.Millisecond)
					return c.Noop(ctx)
				})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}
