package pop3

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchd/internal/pop3/pop3test"
)

var allMechs = []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER"}

// fakeLogin dials srv over implicit TLS and logs in with m, recording the
// trace. It returns the login error; the client is closed.
func fakeLogin(t *testing.T, srv *pop3test.Server, user, secret string, m AuthMethod) (err error, trace []string) {
	t.Helper()
	var mu sync.Mutex
	cfg := Config{Addr: srv.Start(), TLS: TLSImplicit, TLSConfig: srv.ClientTLSConfig(), Timeout: 5 * time.Second,
		Trace: func(dir, line string) {
			mu.Lock()
			defer mu.Unlock()
			trace = append(trace, dir+": "+line)
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if err = c.Login(ctx, user, secret, m); err == nil {
		if _, _, err := c.Stat(ctx); err != nil {
			t.Errorf("stat after login: %v", err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Errorf("quit: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return err, slices.Clone(trace)
}

// authLines returns the commands that try credentials.
func authLines(cmds []string) []string {
	var out []string
	for _, l := range cmds {
		verb, _, _ := strings.Cut(l, " ")
		if v := strings.ToUpper(verb); v == "AUTH" || v == "USER" || v == "PASS" || v == "APOP" {
			out = append(out, l)
		}
	}
	return out
}

func noSecrets(t *testing.T, err error, trace []string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error %q shows a secret", err)
		}
		for _, l := range trace {
			if strings.Contains(l, s) {
				t.Errorf("trace line %q shows a secret", l)
			}
		}
	}
}

// Every mechanism against the fake server's own implementation, right and
// wrong password: one AUTH, never a second attempt.
func TestSASLFake_Mechanisms(t *testing.T) {
	for _, mech := range allMechs {
		m, _ := ParseAuthMethod(strings.ToLower(mech))
		t.Run(mech, func(t *testing.T) {
			srv := pop3test.NewServer(t)
			srv.Mode = pop3test.ImplicitTLS
			srv.SASL = allMechs
			srv.Password = testPassword
			err, trace := fakeLogin(t, srv, "user", testPassword, m)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			noSecrets(t, err, trace, testPassword)
			got := authLines(srv.Commands())
			if len(got) != 1 || !strings.HasPrefix(got[0], "AUTH "+mech) {
				t.Errorf("got credential commands %q, want one AUTH %s", got, mech)
			}

			err, trace = fakeLogin(t, srv, "user", "wrong-"+testPassword, m)
			var pe *Error
			if !errors.As(err, &pe) || pe.Command != "AUTH" || !pe.IsAuth() || IsTemporary(err) {
				t.Fatalf("wrong password: got %v, want a permanent *Error for AUTH with IsAuth", err)
			}
			noSecrets(t, err, trace, testPassword)
			if got := authLines(srv.Commands()); len(got) != 2 {
				t.Errorf("got credential commands %q, want one AUTH per session", got)
			}
		})
	}
}

func TestSASLFake_AutoPicksStrongest(t *testing.T) {
	tests := []struct {
		offered []string
		want    string
	}{
		{allMechs, "AUTH SCRAM-SHA-256 "},
		{[]string{"PLAIN", "LOGIN", "SCRAM-SHA-1", "XOAUTH2"}, "AUTH SCRAM-SHA-1 "},
		{[]string{"PLAIN", "CRAM-MD5"}, "AUTH CRAM-MD5"},
		{[]string{"LOGIN", "PLAIN"}, "AUTH PLAIN "},
		{[]string{"XOAUTH2", "OAUTHBEARER"}, "USER user"},
		{nil, "USER user"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.offered, "+"), func(t *testing.T) {
			srv := pop3test.NewServer(t)
			srv.Mode = pop3test.ImplicitTLS
			srv.SASL = tc.offered
			srv.Password = testPassword
			if err, _ := fakeLogin(t, srv, "user", testPassword, AuthAuto); err != nil {
				t.Fatalf("login: %v", err)
			}
			if got := authLines(srv.Commands()); len(got) == 0 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got %q, want %q first", got, tc.want)
			}
			// Rejected: nothing else is tried.
			err, _ := fakeLogin(t, srv, "user", "wrong", AuthAuto)
			var pe *Error
			if !errors.As(err, &pe) || !pe.IsAuth() {
				t.Fatalf("wrong password: got %v, want an *Error with IsAuth", err)
			}
			got := authLines(srv.Commands())
			wantLines := 2 // one AUTH per session; USER/PASS are two lines
			if strings.HasPrefix(tc.want, "USER") {
				wantLines = 4
			}
			if len(got) != wantLines {
				t.Errorf("got credential commands %q over two sessions, want %d", got, wantLines)
			}
		})
	}
}

// Without TLS (allowed), a server with RequireTLSForLogin hides PLAIN and
// LOGIN, as Dovecot's disable_plaintext_auth does; auto still finds SCRAM.
func TestSASLFake_PlaintextHiddenWithoutTLS(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.SASL = []string{"PLAIN", "LOGIN", "SCRAM-SHA-256"}
	srv.RequireTLSForLogin = true
	cfg := Config{Addr: srv.Start(), TLS: TLSNone, AllowInsecure: true, Timeout: 5 * time.Second}
	ctx := context.Background()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Capabilities().SASL(); !slices.Equal(got, []string{"SCRAM-SHA-256"}) {
		t.Errorf("CAPA SASL %q, want only SCRAM-SHA-256", got)
	}
	if got := c.AuthChoice(AuthAuto); got != AuthSCRAMSHA256 {
		t.Errorf("AuthChoice = %v", got)
	}
	if err := c.Login(ctx, "user", "pass", AuthPlain); !errors.Is(err, ErrAuthUnavailable) {
		t.Errorf("explicit PLAIN: got %v, want ErrAuthUnavailable", err)
	}
	if err := c.Login(ctx, "user", "pass", AuthAuto); err != nil {
		t.Errorf("auto: %v", err)
	}
	if got := authLines(srv.Commands()); len(got) != 1 || !strings.HasPrefix(got[0], "AUTH SCRAM-SHA-256 ") {
		t.Errorf("got %q", got)
	}
}

// An explicit mechanism the server does not list costs no credential.
func TestSASLFake_NotOfferedNothingSent(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Mode = pop3test.ImplicitTLS
	srv.SASL = []string{"PLAIN"}
	for _, m := range []AuthMethod{AuthCRAMMD5, AuthSCRAMSHA256, AuthXOAUTH2, AuthOAuthBearer, AuthLogin} {
		err, _ := fakeLogin(t, srv, "user", "pass", m)
		if !errors.Is(err, ErrAuthUnavailable) || !strings.Contains(err.Error(), "SASL PLAIN") {
			t.Errorf("%v: got %v, want ErrAuthUnavailable naming what the server offers", m, err)
		}
	}
	if got := authLines(srv.Commands()); len(got) != 0 {
		t.Errorf("credentials sent: %q", got)
	}
}

// OAuth2 tokens judged by ValidToken; Microsoft-sized tokens go in two
// steps; a refused token gets the error challenge and an [AUTH] -ERR.
func TestSASLFake_OAuth(t *testing.T) {
	long := "eyJ0eXAi." + strings.Repeat("A", 2400)
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		m, _ := ParseAuthMethod(strings.ToLower(mech))
		t.Run(mech, func(t *testing.T) {
			srv := pop3test.NewServer(t)
			srv.Mode = pop3test.ImplicitTLS
			srv.SASL = []string{mech}
			srv.AnyUser = true
			srv.ValidToken = func(user, token string) bool { return token == "tok-"+user || token == long }
			if err, _ := fakeLogin(t, srv, "alice@example.com", "tok-alice@example.com", m); err != nil {
				t.Fatalf("short token: %v", err)
			}
			err, trace := fakeLogin(t, srv, "bob@example.com", long, m)
			if err != nil {
				t.Fatalf("long token: %v", err)
			}
			noSecrets(t, err, trace, long[:40])
			cmds := srv.Commands()
			if !slices.Contains(cmds, "AUTH "+mech) {
				t.Errorf("the long token did not go in two steps: %q", cmds)
			}
			err, trace = fakeLogin(t, srv, "carol", "tok-bob", m)
			var pe *Error
			if !errors.As(err, &pe) || !pe.IsAuth() || !strings.Contains(err.Error(), "status ") {
				t.Fatalf("refused token: got %v, want an *Error with IsAuth and the JSON status", err)
			}
			noSecrets(t, err, trace, "tok-bob")
			// The client acknowledged the error challenge as the mechanism says.
			ack := map[string]string{"XOAUTH2": "", "OAUTHBEARER": "AQ=="}[mech]
			if cmds := srv.Commands(); cmds[len(cmds)-1] != ack {
				t.Errorf("last line sent %q, want %q", cmds[len(cmds)-1], ack)
			}
		})
	}
}

// One hostile server per case: the client refuses, cancels where it can,
// and never logs in on a server that failed to prove itself.
func TestSASLFake_Hostile(t *testing.T) {
	tests := []struct {
		name   string
		mech   string
		faults pop3test.SASLFaults
		wantIs error
		// cancel: the client sent "*"
		cancel bool
	}{
		{"BadServerSignature", "SCRAM-SHA-256", pop3test.SASLFaults{SCRAMBadSignature: true}, ErrServerAuth, true},
		{"BadServerSignatureSHA1", "SCRAM-SHA-1", pop3test.SASLFaults{SCRAMBadSignature: true}, ErrServerAuth, true},
		{"NoServerFinal", "SCRAM-SHA-256", pop3test.SASLFaults{SCRAMNoServerFinal: true}, ErrServerAuth, false},
		{"ForeignNonce", "SCRAM-SHA-256", pop3test.SASLFaults{SCRAMForeignNonce: true}, ErrProtocol, true},
		{"IterationsOverCap", "SCRAM-SHA-256", pop3test.SASLFaults{SCRAMIterations: 5_000_000}, ErrProtocol, true},
		{"IterationsNegative", "SCRAM-SHA-1", pop3test.SASLFaults{SCRAMIterations: -1}, ErrProtocol, true},
		{"BadChallenge", "CRAM-MD5", pop3test.SASLFaults{Challenge: "+ not*base64"}, ErrProtocol, true},
		{"InjectedOK", "CRAM-MD5", pop3test.SASLFaults{Challenge: "+ PDE+\r\n+OK"}, ErrProtocol, false},
		{"Endless", "LOGIN", pop3test.SASLFaults{EndlessChallenges: true}, ErrProtocol, true},
		{"EndlessPLAIN", "PLAIN", pop3test.SASLFaults{EndlessChallenges: true}, ErrProtocol, true},
		{"AcceptsCancel", "CRAM-MD5", pop3test.SASLFaults{Challenge: "+ !", AcceptCancel: true}, ErrProtocol, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := pop3test.NewServer(t)
			srv.Mode = pop3test.ImplicitTLS
			srv.SASL = []string{tc.mech}
			srv.Password = testPassword
			srv.Faults = pop3test.Faults{SASL: tc.faults}
			m, _ := ParseAuthMethod(strings.ToLower(tc.mech))
			err, trace := fakeLogin(t, srv, "user", testPassword, m)
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("got %v, want %v", err, tc.wantIs)
			}
			noSecrets(t, err, trace, testPassword)
			if got := slices.Contains(srv.Commands(), "*"); got != tc.cancel {
				t.Errorf("cancelled: %v, want %v (%q)", got, tc.cancel, srv.Commands())
			}
			if got := authLines(srv.Commands()); len(got) != 1 {
				t.Errorf("got credential commands %q, want one AUTH", got)
			}
		})
	}
}

func TestSASLFake_SCRAMErrorIsAuth(t *testing.T) {
	srv := pop3test.NewServer(t)
	srv.Mode = pop3test.ImplicitTLS
	srv.SASL = []string{"SCRAM-SHA-256"}
	srv.Faults = pop3test.Faults{SASL: pop3test.SASLFaults{SCRAMError: "other-error"}}
	err, _ := fakeLogin(t, srv, "user", "pass", AuthSCRAMSHA256)
	var pe *Error
	if !errors.As(err, &pe) || !pe.IsAuth() || !strings.Contains(err.Error(), `"other-error"`) {
		t.Fatalf("got %v, want an *Error with IsAuth naming the SCRAM error", err)
	}
}
