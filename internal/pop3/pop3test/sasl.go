package pop3test

// The AUTH command (RFC 5034) with the server sides of PLAIN (RFC 4616),
// LOGIN, CRAM-MD5 (RFC 2195), XOAUTH2 (Google), OAUTHBEARER (RFC 7628)
// and SCRAM (sasl_scram.go).

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxResponseLine bounds one AUTH response line, CRLF included. RFC 5034
// sets no limit; OAuth2 tokens make lines of a few KiB.
const maxResponseLine = 64 << 10

// saslVerdict ends an exchange: the user name and whether the credentials
// were right.
type saslVerdict struct {
	user string
	ok   bool
}

// saslServer is the server side of one mechanism. next takes the client's
// response (nil when the client sent no initial response) and returns the
// next challenge, or the verdict. An error ends the exchange with -ERR and
// its text: the client sent something the mechanism does not allow.
type saslServer interface {
	next(resp []byte) (challenge []byte, v *saslVerdict, err error)
}

// plaintextMech reports whether mech shows the server the password: those
// are refused without TLS under RequireTLSForLogin, as Dovecot's
// disable_plaintext_auth does.
func plaintextMech(mech string) bool { return mech == "PLAIN" || mech == "LOGIN" }

// saslOffered is what CAPA lists in its SASL line now.
func (ss *session) saslOffered() []string {
	var out []string
	for _, m := range ss.srv.cfg.sasl {
		if plaintextMech(m) && ss.needTLS() {
			continue
		}
		out = append(out, m)
	}
	return out
}

// auth serves "AUTH mechanism [initial-response]" (RFC 5034 §4).
func (ss *session) auth(arg string) error {
	mech, ir, hasIR := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	switch {
	case mech == "":
		return ss.reply("-ERR AUTH needs a mechanism")
	case !slices.Contains(ss.srv.cfg.sasl, mech):
		return ss.reply("-ERR unsupported authentication mechanism")
	case plaintextMech(mech) && ss.needTLS():
		return ss.reply(errNeedTLS)
	}
	m := ss.saslServer(mech)
	if ss.f.SASL.EndlessChallenges {
		m = endless{}
	}
	var resp []byte
	if hasIR {
		// RFC 5034 §4: "=" is an empty initial response.
		if ir != "=" {
			var err error
			if resp, err = decodeStrict(ir); err != nil {
				return ss.reply("-ERR invalid base64 in the initial response")
			}
		} else {
			resp = []byte{}
		}
	}
	for first := true; ; first = false {
		challenge, v, err := m.next(resp)
		if err != nil {
			return ss.reply("-ERR [AUTH] %v", err)
		}
		if v != nil {
			return ss.login(v.user, v.ok)
		}
		line := "+ " + base64.StdEncoding.EncodeToString(challenge)
		if first && ss.f.SASL.Challenge != "" {
			line = ss.f.SASL.Challenge
		}
		if err := ss.send(line + "\r\n"); err != nil {
			return err
		}
		l, err := ss.readResponse()
		if err != nil {
			return err
		}
		// RFC 5034 §4: "*" cancels, and the server MUST answer -ERR.
		if l == "*" {
			if ss.f.SASL.AcceptCancel {
				return ss.login(ss.srv.cfg.user, true)
			}
			return ss.reply("-ERR authentication cancelled")
		}
		if resp, err = decodeStrict(l); err != nil {
			return ss.reply("-ERR invalid base64 in the response")
		}
	}
}

// readResponse reads one AUTH response line, recorded in Commands as sent.
func (ss *session) readResponse() (string, error) {
	ss.conn.SetReadDeadline(time.Now().Add(idleTimeout))
	var buf []byte
	for {
		frag, err := ss.r.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > maxResponseLine {
			ss.srv.record(string(buf[:MaxCommandLine]))
			return "", errors.New("AUTH response too long")
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	line := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
	ss.srv.record(line)
	return line, nil
}

// decodeStrict is base64 with padding, nothing else (encoding/base64
// would skip CR and LF).
func decodeStrict(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("not base64")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

func upperAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// saslServer returns the server side of mech, one of cfg.sasl.
func (ss *session) saslServer(mech string) saslServer {
	switch mech {
	case "PLAIN":
		return &plainServer{ss: ss}
	case "LOGIN":
		return &loginServer{ss: ss}
	case "CRAM-MD5":
		return &cramServer{ss: ss}
	case "SCRAM-SHA-1", "SCRAM-SHA-256":
		return newSCRAMServer(ss, mech)
	case "XOAUTH2":
		return &xoauth2Server{ss: ss}
	case "OAUTHBEARER":
		return &oauthBearerServer{ss: ss}
	}
	return endless{} // a name in Server.SASL that no code serves
}

// passwordOK checks a password mechanism's credentials.
func (ss *session) passwordOK(user, password string) bool {
	return ss.srv.knownUser(user) &&
		subtle.ConstantTimeCompare([]byte(password), []byte(ss.srv.currentPassword())) == 1
}

// tokenOK checks an OAuth2 bearer token with ValidToken, by default
// against the password.
func (ss *session) tokenOK(user, token string) bool {
	if !ss.srv.knownUser(user) {
		return false
	}
	if f := ss.srv.cfg.validToken; f != nil {
		return f(user, token)
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(ss.srv.currentPassword())) == 1
}

var errNoResponse = errors.New("a response was expected")

// endless asks again, forever.
type endless struct{}

func (endless) next([]byte) ([]byte, *saslVerdict, error) { return []byte("more?"), nil, nil }

// plainServer is RFC 4616: authzid NUL authcid NUL passwd.
type plainServer struct{ ss *session }

func (p *plainServer) next(resp []byte) ([]byte, *saslVerdict, error) {
	if resp == nil {
		return []byte{}, nil, nil // RFC 5034 §4: ask for the initial response
	}
	f := bytes.Split(resp, []byte{0})
	if len(f) != 3 {
		return nil, nil, errors.New("malformed PLAIN message")
	}
	authz, user := string(f[0]), string(f[1])
	ok := (authz == "" || authz == user) && p.ss.passwordOK(user, string(f[2]))
	return nil, &saslVerdict{user: user, ok: ok}, nil
}

// loginServer is LOGIN: "Username:", then "Password:"; an initial
// response is the user name.
type loginServer struct {
	ss        *session
	user      string
	gotUser   bool
	askedUser bool
}

func (l *loginServer) next(resp []byte) ([]byte, *saslVerdict, error) {
	switch {
	case resp == nil && !l.askedUser:
		l.askedUser = true
		return []byte("Username:"), nil, nil
	case resp == nil:
		return nil, nil, errNoResponse
	case !l.gotUser:
		l.user, l.gotUser = string(resp), true
		return []byte("Password:"), nil, nil
	}
	return nil, &saslVerdict{user: l.user, ok: l.ss.passwordOK(l.user, string(resp))}, nil
}

// cramServer is RFC 2195: a timestamp challenge, "user hexdigest" back.
type cramServer struct {
	ss        *session
	challenge []byte
}

func (c *cramServer) next(resp []byte) ([]byte, *saslVerdict, error) {
	if c.challenge == nil {
		if resp != nil {
			return nil, nil, errors.New("CRAM-MD5 takes no initial response")
		}
		c.challenge = fmt.Appendf(nil, "<%d.%d@pop3test>", c.ss.id, time.Now().UnixNano())
		return c.challenge, nil, nil
	}
	i := bytes.LastIndexByte(resp, ' ')
	if i < 0 {
		return nil, nil, errors.New("malformed CRAM-MD5 response")
	}
	user, digest := string(resp[:i]), resp[i+1:]
	h := hmac.New(md5.New, []byte(c.ss.srv.currentPassword()))
	h.Write(c.challenge)
	want := hex.EncodeToString(h.Sum(nil))
	ok := c.ss.srv.knownUser(user) && subtle.ConstantTimeCompare(digest, []byte(want)) == 1
	return nil, &saslVerdict{user: user, ok: ok}, nil
}

// xoauth2Server is Google's XOAUTH2: "user=" U ^A "auth=Bearer " T ^A ^A.
// A bad token gets a JSON error challenge; after the client's (empty)
// response, -ERR.
type xoauth2Server struct {
	ss     *session
	failed *saslVerdict
}

func (x *xoauth2Server) next(resp []byte) ([]byte, *saslVerdict, error) {
	switch {
	case x.failed != nil:
		return nil, x.failed, nil
	case resp == nil:
		return []byte{}, nil, nil // Microsoft's two steps: ask for it
	}
	f := strings.Split(string(resp), "\x01")
	if len(f) != 4 || f[2] != "" || f[3] != "" || !strings.HasPrefix(f[0], "user=") ||
		!strings.HasPrefix(strings.ToLower(f[1]), "auth=bearer ") {
		return nil, nil, errors.New("malformed XOAUTH2 message")
	}
	user, token := f[0][len("user="):], f[1][len("auth=bearer "):]
	if x.ss.tokenOK(user, token) {
		return nil, &saslVerdict{user: user, ok: true}, nil
	}
	x.failed = &saslVerdict{user: user}
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), nil, nil
}

// oauthBearerServer is RFC 7628: gs2-header ^A *(key=value ^A) ^A. A bad
// token gets an error challenge (§3.2.2), to which the client answers a
// single ^A (§3.2.3); then -ERR.
type oauthBearerServer struct {
	ss     *session
	failed *saslVerdict
}

func (o *oauthBearerServer) next(resp []byte) ([]byte, *saslVerdict, error) {
	switch {
	case o.failed != nil:
		if !bytes.Equal(resp, []byte{1}) {
			return nil, nil, errors.New("OAUTHBEARER: expected ^A after the error")
		}
		return nil, o.failed, nil
	case resp == nil:
		return []byte{}, nil, nil
	}
	user, token, err := parseOAuthBearer(string(resp))
	if err != nil {
		return nil, nil, err
	}
	if o.ss.tokenOK(user, token) {
		return nil, &saslVerdict{user: user, ok: true}, nil
	}
	o.failed = &saslVerdict{user: user}
	return []byte(`{"status":"invalid_token","schemes":"bearer","scope":"https://mail.google.com/"}`), nil, nil
}

// parseOAuthBearer parses an RFC 7628 §3.1 client response.
func parseOAuthBearer(msg string) (user, token string, err error) {
	bad := errors.New("malformed OAUTHBEARER message")
	gs2, rest, ok := strings.Cut(msg, "\x01")
	// gs2-header = gs2-cb-flag "," [gs2-authzid] ","
	f := strings.Split(gs2, ",")
	if !ok || len(f) != 3 || f[0] != "n" || f[2] != "" || !strings.HasSuffix(rest, "\x01\x01") {
		return "", "", bad
	}
	if f[1] != "" {
		a, ok := strings.CutPrefix(f[1], "a=")
		if !ok {
			return "", "", bad
		}
		if user, ok = unescapeSASLName(a); !ok {
			return "", "", bad
		}
	}
	for kv := range strings.SplitSeq(strings.TrimSuffix(rest, "\x01\x01"), "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", "", bad
		}
		if k == "auth" {
			t, ok := strings.CutPrefix(v, "Bearer ")
			if !ok {
				return "", "", bad
			}
			token = t
		}
	}
	if token == "" {
		return "", "", bad
	}
	return user, token, nil
}

// unescapeSASLName undoes RFC 5801 §4 / RFC 5802 §5.1 escaping: "=2C" is
// ",", "=3D" is "="; any other "=" is malformed.
func unescapeSASLName(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ',':
			return "", false
		case s[i] != '=':
			b.WriteByte(s[i])
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
			i += 2
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}
