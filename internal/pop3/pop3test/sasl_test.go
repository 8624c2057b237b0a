package pop3test

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("challenge %q: %v", s, err)
	}
	return string(b)
}

func startSASL(t *testing.T, mechs ...string) (*Server, string) {
	s := NewServer(t)
	s.SASL = mechs
	return s, s.Start()
}

// challenge reads a continuation line and returns it decoded.
func (c *client) challenge() string {
	c.t.Helper()
	l := c.line()
	text, ok := strings.CutPrefix(l, "+ ")
	if !ok {
		c.t.Fatalf("got %q, want a continuation", l)
	}
	return unb64(c.t, text)
}

func TestSASL_CAPA(t *testing.T) {
	s, addr := startSASL(t, "plain", "SCRAM-SHA-256", "XOAUTH2")
	_ = s
	c := greeted(t, addr)
	c.ok("CAPA")
	if caps := c.multi(); !slices.Contains(caps, "SASL PLAIN SCRAM-SHA-256 XOAUTH2") {
		t.Errorf("CAPA %q lacks the SASL line", caps)
	}
	c.ok("USER user")
	c.ok("PASS pass")
	c.ok("CAPA")
	if caps := c.multi(); slices.ContainsFunc(caps, func(l string) bool { return strings.HasPrefix(l, "SASL") }) {
		t.Errorf("CAPA after login %q lists SASL", caps)
	}

	// Without SASL configured, no SASL line and AUTH is unsupported.
	_, addr = startSASL(t)
	c = greeted(t, addr)
	c.ok("CAPA")
	if caps := c.multi(); slices.ContainsFunc(caps, func(l string) bool { return strings.HasPrefix(l, "SASL") }) {
		t.Errorf("CAPA %q lists SASL", caps)
	}
	c.errReply("AUTH PLAIN "+b64("\x00user\x00pass"), "-ERR")
}

func TestSASL_PLAIN(t *testing.T) {
	s, addr := startSASL(t, "PLAIN")
	ir := b64("\x00user\x00pass")
	c := greeted(t, addr)
	c.ok("AUTH PLAIN " + ir)
	c.ok("STAT")
	c.ok("QUIT")

	// Two steps: the empty challenge asks for the initial response.
	c = greeted(t, addr)
	c.send("AUTH PLAIN")
	if ch := c.line(); ch != "+ " {
		t.Fatalf("got %q, want an empty challenge", ch)
	}
	c.ok(b64("\x00user\x00pass"))
	c.ok("QUIT")

	c = greeted(t, addr)
	c.errReply("AUTH PLAIN "+b64("\x00user\x00wrong"), "-ERR [AUTH]")
	c.errReply("AUTH PLAIN "+b64("admin\x00user\x00pass"), "-ERR [AUTH]")
	c.errReply("AUTH PLAIN =", "-ERR [AUTH]")
	c.errReply("AUTH PLAIN not*base64", "-ERR")
	c.errReply("AUTH PLAIN "+b64("\x00user\x00pass")+"\t", "-ERR")
	c.errReply("AUTH GSSAPI", "-ERR")

	// Every line the client sent is recorded as sent, responses included.
	want := []string{"AUTH PLAIN " + ir, "STAT", "QUIT", "AUTH PLAIN", b64("\x00user\x00pass")}
	if got := s.Commands(); !slices.Equal(got[:5], want) {
		t.Errorf("Commands %q, want %q first", got, want)
	}
}

func TestSASL_LOGINAndCancel(t *testing.T) {
	s, addr := startSASL(t, "LOGIN")
	c := greeted(t, addr)
	c.send("AUTH LOGIN")
	if p := c.challenge(); p != "Username:" {
		t.Fatalf("got prompt %q", p)
	}
	c.send(b64("user"))
	if p := c.challenge(); p != "Password:" {
		t.Fatalf("got prompt %q", p)
	}
	c.ok(b64("pass"))

	c = greeted(t, addr)
	c.send("AUTH LOGIN " + b64("user"))
	if p := c.challenge(); p != "Password:" {
		t.Fatalf("got prompt %q", p)
	}
	c.errReply("*", "-ERR") // RFC 5034 §4: a cancel is answered -ERR
	c.send("AUTH LOGIN " + b64("user"))
	c.challenge()
	c.errReply("cGFz cw==", "-ERR") // not base64: a space
	if got := s.Commands(); !slices.Contains(got, "*") {
		t.Errorf("Commands %q lacks the cancel", got)
	}
}

func TestSASL_CRAMMD5(t *testing.T) {
	_, addr := startSASL(t, "CRAM-MD5")
	for _, pw := range []string{"pass", "wrong"} {
		c := greeted(t, addr)
		c.send("AUTH CRAM-MD5")
		ch := c.challenge()
		if !strings.HasPrefix(ch, "<") || !strings.HasSuffix(ch, "@pop3test>") {
			t.Errorf("challenge %q is not a timestamp", ch)
		}
		h := hmac.New(md5.New, []byte(pw))
		h.Write([]byte(ch))
		r := c.cmd(b64("user " + hex.EncodeToString(h.Sum(nil))))
		if ok := strings.HasPrefix(r, "+OK"); ok != (pw == "pass") {
			t.Errorf("password %q: got %q", pw, r)
		}
	}
}

func TestSASL_OAuthFailure(t *testing.T) {
	s := NewServer(t)
	s.SASL = []string{"XOAUTH2", "OAUTHBEARER"}
	s.ValidToken = func(user, token string) bool { return user == "user" && token == "good" }
	addr := s.Start()
	c := greeted(t, addr)
	c.ok("AUTH XOAUTH2 " + b64("user=user\x01auth=Bearer good\x01\x01"))
	c.ok("QUIT")
	waitUnlocked(t, s) // the next good login must not find the mailbox locked

	c = greeted(t, addr)
	c.send("AUTH XOAUTH2 " + b64("user=user\x01auth=Bearer bad\x01\x01"))
	if ch := c.challenge(); !strings.Contains(ch, `"status":"401"`) {
		t.Errorf("error challenge %q", ch)
	}
	c.errReply("", "-ERR [AUTH]")

	c = greeted(t, addr)
	c.ok("AUTH OAUTHBEARER " + b64("n,a=user,\x01host=h\x01port=995\x01auth=Bearer good\x01\x01"))
	c = greeted(t, addr)
	c.send("AUTH OAUTHBEARER " + b64("n,a=user,\x01auth=Bearer bad\x01\x01"))
	if ch := c.challenge(); !strings.Contains(ch, `"status":"invalid_token"`) {
		t.Errorf("error challenge %q", ch)
	}
	c.errReply(b64("\x01"), "-ERR [AUTH]")
}

func TestSASL_SCRAMServerFirst(t *testing.T) {
	_, addr := startSASL(t, "SCRAM-SHA-256")
	c := greeted(t, addr)
	c.send("AUTH SCRAM-SHA-256 " + b64("n,,n=user,r=clientnonce"))
	sf := c.challenge()
	f := strings.Split(sf, ",")
	if len(f) != 3 || !strings.HasPrefix(f[0], "r=clientnonce") || len(f[0]) <= len("r=clientnonce") ||
		!strings.HasPrefix(f[1], "s=") || f[2] != "i=4096" {
		t.Fatalf("server-first %q", sf)
	}
	// A proof of zeros is wrong: -ERR, no server-final.
	c.errReply(b64("c=biws,"+f[0]+",p="+base64.StdEncoding.EncodeToString(make([]byte, 32))), "-ERR [AUTH]")
	c.send("AUTH SCRAM-SHA-256 " + b64("n,,n=user,r=x"))
	sf = c.challenge()
	c.errReply(b64("c=biws,r=x-not-the-nonce,p=AAAA"), "-ERR")
}

func TestSASL_RepliesOverride(t *testing.T) {
	s := NewServer(t)
	s.SASL = []string{"PLAIN"}
	s.Faults = Faults{Replies: map[string]string{"AUTH": "-ERR [SYS/TEMP] busy\r\n"}}
	c := greeted(t, s.Start())
	c.errReply("AUTH PLAIN "+b64("\x00user\x00pass"), "-ERR [SYS/TEMP] busy")
}

func TestSASL_RequireTLSHidesPlaintext(t *testing.T) {
	s := NewServer(t)
	s.SASL = []string{"PLAIN", "LOGIN", "CRAM-MD5"}
	s.RequireTLSForLogin = true
	c := greeted(t, s.Start())
	c.ok("CAPA")
	if caps := c.multi(); !slices.Contains(caps, "SASL CRAM-MD5") {
		t.Errorf("CAPA %q, want SASL CRAM-MD5 alone", caps)
	}
	c.errReply("AUTH PLAIN "+b64("\x00user\x00pass"), errNeedTLS)
}

func TestSASL_LongResponse(t *testing.T) {
	s := NewServer(t)
	s.SASL = []string{"XOAUTH2"}
	token := strings.Repeat("T", 3000)
	s.ValidToken = func(_, tok string) bool { return tok == token }
	c := greeted(t, s.Start())
	c.send("AUTH XOAUTH2")
	if ch := c.line(); ch != "+ " {
		t.Fatalf("got %q, want an empty challenge", ch)
	}
	blob := b64("user=user\x01auth=Bearer " + token + "\x01\x01")
	c.ok(blob)
	if got := s.Commands(); got[len(got)-1] != blob {
		t.Errorf("the long response was not recorded whole")
	}
}

func TestSASL_Faults(t *testing.T) {
	s := NewServer(t)
	s.SASL = []string{"CRAM-MD5", "SCRAM-SHA-1"}
	s.Faults = Faults{SASL: SASLFaults{Challenge: "+ !!!", SCRAMForeignNonce: true, SCRAMIterations: 7}}
	c := greeted(t, s.Start())
	c.send("AUTH CRAM-MD5")
	if l := c.line(); l != "+ !!!" {
		t.Errorf("got %q, want the scripted challenge", l)
	}
	c.errReply("*", "-ERR")
	c.send("AUTH SCRAM-SHA-1 " + b64("n,,n=user,r=abc"))
	if l := c.line(); l != "+ !!!" {
		t.Errorf("got %q, want the scripted challenge", l)
	}
	c.send("*")
	c.line()

	s.SetFaults(Faults{SASL: SASLFaults{SCRAMForeignNonce: true, SCRAMIterations: 7}})
	c = greeted(t, s.Start())
	c.send("AUTH SCRAM-SHA-1 " + b64("n,,n=user,r=abc"))
	sf := c.challenge()
	if strings.HasPrefix(sf, "r=abc") || !strings.HasSuffix(sf, ",i=7") {
		t.Errorf("server-first %q: want a foreign nonce and i=7", sf)
	}

	s.SetFaults(Faults{SASL: SASLFaults{EndlessChallenges: true, AcceptCancel: true}})
	c = greeted(t, s.Start())
	c.send("AUTH CRAM-MD5")
	for range 20 {
		c.challenge()
		c.send("")
	}
	c.challenge()
	c.ok("*")
	c.ok("STAT") // AcceptCancel logged the session in
}
