package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const testPassword = "s3cret-pw"

// hello is a greeting and a CAPA answer over a plain connection.
var hello = []string{
	"S: +OK POP3 ready",
	"C: CAPA",
	"S: +OK capabilities follow",
	"S: USER",
	"S: UIDL",
	"S: .",
}

var loginOK = []string{
	"C: USER bob",
	"S: +OK",
	"C: PASS " + testPassword,
	"S: +OK logged in",
}

func script(parts ...[]string) []string { return slices.Concat(parts...) }

func plainConfig() Config {
	return Config{Addr: "localhost:110", TLS: TLSNone, AllowInsecure: true, Timeout: 2 * time.Second}
}

func login(ctx context.Context, c *Client) error {
	return c.Login(ctx, "bob", testPassword, AuthUser)
}

// convTest is one scripted conversation with one fault.
type convTest struct {
	name     string
	cfg      Config // plainConfig() if Addr is ""
	script   []string
	run      func(ctx context.Context, t *testing.T, c *Client) error // after Dial; nil: Dial only
	wantIs   error                                                    // nil: no error wanted
	wantCode string                                                   // if set, err must be an *Error with this Code
	wantAuth bool                                                     // *Error.IsAuth, checked when wantCode or wantCmd is set
	wantCmd  string                                                   // if set, err must be an *Error for this command
	wantTemp bool                                                     // IsTemporary(err)
	wantText string                                                   // if set, in err's text
}

func runConv(t *testing.T, tc convTest) {
	t.Helper()
	srv, conn := startServer(t, tc.script)
	cfg := tc.cfg
	if cfg.Addr == "" {
		cfg = plainConfig()
	}
	cfg.DialContext = pipeDialer(conn)
	var trace []string
	cfg.Trace = func(dir, line string) { trace = append(trace, dir+": "+line) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := Dial(ctx, cfg)
	if err == nil && tc.run != nil {
		err = tc.run(ctx, t, c)
	}
	if c != nil {
		c.Close()
	} else {
		conn.Close()
	}
	srv.finish(t)

	switch {
	case tc.wantIs == nil && tc.wantCode == "" && tc.wantCmd == "":
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
	case err == nil:
		t.Fatalf("got no error, want %v", tc.wantIs)
	case tc.wantIs != nil && tc.wantIs != errAny && !errors.Is(err, tc.wantIs):
		t.Errorf("got error %q, want errors.Is %q", err, tc.wantIs)
	}
	if tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)) {
		t.Errorf("got error %v, want one saying %q", err, tc.wantText)
	}
	if err != nil {
		if got := IsTemporary(err); got != tc.wantTemp {
			t.Errorf("IsTemporary(%q) = %v, want %v", err, got, tc.wantTemp)
		}
		if strings.Contains(err.Error(), testPassword) {
			t.Errorf("error %q contains the password", err)
		}
	}
	if tc.wantCode != "" || tc.wantCmd != "" {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("got error %q (%T), want an *Error", err, err)
		}
		if pe.Code != tc.wantCode {
			t.Errorf("got code %q, want %q", pe.Code, tc.wantCode)
		}
		if tc.wantCmd != "" && pe.Command != tc.wantCmd {
			t.Errorf("got command %q, want %q", pe.Command, tc.wantCmd)
		}
		if pe.IsAuth() != tc.wantAuth {
			t.Errorf("IsAuth() = %v, want %v", pe.IsAuth(), tc.wantAuth)
		}
	}
	for _, l := range trace {
		if strings.Contains(l, testPassword) {
			t.Errorf("trace line %q contains the password", l)
		}
	}
}

func TestConversation_Connect(t *testing.T) {
	tests := []convTest{
		{
			name:     "GreetingErr",
			script:   []string{"S: -ERR [SYS/TEMP] too busy"},
			wantCode: "SYS/TEMP", wantCmd: "greeting", wantTemp: true,
		},
		{
			name:   "GreetingGarbage",
			script: []string{"S: * OK IMAP4rev1 ready"},
			wantIs: ErrProtocol, wantTemp: true,
		},
		{
			name: "CapaErrFallback",
			script: script([]string{"S: +OK hi", "C: CAPA", "S: -ERR what?"}, loginOK,
				[]string{"C: UIDL", "S: +OK", "S: 1 abc", "S: .", "C: QUIT", "S: +OK bye"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if caps := c.Capabilities(); caps != nil {
					t.Errorf("got capabilities %v, want nil", caps)
				}
				if err := login(ctx, c); err != nil {
					return err
				}
				msgs, err := c.UIDL(ctx)
				if err != nil {
					return err
				}
				if len(msgs) != 1 || msgs[0].UID != "abc" {
					t.Errorf("got %+v, want one message abc", msgs)
				}
				return c.Quit(ctx)
			},
		},
		{
			name:   "EndlessGreeting",
			script: []string{"~R: +OK " + strings.Repeat("x", 100<<10)},
			wantIs: ErrLineTooLong, wantTemp: false,
		},
		{
			name: "InsecureSkipVerifyRefused",
			cfg: Config{Addr: "localhost:995", Timeout: time.Second,
				TLSConfig: insecureTLSConfig()},
			wantIs: ErrInsecure,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}

func TestConversation_Login(t *testing.T) {
	authErr := func(reply string) []string {
		return script(hello, []string{"C: USER bob", "S: +OK", "C: PASS " + testPassword, "S: " + reply})
	}
	tests := []convTest{
		{name: "OK", script: script(hello, loginOK, []string{"C: STAT", "S: +OK 2 320"}),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if err := login(ctx, c); err != nil {
					return err
				}
				n, size, err := c.Stat(ctx)
				if n != 2 || size != 320 {
					t.Errorf("got stat %d %d, want 2 320", n, size)
				}
				return err
			}},
		{name: "WrongPassword", script: authErr("-ERR [AUTH] invalid credentials"), run: loginRun,
			wantCode: "AUTH", wantCmd: "PASS", wantAuth: true, wantTemp: false},
		{name: "WrongPasswordNoCode", script: authErr("-ERR invalid credentials"), run: loginRun,
			wantCmd: "PASS", wantAuth: true, wantTemp: true},
		{name: "InUse", script: authErr("-ERR [IN-USE] maildrop locked"), run: loginRun,
			wantCode: "IN-USE", wantCmd: "PASS", wantTemp: true},
		{name: "LoginDelay", script: authErr("-ERR [LOGIN-DELAY] wait 5 minutes"), run: loginRun,
			wantCode: "LOGIN-DELAY", wantCmd: "PASS", wantTemp: true},
		{name: "SysTemp", script: authErr("-err [sys/temp] disk full"), run: loginRun,
			wantCode: "SYS/TEMP", wantCmd: "PASS", wantTemp: true},
		{name: "SysPerm", script: authErr("-ERR [SYS/PERM] account disabled"), run: loginRun,
			wantCode: "SYS/PERM", wantCmd: "PASS", wantAuth: true, wantTemp: false},
		{name: "PasswordEchoed", script: authErr("-ERR bad password " + testPassword), run: loginRun,
			wantCmd: "PASS", wantAuth: true, wantTemp: true},
		{name: "UserErrStopsBeforePass", script: script(hello, []string{"C: USER bob", "S: -ERR no such user"}),
			run: loginRun, wantCmd: "USER", wantTemp: true},
		{name: "InsecureRefused", cfg: Config{Addr: "localhost:110", TLS: TLSNone, Timeout: time.Second},
			script: hello, run: loginRun, wantIs: ErrInsecure},
		{name: "APOPInsecureRefused", cfg: Config{Addr: "localhost:110", TLS: TLSNone, Timeout: time.Second},
			script: apopHello, run: apopRun, wantIs: ErrInsecure},
		{name: "APOP", script: script(apopHello, []string{"C: APOP mrose c4c9334bac560ecc979e58001b3e22fb", "S: +OK maildrop has 1 message"}),
			run: apopRun},
		{name: "APOPRejectedNoFallback", script: script(apopHello, []string{"C: APOP mrose c4c9334bac560ecc979e58001b3e22fb", "S: -ERR [AUTH] no"}),
			run: apopRun, wantCode: "AUTH", wantCmd: "APOP", wantAuth: true},
		{name: "APOPWithoutTimestamp", script: hello, wantIs: ErrAPOPUnavailable,
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return c.Login(ctx, "bob", testPassword, AuthAPOP)
			}},
		{name: "CRLFInUser", script: script(hello, loginOK),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				err := c.Login(ctx, "bob\r\nDELE 1", testPassword, AuthUser)
				if !errors.Is(err, ErrInvalidArgument) {
					t.Errorf("got %v, want ErrInvalidArgument", err)
				}
				return login(ctx, c) // still usable
			}},
		{name: "CRInPassword", script: hello, wantIs: ErrInvalidArgument,
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return c.Login(ctx, "bob", testPassword+"\r", AuthUser)
			}},
		{name: "NULInPassword", script: hello, wantIs: ErrInvalidArgument,
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return c.Login(ctx, "bob", "a\x00b", AuthUser)
			}},
		{name: "CommandTooLong", script: hello, wantIs: ErrInvalidArgument,
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return c.Login(ctx, strings.Repeat("u", 250), testPassword, AuthUser)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runConv(t, tc) })
	}
}

var apopHello = []string{
	"S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
	"C: CAPA",
	"S: -ERR",
}

func loginRun(ctx context.Context, t *testing.T, c *Client) error { return login(ctx, c) }

func apopRun(ctx context.Context, t *testing.T, c *Client) error {
	return c.Login(ctx, "mrose", "tanstaaf", AuthAuto)
}

func insecureTLSConfig() *tls.Config {
	c := clientTLSConfig()
	c.InsecureSkipVerify = true
	return c
}
