package pop3

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// seq is base followed by steps, in a new slice: scripts built from one
// base must not share its backing array.
func seq(base []string, steps ...string) []string { return slices.Concat(base, steps) }

// seqOK is seq, then a STAT answered: loginStat's script.
func seqOK(base []string, steps ...string) []string { return slices.Concat(base, steps, statOK) }

// saslHello is a greeting and a CAPA answer listing mechs ("" for no SASL
// line).
func saslHello(mechs string) []string {
	h := []string{"S: +OK POP3 ready", "C: CAPA", "S: +OK capabilities follow", "S: USER"}
	if mechs != "" {
		h = append(h, "S: SASL "+mechs)
	}
	return append(h, "S: .")
}

// saslCase is one scripted AUTH conversation.
type saslCase struct {
	name   string
	cfg    Config // plainConfig() if Addr is ""
	script []string
	run    func(ctx context.Context, t *testing.T, c *Client) error
	// oauth: the challenges are OAuth errors and may be traced; otherwise
	// a challenge, as a response, must not show in Trace.
	oauth bool
	// usable: after run the client must still work: the runner sends QUIT
	// (appended to the script) and checks its +OK.
	usable   bool
	wantIs   error
	wantCmd  string // if set, err must be an *Error for this command
	wantCode string
	wantAuth bool // *Error.IsAuth, checked when wantCmd is set
	wantTemp bool
	// anyTemp: IsTemporary is not checked. errors.go classifies; for
	// ErrAuthUnavailable and ErrServerAuth it has no opinion yet.
	anyTemp  bool
	wantText string
	secrets  []string // besides testPassword and what the script shows
}

// wireSecrets returns what of a script must never show in Trace or an
// error: the base64 the client sends (responses, initial responses) and,
// unless oauth, the challenges.
func wireSecrets(script []string, oauth bool) []string {
	var out []string
	for _, step := range script {
		step = strings.TrimPrefix(step, "~")
		var text string
		switch {
		case strings.HasPrefix(step, "C: "):
			text = step[3:]
		case strings.HasPrefix(step, "S: + ") && !oauth:
			text = step[5:]
		default:
			continue
		}
		for _, f := range strings.Fields(text) {
			if len(f) >= 6 && strings.Trim(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

func runSASL(t *testing.T, tc saslCase) {
	t.Helper()
	if tc.usable {
		tc.script = seq(tc.script, "C: QUIT", "S: +OK bye")
	}
	srv, conn := startServer(t, tc.script)
	cfg := tc.cfg
	if cfg.Addr == "" {
		cfg = plainConfig()
	}
	cfg.DialContext = pipeDialer(conn)
	var mu sync.Mutex
	var trace []string
	cfg.Trace = func(dir, line string) {
		mu.Lock()
		defer mu.Unlock()
		trace = append(trace, dir+": "+line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		conn.Close()
		srv.finish(t)
		t.Fatalf("dial: %v", err)
	}
	err = tc.run(ctx, t, c)
	if tc.usable {
		if qerr := c.Quit(ctx); qerr != nil {
			t.Errorf("QUIT after the login: %v", qerr)
		}
	}
	c.Close()
	srv.finish(t)

	switch {
	case tc.wantIs == nil && tc.wantCmd == "":
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
	case err == nil:
		t.Fatalf("got no error, want %v %s", tc.wantIs, tc.wantCmd)
	case tc.wantIs != nil && tc.wantIs != errAny && !errors.Is(err, tc.wantIs):
		t.Errorf("got error %q, want errors.Is %q", err, tc.wantIs)
	}
	if tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)) {
		t.Errorf("got error %v, want one saying %q", err, tc.wantText)
	}
	if err != nil && !tc.anyTemp && IsTemporary(err) != tc.wantTemp {
		t.Errorf("IsTemporary(%q) = %v, want %v", err, !tc.wantTemp, tc.wantTemp)
	}
	if tc.wantCmd != "" {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("got error %q (%T), want an *Error", err, err)
		}
		if pe.Command != tc.wantCmd || pe.Code != tc.wantCode || pe.IsAuth() != tc.wantAuth {
			t.Errorf("got *Error %q %q IsAuth %v, want %q %q %v", pe.Command, pe.Code, pe.IsAuth(), tc.wantCmd, tc.wantCode, tc.wantAuth)
		}
	}
	secrets := slices.Concat([]string{testPassword}, tc.secrets, wireSecrets(tc.script, tc.oauth))
	mu.Lock()
	defer mu.Unlock()
	for _, s := range secrets {
		for _, l := range trace {
			if strings.Contains(l, s) {
				t.Errorf("trace line %q shows %q", l, s)
			}
		}
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error %q shows %q", err, s)
		}
	}
}

// loginStat logs in with m and checks the session is in TRANSACTION.
func loginStat(user, secret string, m AuthMethod) func(ctx context.Context, t *testing.T, c *Client) error {
	return func(ctx context.Context, t *testing.T, c *Client) error {
		if err := c.Login(ctx, user, secret, m); err != nil {
			return err
		}
		_, _, err := c.Stat(ctx)
		return err
	}
}

var statOK = []string{"C: STAT", "S: +OK 0 0"}

// thenBroken runs fn and checks the client refuses further commands.
func thenBroken(fn func(ctx context.Context, t *testing.T, c *Client) error) func(ctx context.Context, t *testing.T, c *Client) error {
	return func(ctx context.Context, t *testing.T, c *Client) error {
		err := fn(ctx, t, c)
		if _, _, serr := c.Stat(ctx); !errors.Is(serr, ErrBroken) {
			t.Errorf("after the login: got %v, want ErrBroken", serr)
		}
		return err
	}
}

const cramChallenge = "<1896.697170952@postoffice.example>"

func TestSASL_PasswordMechanisms(t *testing.T) {
	longPW := testPassword + strings.Repeat("p", 200)
	tests := []saslCase{
		{name: "PLAIN/InitialResponse",
			script: seqOK(saslHello("PLAIN"), "C: AUTH PLAIN "+b64("\x00bob\x00"+testPassword), "S: +OK logged in"),
			run:    loginStat("bob", testPassword, AuthPlain)},
		{name: "PLAIN/TooLongForTheLine",
			script: seqOK(saslHello("PLAIN"), "C: AUTH PLAIN", "S: + ", "C: "+b64("\x00bob\x00"+longPW), "S: +OK"),
			run:    loginStat("bob", longPW, AuthPlain), secrets: []string{longPW}},
		{name: "PLAIN/BarePlusChallenge",
			script: seqOK(saslHello("PLAIN"), "C: AUTH PLAIN", "S: +", "C: "+b64("\x00bob\x00"+longPW), "S: +OK"),
			run:    loginStat("bob", longPW, AuthPlain), secrets: []string{longPW}},
		{name: "PLAIN/Rejected",
			script: seq(saslHello("PLAIN"), "C: AUTH PLAIN "+b64("\x00bob\x00"+testPassword), "S: -ERR [AUTH] Authentication failed."),
			run:    loginStat("bob", testPassword, AuthPlain), wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true},
		{name: "PLAIN/NULRefused", script: saslHello("PLAIN"),
			run: loginStat("bob", "a\x00b", AuthPlain), wantIs: ErrInvalidArgument},
		{name: "LOGIN/UserAsInitialResponse",
			script: seqOK(saslHello("LOGIN"), "C: AUTH LOGIN "+b64("bob"), "S: + "+b64("Password:"), "C: "+b64(testPassword), "S: +OK"),
			run:    loginStat("bob", testPassword, AuthLogin)},
		{name: "LOGIN/EmptyInitialResponse",
			script: seqOK(saslHello("LOGIN"), "C: AUTH LOGIN =", "S: + "+b64("Password:"), "C: "+b64(testPassword), "S: +OK"),
			run:    loginStat("", testPassword, AuthLogin)},
		{name: "LOGIN/AsksForUserAnyway",
			script: seqOK(saslHello("LOGIN"), "C: AUTH LOGIN "+b64("bob"), "S: + "+b64("Username:"), "C: "+b64("bob"),
				"S: + "+b64("password"), "C: "+b64(testPassword), "S: +OK"),
			run: loginStat("bob", testPassword, AuthLogin)},
		{name: "LOGIN/StrangePrompt",
			script: seq(saslHello("LOGIN"), "C: AUTH LOGIN "+b64("bob"), "S: + "+b64("Secret word?"), "C: *", "S: -ERR cancelled"),
			run:    loginStat("bob", testPassword, AuthLogin), usable: true, wantIs: ErrProtocol, wantTemp: true},
		{name: "CRAM-MD5/OK",
			script: seqOK(saslHello("CRAM-MD5"), "C: AUTH CRAM-MD5", "S: + "+b64(cramChallenge),
				"C: "+b64("bob "+cramDigest(testPassword, []byte(cramChallenge))), "S: +OK"),
			run: loginStat("bob", testPassword, AuthCRAMMD5)},
		{name: "CRAM-MD5/ErrAtCommand",
			script: seq(saslHello("CRAM-MD5"), "C: AUTH CRAM-MD5", "S: -ERR [SYS/TEMP] try later"),
			run:    loginStat("bob", testPassword, AuthCRAMMD5), wantCmd: "AUTH", wantCode: "SYS/TEMP", wantTemp: true},
		{name: "CRAM-MD5/ErrAfterResponse",
			script: seq(saslHello("CRAM-MD5"), "C: AUTH CRAM-MD5", "S: + "+b64(cramChallenge),
				"C: "+b64("bob "+cramDigest(testPassword, []byte(cramChallenge))), "S: -ERR [AUTH] wrong"),
			run: loginStat("bob", testPassword, AuthCRAMMD5), usable: true, wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true},
		{name: "CRAM-MD5/ErrEchoesPassword",
			script: seq(saslHello("CRAM-MD5"), "C: AUTH CRAM-MD5", "S: -ERR [AUTH] no such password "+testPassword),
			run:    loginStat("bob", testPassword, AuthCRAMMD5), wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true},
		{name: "CRAM-MD5/EmptyChallenge",
			script: seq(saslHello("CRAM-MD5"), "C: AUTH CRAM-MD5", "S: + ", "C: *", "S: -ERR"),
			run:    loginStat("bob", testPassword, AuthCRAMMD5), wantIs: ErrProtocol, wantTemp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSASL(t, tc) })
	}
}

// scramRun authenticates with a SCRAM client whose nonce is fixed (the
// RFC examples'), user "user", password "pencil".
func scramRun(v scramVector) func(ctx context.Context, t *testing.T, c *Client) error {
	return func(ctx context.Context, t *testing.T, c *Client) error {
		m, err := newSCRAMClient(v.method, "user", "pencil", v.clientNonce)
		if err != nil {
			t.Fatal(err)
		}
		return c.authenticate(m, true)
	}
}

func TestSASL_SCRAM(t *testing.T) {
	for _, v := range scramVectors {
		mech := map[AuthMethod]string{AuthSCRAMSHA1: "SCRAM-SHA-1", AuthSCRAMSHA256: "SCRAM-SHA-256"}[v.method]
		hello := saslHello(mech)
		first := "C: AUTH " + mech + " " + b64(v.clientFirst)
		upToFinal := seq(hello, first, "S: + "+b64(v.serverFirst), "C: "+b64(v.clientFinal))
		sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(v.serverFinal, "v="))
		sig[0] ^= 0x80
		badFinal := "v=" + base64.StdEncoding.EncodeToString(sig)
		foreign := "r=" + strings.Repeat("x", 30) + ",s=QSXCR+Q6sek8bf92,i=4096"
		cases := []saslCase{
			{name: "ServerFinalAsChallenge", // as Dovecot sends it
				script: seq(upToFinal, "S: + "+b64(v.serverFinal), "C: ", "S: +OK Logged in."),
				run:    scramRun(v)},
			{name: "BadServerSignatureRefused",
				script: seq(upToFinal, "S: + "+b64(badFinal), "C: *", "S: -ERR [AUTH] Authentication aborted"),
				run:    scramRun(v), usable: true, wantIs: ErrServerAuth, anyTemp: true},
			{name: "OKWithoutServerFinalRefused",
				script: seq(upToFinal, "S: +OK Logged in."),
				run:    thenBroken(scramRun(v)), wantIs: ErrServerAuth, anyTemp: true},
			{name: "ServerErrorInServerFinal",
				script: seq(upToFinal, "S: + "+b64("e=invalid-proof"), "C: ", "S: -ERR [AUTH] Authentication failed."),
				run:    scramRun(v), usable: true, wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true, wantText: "invalid-proof"},
			{name: "ServerErrorThenOKRefused",
				script: seq(upToFinal, "S: + "+b64("e=invalid-proof"), "C: ", "S: +OK"),
				run:    thenBroken(scramRun(v)), wantIs: ErrServerAuth, anyTemp: true},
			{name: "ServerErrorInServerFirst",
				script: seq(hello, first, "S: + "+b64("e=unknown-user"), "C: ", "S: -ERR [AUTH] Authentication failed."),
				run:    scramRun(v), wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true, wantText: "unknown-user"},
			{name: "ErrAtCommand",
				script: seq(hello, first, "S: -ERR [AUTH] Authentication failed."),
				run:    scramRun(v), wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true},
			{name: "ErrAfterClientFinal",
				script: seq(upToFinal, "S: -ERR [AUTH] Authentication failed."),
				run:    scramRun(v), usable: true, wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true},
			{name: "ErrAfterServerFinal",
				script: seq(upToFinal, "S: + "+b64(v.serverFinal), "C: ", "S: -ERR [SYS/TEMP] try again"),
				run:    scramRun(v), wantCmd: "AUTH", wantCode: "SYS/TEMP", wantTemp: true},
			{name: "ForeignNonce",
				script: seq(hello, first, "S: + "+b64(foreign), "C: *", "S: -ERR cancelled"),
				run:    scramRun(v), usable: true, wantIs: ErrProtocol, wantTemp: true, wantText: "nonce"},
			{name: "TooManyIterations",
				script: seq(hello, first, "S: + "+b64(strings.Replace(v.serverFirst, "i=4096", "i=1000001", 1)), "C: *", "S: -ERR cancelled"),
				run:    scramRun(v), wantIs: ErrProtocol, wantTemp: true, wantText: "iteration"},
			{name: "SecondServerFinal",
				script: seq(upToFinal, "S: + "+b64(v.serverFinal), "C: ", "S: + "+b64(v.serverFinal), "C: *", "S: -ERR"),
				run:    scramRun(v), wantIs: ErrProtocol, wantTemp: true},
		}
		for _, tc := range cases {
			tc.secrets = []string{"pencil"}
			t.Run(v.name+"/"+tc.name, func(t *testing.T) { runSASL(t, tc) })
		}
	}
}

func TestSASL_OAuth(t *testing.T) {
	token := testPassword + ".ya29.token"
	xo := func(user, tok string) string { return b64("user=" + user + "\x01auth=Bearer " + tok + "\x01\x01") }
	// "AUTH XOAUTH2 " and CRLF take 15 octets, leaving 240 of base64 for
	// 180 octets: user=bob ^A auth=Bearer TOKEN ^A ^A is 23 plus the token.
	tok157 := testPassword + strings.Repeat("t", 157-len(testPassword))
	tok158 := tok157 + "t"
	msToken := testPassword + strings.Repeat("M", 2000) // Microsoft's are ~2 KiB
	googleErr := `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`
	bearerIR := b64("n,a=bob,\x01host=localhost\x01port=110\x01auth=Bearer " + token + "\x01\x01")
	tests := []saslCase{
		{name: "XOAUTH2/InitialResponse",
			script: seqOK(saslHello("XOAUTH2"), "C: AUTH XOAUTH2 "+xo("bob", token), "S: +OK"),
			run:    loginStat("bob", token, AuthXOAUTH2)},
		{name: "XOAUTH2/Exactly255Octets",
			script: seqOK(saslHello("XOAUTH2"), "C: AUTH XOAUTH2 "+xo("bob", tok157), "S: +OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				if n := len("AUTH XOAUTH2 " + xo("bob", tok157) + "\r\n"); n != 255 {
					t.Fatalf("the line is %d octets, the test wants 255", n)
				}
				return loginStat("bob", tok157, AuthXOAUTH2)(ctx, t, c)
			}},
		{name: "XOAUTH2/256OctetsTwoSteps",
			script: seqOK(saslHello("XOAUTH2"), "C: AUTH XOAUTH2", "S: + ", "C: "+xo("bob", tok158), "S: +OK"),
			run:    loginStat("bob", tok158, AuthXOAUTH2)},
		{name: "XOAUTH2/MicrosoftTwoSteps",
			script: seqOK(saslHello("XOAUTH2 PLAIN"), "C: AUTH XOAUTH2", "S: + ", "C: "+xo("bob@example.com", msToken),
				"S: +OK User successfully authenticated."),
			run: loginStat("bob@example.com", msToken, AuthXOAUTH2)},
		{name: "XOAUTH2/ErrorChallenge",
			script: seq(saslHello("XOAUTH2"), "C: AUTH XOAUTH2 "+xo("bob", token), "S: + "+b64(googleErr), "C: ",
				"S: -ERR [AUTH] Invalid credentials"),
			run: loginStat("bob", token, AuthXOAUTH2), usable: true, oauth: true,
			wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true, wantText: "status 401"},
		{name: "XOAUTH2/TwoStepsErrorChallenge",
			script: seq(saslHello("XOAUTH2"), "C: AUTH XOAUTH2", "S: + ", "C: "+xo("bob", tok158),
				"S: + "+b64(`{"status":"400","error":"invalid_token\u001b[2J"}`), "C: ", "S: -ERR Authentication failure"),
			// Microsoft's -ERR has no response code: IsAuth is errors.go's call.
			run: loginStat("bob", tok158, AuthXOAUTH2), oauth: true,
			wantIs: errAny, wantTemp: true, wantText: "status 400, error invalid_token?[2J"},
		{name: "XOAUTH2/CtrlARefused", script: saslHello("XOAUTH2"),
			run: loginStat("bob", "a\x01b", AuthXOAUTH2), wantIs: ErrInvalidArgument},
		{name: "OAUTHBEARER/InitialResponse",
			script: seqOK(saslHello("OAUTHBEARER"), "C: AUTH OAUTHBEARER "+bearerIR, "S: +OK"),
			run:    loginStat("bob", token, AuthOAuthBearer)},
		{name: "OAUTHBEARER/ErrorChallenge",
			script: seq(saslHello("OAUTHBEARER"), "C: AUTH OAUTHBEARER "+bearerIR,
				"S: + "+b64(`{"status":"invalid_token","scope":"x"}`), "C: AQ==", "S: -ERR [AUTH] no"),
			run: loginStat("bob", token, AuthOAuthBearer), oauth: true,
			wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true, wantText: "status invalid_token"},
		{name: "OAUTHBEARER/UserEscaped",
			script: seq(saslHello("OAUTHBEARER"), "C: AUTH OAUTHBEARER "+b64("n,a=b=2Cob=3D,\x01host=localhost\x01port=110\x01auth=Bearer t0k\x01\x01"), "S: +OK"),
			run: func(ctx context.Context, t *testing.T, c *Client) error {
				return c.Login(ctx, "b,ob=", "t0k", AuthOAuthBearer)
			}},
	}
	for _, tc := range tests {
		tc.secrets = append(tc.secrets, token, tok157, tok158, msToken)
		t.Run(tc.name, func(t *testing.T) { runSASL(t, tc) })
	}
}

// Hostile exchanges: each is cancelled or breaks the client, never parsed
// as something it is not.
func TestSASL_Hostile(t *testing.T) {
	cram := saslHello("CRAM-MD5")
	cramCmd := "C: AUTH CRAM-MD5"
	login := loginStat("bob", testPassword, AuthCRAMMD5)
	endless := seq(saslHello("LOGIN"), "C: AUTH LOGIN "+b64("bob"))
	for range maxSASLRounds {
		endless = seq(endless, "S: + "+b64("Username:"), "C: "+b64("bob"))
	}
	endless = seq(endless, "S: + "+b64("Username:"), "C: *", "S: -ERR cancelled")
	tests := []saslCase{
		{name: "NotBase64", script: seq(cram, cramCmd, "S: + <1896.697170952@x>", "C: *", "S: -ERR cancelled"),
			run: login, usable: true, wantIs: ErrProtocol, wantTemp: true},
		{name: "TrailingSpace", script: seq(cram, cramCmd, "S: + "+b64(cramChallenge)+" ", "C: *", "S: -ERR cancelled"),
			run: login, usable: true, wantIs: ErrProtocol, wantTemp: true},
		{name: "EmbeddedCR", script: seq(cram, cramCmd, "R: + PDE4\rOTY+\r\n", "C: *", "S: -ERR cancelled"),
			run: login, usable: true, wantIs: ErrProtocol, wantTemp: true},
		{name: "MissingPadding", script: seq(cram, cramCmd, "S: + aGk", "C: *", "S: -ERR cancelled"),
			run: login, usable: true, wantIs: ErrProtocol, wantTemp: true},
		{name: "StrayPaddingBits", script: seq(cram, cramCmd, "S: + aGl=", "C: *", "S: -ERR cancelled"),
			run: login, usable: true, wantIs: ErrProtocol, wantTemp: true},
		{name: "TooLong", script: seq(cram, cramCmd, "S: + "+strings.Repeat("QUFB", maxChallenge/4+1), "C: *", "S: -ERR cancelled"),
			run: login, usable: true, wantIs: ErrProtocol, wantTemp: true},
		{name: "EndlessChallenges", script: endless,
			run: loginStat("bob", testPassword, AuthLogin), usable: true, wantIs: ErrProtocol, wantTemp: true, wantText: "more than 10 challenges"},
		{name: "OKAfterCancel", script: seq(cram, cramCmd, "S: + !!", "C: *", "S: +OK come in"),
			run: thenBroken(login), wantIs: ErrProtocol, wantTemp: true},
		{name: "ChallengeAfterCancel", script: seq(cram, cramCmd, "S: + !!", "C: *", "S: + "+b64("again")),
			run: thenBroken(login), wantIs: ErrProtocol, wantTemp: true},
		{name: "DataAfterChallenge", script: seq(cram, cramCmd, "R: + "+b64(cramChallenge)+"\r\n+OK\r\n"),
			run: thenBroken(login), wantIs: ErrProtocol, wantTemp: true},
		{name: "NeitherChallengeNorStatus", script: seq(cram, cramCmd, "S: * OK"),
			run: thenBroken(login), wantIs: ErrProtocol, wantTemp: true},
		{name: "PlusOKIsNotAChallenge", script: seqOK(cram, cramCmd, "S: +ok"),
			run: login},
		{name: "DropMidExchange", script: seq(cram, cramCmd, "S: + "+b64(cramChallenge), "C: "+b64("bob "+cramDigest(testPassword, []byte(cramChallenge))), "DROP"),
			run: thenBroken(login), wantIs: errAny, wantTemp: true},
		{name: "ContextEndsMidExchange", script: seq(cram, cramCmd, "S: + "+b64(cramChallenge), "HANG"),
			run: thenBroken(func(ctx context.Context, t *testing.T, c *Client) error {
				ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				return c.Login(ctx, "bob", testPassword, AuthCRAMMD5)
			}), wantIs: context.DeadlineExceeded, wantTemp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSASL(t, tc) })
	}
}

// An explicit mechanism the server does not list is refused before any
// credential goes out (the script ends after CAPA); a server that lists
// no SASL at all gets it tried.
func TestSASL_Availability(t *testing.T) {
	tests := []saslCase{
		{name: "NotListed", script: saslHello("PLAIN LOGIN"), run: loginStat("bob", testPassword, AuthCRAMMD5),
			wantIs: ErrAuthUnavailable, anyTemp: true, wantText: "SASL PLAIN LOGIN"},
		{name: "OAuthNotListed", script: saslHello("PLAIN SCRAM-SHA-256"), run: loginStat("bob", testPassword, AuthXOAUTH2),
			wantIs: ErrAuthUnavailable, anyTemp: true, wantText: "XOAUTH2"},
		{name: "ListedInLowerCase", script: seqOK(saslHello("plain"), "C: AUTH PLAIN "+b64("\x00bob\x00"+testPassword), "S: +OK"),
			run: loginStat("bob", testPassword, AuthPlain)},
		{name: "NoSASLLineTriedAnyway", script: seqOK(saslHello(""), "C: AUTH PLAIN "+b64("\x00bob\x00"+testPassword), "S: +OK"),
			run: loginStat("bob", testPassword, AuthPlain)},
		{name: "NoCAPATriedAnyway", script: seqOK([]string{"S: +OK hi", "C: CAPA", "S: -ERR"}, "C: AUTH PLAIN "+b64("\x00bob\x00"+testPassword), "S: +OK"),
			run: loginStat("bob", testPassword, AuthPlain)},
		{name: "InsecureRefused", cfg: Config{Addr: "localhost:110", TLS: TLSNone, Timeout: time.Second},
			script: saslHello("SCRAM-SHA-256"), run: loginStat("bob", testPassword, AuthSCRAMSHA256), wantIs: ErrInsecure},
		// The auto choice was rejected: nothing else is tried.
		{name: "AutoRejectedNoFallback", script: seq(saslHello("PLAIN"), "C: AUTH PLAIN "+b64("\x00bob\x00"+testPassword), "S: -ERR [AUTH] no"),
			run: loginStat("bob", testPassword, AuthAuto), wantCmd: "AUTH", wantCode: "AUTH", wantAuth: true},
		{name: "AutoWithoutUsableSASL", script: seqOK(saslHello("GSSAPI XOAUTH2"), loginOK...),
			run: loginStat("bob", testPassword, AuthAuto)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSASL(t, tc) })
	}
}

func TestAuthChoice(t *testing.T) {
	const ts = "<1.2@x>"
	tests := []struct {
		caps      Capabilities
		timestamp string
		asked     AuthMethod
		want      AuthMethod
	}{
		{Capabilities{"SASL": {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"}}, "", AuthAuto, AuthSCRAMSHA256},
		{Capabilities{"SASL": {"scram-sha-1", "plain"}}, ts, AuthAuto, AuthSCRAMSHA1},
		{Capabilities{"SASL": {"PLAIN", "CRAM-MD5"}}, "", AuthAuto, AuthCRAMMD5},
		{Capabilities{"SASL": {"LOGIN", "PLAIN"}}, ts, AuthAuto, AuthPlain},
		{Capabilities{"SASL": {"LOGIN"}}, "", AuthAuto, AuthLogin},
		{Capabilities{"SASL": {"XOAUTH2", "OAUTHBEARER"}}, "", AuthAuto, AuthUser},
		{Capabilities{"SASL": {"XOAUTH2", "GSSAPI"}}, ts, AuthAuto, AuthAPOP},
		{Capabilities{"SASL": {}}, ts, AuthAuto, AuthAPOP},
		{Capabilities{"USER": nil}, "", AuthAuto, AuthUser},
		{nil, ts, AuthAuto, AuthAPOP},
		{nil, "", AuthAuto, AuthUser},
		{Capabilities{"SASL": {"SCRAM-SHA-256"}}, "", AuthUser, AuthUser},
		{Capabilities{"SASL": {"SCRAM-SHA-256"}}, "", AuthXOAUTH2, AuthXOAUTH2},
	}
	for _, tc := range tests {
		c := &Client{caps: tc.caps, timestamp: tc.timestamp}
		if got := c.AuthChoice(tc.asked); got != tc.want {
			t.Errorf("caps %v, timestamp %q, asked %v: got %v, want %v", tc.caps, tc.timestamp, tc.asked, got, tc.want)
		}
	}
}

func TestCapabilitiesSASL(t *testing.T) {
	if got := (Capabilities{"SASL": {"plain", "Scram-Sha-256"}}).SASL(); strings.Join(got, " ") != "PLAIN SCRAM-SHA-256" {
		t.Errorf("got %q", got)
	}
	if got := (Capabilities{"USER": nil}).SASL(); got != nil {
		t.Errorf("got %q, want nil", got)
	}
	if got := Capabilities(nil).SASL(); got != nil {
		t.Errorf("got %q, want nil", got)
	}
}
