package pop3

// The SASL mechanisms' client sides. PLAIN, LOGIN and OAUTHBEARER come
// from go-sasl; CRAM-MD5, SCRAM (sasl_scram.go) and XOAUTH2 are ours.

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"
)

// saslNames maps the methods that run over AUTH to their RFC 5034
// mechanism names.
var saslNames = map[AuthMethod]string{
	AuthPlain: "PLAIN", AuthLogin: "LOGIN", AuthCRAMMD5: "CRAM-MD5",
	AuthSCRAMSHA1: "SCRAM-SHA-1", AuthSCRAMSHA256: "SCRAM-SHA-256",
	AuthXOAUTH2: "XOAUTH2", AuthOAuthBearer: "OAUTHBEARER",
}

// newMech returns the client side of m for user and secret (a password, or
// for the OAuth methods an access token), and whether its challenges are to
// be hidden from Trace. Arguments the mechanism cannot carry are refused
// with ErrInvalidArgument before anything is sent.
func (c *Client) newMech(m AuthMethod, user, secret string) (mech sasl.Client, hide bool, err error) {
	bad := func(what string) (sasl.Client, bool, error) {
		return nil, false, fmt.Errorf("%w: %s: %s", ErrInvalidArgument, saslNames[m], what)
	}
	switch m {
	case AuthPlain:
		// RFC 4616 §2: the fields are separated by NUL.
		if strings.ContainsRune(user, 0) || strings.ContainsRune(secret, 0) {
			return bad("the user name or the password contains NUL")
		}
		return sasl.NewPlainClient("", user, secret), true, nil
	case AuthLogin:
		return &loginClient{Client: sasl.NewLoginClient(user, secret), user: user}, true, nil
	case AuthCRAMMD5:
		return &cramMD5Client{user: user, secret: secret}, true, nil
	case AuthSCRAMSHA1, AuthSCRAMSHA256:
		s, err := newSCRAMClient(m, user, secret, "")
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	case AuthXOAUTH2:
		if strings.ContainsRune(user, 1) || strings.ContainsRune(secret, 1) {
			return bad("the user name or the token contains ^A")
		}
		return &xoauth2Client{user: user, token: secret}, false, nil
	case AuthOAuthBearer:
		if strings.ContainsRune(user, 1) || strings.ContainsRune(secret, 1) {
			return bad("the user name or the token contains ^A")
		}
		// RFC 7628 §3.1: the user goes in the GS2 header as authzid, where
		// "," and "=" are escaped (RFC 5801 §4); host and port are what we
		// connected to.
		opts := &sasl.OAuthBearerOptions{Username: gs2Escape(user), Token: secret}
		if host, port, err := net.SplitHostPort(c.cfg.Addr); err == nil {
			opts.Host = host
			opts.Port, _ = strconv.Atoi(port)
		}
		return &oauthBearerClient{Client: sasl.NewOAuthBearerClient(opts)}, false, nil
	}
	return nil, false, fmt.Errorf("%w: auth method %v is not a SASL mechanism", ErrInvalidArgument, m)
}

// gs2Escape escapes a name for a GS2 header or a SCRAM "n=" (RFC 5801 §4,
// RFC 5802 §5.1): "=" becomes "=3D" and "," becomes "=2C".
func gs2Escape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// loginClient is go-sasl's LOGIN with the prompts matched leniently. It
// sends the user name as initial response, as Dovecot and Exchange take it.
// QUIRK: servers word the prompts differently ("Username:", "User Name",
// "Password:", "password"); and a server that asks for the user name after
// all gets it again.
type loginClient struct {
	sasl.Client
	user string
}

func (l *loginClient) Next(challenge []byte) ([]byte, error) {
	p := strings.ToLower(strings.TrimSpace(string(challenge)))
	switch {
	case strings.HasPrefix(p, "user"):
		return []byte(l.user), nil
	case strings.HasPrefix(p, "pass"):
		return l.Client.Next([]byte("Password:"))
	}
	return nil, fmt.Errorf("%w: LOGIN prompt is neither for the user name nor for the password", ErrProtocol)
}

// cramMD5Client is RFC 2195 CRAM-MD5: the server sends a challenge, the
// client answers "user hexdigest" with the HMAC-MD5 of the challenge keyed
// by the password.
type cramMD5Client struct {
	user, secret string
	done         bool
}

func (m *cramMD5Client) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }

func (m *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	if m.done {
		return nil, fmt.Errorf("%w: CRAM-MD5 takes one challenge", ErrProtocol)
	}
	if len(challenge) == 0 {
		return nil, fmt.Errorf("%w: empty CRAM-MD5 challenge", ErrProtocol)
	}
	m.done = true
	return []byte(m.user + " " + cramDigest(m.secret, challenge)), nil
}

// cramDigest is RFC 2195 §2: HMAC-MD5 (RFC 2104) in lower-case hex.
func cramDigest(secret string, challenge []byte) string {
	h := hmac.New(md5.New, []byte(secret))
	h.Write(challenge)
	return hex.EncodeToString(h.Sum(nil))
}

// xoauth2Client is Google's and Microsoft's XOAUTH2. A failure comes as a
// challenge carrying a JSON error; the client answers it with an empty
// response and the server then says -ERR.
type xoauth2Client struct {
	user, token string
	errInfo     string // from the error challenge
	answered    bool
}

func (x *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	if x.answered {
		return nil, fmt.Errorf("%w: XOAUTH2: a second challenge", ErrProtocol)
	}
	x.answered = true
	x.errInfo = oauthErrorInfo(challenge)
	return []byte{}, nil
}

func (x *xoauth2Client) failure() string { return x.errInfo }

// oauthBearerClient is go-sasl's RFC 7628 OAUTHBEARER, finishing a failed
// exchange as §3.2.3 says: the client answers the error challenge with a
// single ^A, and the server then says -ERR.
type oauthBearerClient struct {
	sasl.Client
	errInfo  string
	answered bool
}

func (o *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	if o.answered {
		return nil, fmt.Errorf("%w: OAUTHBEARER: a second challenge", ErrProtocol)
	}
	o.answered = true
	o.errInfo = oauthErrorInfo(challenge)
	if _, err := o.Client.Next(challenge); err != nil {
		var oe *sasl.OAuthBearerError
		if !errors.As(err, &oe) {
			o.errInfo = "error challenge is not JSON"
		}
	}
	return []byte{1}, nil
}

func (o *oauthBearerClient) failure() string { return o.errInfo }

// oauthErrorInfo summarizes an OAuth error challenge (Google's XOAUTH2
// document, RFC 7628 §3.2.2) for an error message: its status and error
// fields, which carry no secret. The server's text is sanitized and clipped.
func oauthErrorInfo(challenge []byte) string {
	var e struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(challenge, &e) != nil {
		return ""
	}
	var parts []string
	if e.Status != "" {
		parts = append(parts, "status "+clip(sanitize(e.Status)))
	}
	if e.Error != "" {
		parts = append(parts, "error "+clip(sanitize(e.Error)))
	}
	return strings.Join(parts, ", ")
}
