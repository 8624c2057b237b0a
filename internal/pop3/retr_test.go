package pop3

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConversation_Retr(t *testing.T) {
	loggedIn := func(steps ...string) []string { return script(hello, loginOK, steps) }
	const wire = "Subject: hi\r\n\r\n..leading dot\r\n.\n.not end\r\n..\r\nlast\r\n.\r\n"
	const body = "Subject: hi\r\n\r\n.leading dot\r\n\n.not end\r\n.\r\nlast\r\n"
	tests := []convTest{
		{name: "Body", script: loggedIn("C: RETR 1", "R: +OK 60 octets\r\n"+wire, "C: DELE 1", "S: +OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					got, err := io.ReadAll(rc)
					if err != nil {
						return err
					}
					if string(got) != body {
						t.Errorf("got %q, want %q", got, body)
					}
					if err := rc.Close(); err != nil {
						return err
					}
					return c.Dele(ctx, 1)
				})
			}},
		{name: "CloseDrains", script: loggedIn("C: RETR 1", "R: +OK\r\n"+wire, "C: DELE 1", "S: +OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					buf := make([]byte, 3)
					if _, err := io.ReadFull(rc, buf); err != nil {
						return err
					}
					if err := rc.Close(); err != nil {
						return err
					}
					return c.Dele(ctx, 1)
				})
			}},
		{name: "NextCommandDrains", script: loggedIn("C: RETR 1", "R: +OK\r\n"+wire, "C: DELE 1", "S: +OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					if _, err := c.Retr(ctx, 1); err != nil {
						return err
					}
					return c.Dele(ctx, 1) // body never read nor closed
				})
			}},
		{name: "RetrErr", wantCmd: "RETR", wantTemp: true, script: loggedIn("C: RETR 7", "S: -ERR no such message"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					_, err := c.Retr(ctx, 7)
					return err
				})
			}},
		{name: "DroppedMidBody", wantIs: io.ErrUnexpectedEOF, wantTemp: true,
			script: loggedIn("C: RETR 1", "R: +OK\r\npartial\r\nbo", "DROP"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					_, err = io.ReadAll(rc)
					if err2 := c.Dele(ctx, 1); !errors.Is(err2, ErrBroken) {
						t.Errorf("after drop: got %v, want ErrBroken", err2)
					}
					return err
				})
			}},
		{name: "TooLarge", cfg: withMaxSize(10), wantIs: ErrMessageTooLarge,
			script: loggedIn("C: RETR 1", "R: +OK\r\n"+wire, "C: DELE 2", "S: +OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					got, err := io.ReadAll(rc)
					if string(got) != body[:10] {
						t.Errorf("got %q before the error, want %q", got, body[:10])
					}
					// The cap protects memory; Close drains the rest
					// uncapped so the next message can be fetched.
					if err2 := rc.Close(); err2 != nil {
						t.Errorf("close: got %v, want the rest drained", err2)
					}
					if err2 := c.Dele(ctx, 2); err2 != nil {
						t.Errorf("dele after an oversized body: %v", err2)
					}
					return err
				})
			}},
		{name: "DrainTimeout", cfg: withTimeout(100 * time.Millisecond), wantIs: ErrBroken, wantTemp: true,
			script: loggedIn("C: RETR 1", "R: +OK\r\nsome body\r\n", "HANG"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					err = rc.Close()
					if !errors.Is(err, ErrBroken) || !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("got %v, want ErrBroken from a timeout", err)
					}
					return c.Dele(ctx, 1)
				})
			}},
		{name: "CancelDuringBody", wantIs: context.Canceled, wantTemp: true,
			script: loggedIn("C: RETR 1", "R: +OK\r\nsome body\r\n", "HANG"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return loginThen(ctx, c, func(ctx context.Context, c *Client) error {
					ctx, cancel := context.WithCancel(ctx)
					defer cancel()
					rc, err := c.Retr(ctx, 1)
					if err != nil {
						return err
					}
					time.AfterFunc(50*time.Millisecond, cancel)
					_, err = io.ReadAll(rc)
					return err
				})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}

func withMaxSize(n int64) Config {
	cfg := plainConfig()
	cfg.MaxMessageSize = n
	return cfg
}

func withTimeout(d time.Duration) Config {
	cfg := plainConfig()
	cfg.Timeout = d
	return cfg
}

func TestTrace_Redacted(t *testing.T) {
	srv, conn := startServer(t, script(apopHello,
		[]string{"C: APOP mrose c4c9334bac560ecc979e58001b3e22fb", "S: +OK", "C: RETR 1", "R: +OK\r\nsecret body\r\n.\r\n", "C: QUIT", "S: +OK"}))
	var trace []string
	cfg := plainConfig()
	cfg.DialContext = pipeDialer(conn)
	cfg.Trace = func(dir, line string) { trace = append(trace, dir+": "+line) }
	ctx := context.Background()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "mrose", "tanstaaf", AuthAuto); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	srv.finish(t)
	got := strings.Join(trace, "\n")
	want := strings.Join([]string{
		"S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
		"C: CAPA", "S: -ERR",
		"C: APOP mrose <redacted>", "S: +OK",
		"C: RETR 1", "S: +OK",
		"C: QUIT", "S: +OK",
	}, "\n")
	if got != want {
		t.Errorf("got trace\n%s\nwant\n%s", got, want)
	}
}
