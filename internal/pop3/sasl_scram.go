package pop3

// SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), without channel
// binding (the GS2 header "n,,") and without SASLprep of the user name and
// password: they are used as given, which is right for ASCII ones.

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// maxSCRAMIterations bounds the PBKDF2 work a server can ask of us: a
// million rounds of SHA-256 is a fraction of a second, and far above what
// servers use (Dovecot: 4096).
const maxSCRAMIterations = 1_000_000

// gs2Header is RFC 5802 §7 gs2-header without channel binding and without
// an authorization identity.
const gs2Header = "n,,"

type scramState int

const (
	scramStart     scramState = iota
	scramSentFirst            // client-first sent, server-first awaited
	scramSentFinal            // client-final sent, server-final awaited
	scramVerified             // the server's signature checked out
	scramFailed               // a step went wrong; nothing more is accepted
)

// scramClient is the client side of SCRAM (RFC 5802 §5).
type scramClient struct {
	name           string // "SCRAM-SHA-1" or "SCRAM-SHA-256"
	newHash        func() hash.Hash
	user, password string
	nonce          string // the client's part of the nonce
	bare           string // client-first-message-bare
	serverSig      []byte // expected in server-final
	state          scramState
	errInfo        string // the server's "e=" value, for the error after its -ERR
}

// newSCRAMClient returns a SCRAM client for m; nonce "" makes a fresh one
// from crypto/rand (tests pass the RFC examples' nonces).
func newSCRAMClient(m AuthMethod, user, password, nonce string) (*scramClient, error) {
	s := &scramClient{user: user, password: password, nonce: nonce}
	switch m {
	case AuthSCRAMSHA1:
		s.name, s.newHash = "SCRAM-SHA-1", sha1.New
	case AuthSCRAMSHA256:
		s.name, s.newHash = "SCRAM-SHA-256", sha256.New
	default:
		return nil, fmt.Errorf("%w: %v is not SCRAM", ErrInvalidArgument, m)
	}
	// RFC 5802 §7: saslname = 1*(value-safe-char / "=2C" / "=3D"), and
	// value-safe-char excludes NUL.
	if user == "" || strings.ContainsRune(user, 0) {
		return nil, fmt.Errorf("%w: %s: the user name is empty or contains NUL", ErrInvalidArgument, s.name)
	}
	if s.nonce == "" {
		// RFC 5802 §5.1: a random nonce of printable characters other
		// than ","; base64 has none. 18 octets are 144 bits.
		b := make([]byte, 18)
		rand.Read(b)
		s.nonce = base64.StdEncoding.EncodeToString(b)
	}
	return s, nil
}

func (s *scramClient) Start() (string, []byte, error) {
	// RFC 5802 §7: client-first-message-bare = username "," nonce.
	s.bare = "n=" + gs2Escape(s.user) + ",r=" + s.nonce
	s.state = scramSentFirst
	return s.name, []byte(gs2Header + s.bare), nil
}

func (s *scramClient) Next(challenge []byte) ([]byte, error) {
	state := s.state
	s.state = scramFailed
	switch state {
	case scramSentFirst:
		resp, err := s.clientFinal(string(challenge))
		if err != nil {
			return nil, err
		}
		if s.errInfo == "" {
			s.state = scramSentFinal
		}
		return resp, nil
	case scramSentFinal:
		// RFC 5034 has no additional data with success: the server-final
		// message comes as a challenge, answered with an empty response
		// (Dovecot does so).
		v, serverErr, err := parseServerFinal(string(challenge))
		switch {
		case err != nil:
			return nil, err
		case serverErr != "":
			return s.serverError(serverErr)
		case !hmac.Equal(v, s.serverSig):
			// RFC 5802 §5: the client MUST verify ServerSignature; a
			// server that cannot compute it does not hold our key.
			return nil, fmt.Errorf("%w: wrong server signature", ErrServerAuth)
		}
		s.state = scramVerified
		return []byte{}, nil
	}
	return nil, fmt.Errorf("%w: %s: unexpected challenge", ErrProtocol, s.name)
}

// serverError takes an "e=" from the server: the exchange has failed, and
// an empty response lets the server say so with its -ERR (whose response
// code tells a wrong password).
func (s *scramClient) serverError(e string) ([]byte, error) {
	s.errInfo = "server reports SCRAM error " + strconv.Quote(clip(e))
	return []byte{}, nil
}

func (s *scramClient) failure() string { return s.errInfo }

// finish is called at the server's +OK: a SCRAM server proves itself with
// its signature before that.
func (s *scramClient) finish() error {
	if s.state != scramVerified {
		return fmt.Errorf("%w: the server said +OK without sending its signature", ErrServerAuth)
	}
	return nil
}

// clientFinal computes client-final-message from server-first-message
// (RFC 5802 §3) and remembers the server signature to expect.
func (s *scramClient) clientFinal(serverFirst string) ([]byte, error) {
	nonce, salt, iter, serverErr, err := parseServerFirst(serverFirst, s.nonce)
	if err != nil {
		return nil, err
	}
	if serverErr != "" {
		return s.serverError(serverErr)
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2Header)) + ",r=" + nonce
	authMessage := []byte(s.bare + "," + serverFirst + "," + withoutProof)
	salted, err := pbkdf2.Key(s.newHash, s.password, salt, iter, s.newHash().Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	clientKey := s.hmac(salted, []byte("Client Key"))
	h := s.newHash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	proof := s.hmac(storedKey, authMessage) // ClientSignature
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	s.serverSig = s.hmac(s.hmac(salted, []byte("Server Key")), authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func (s *scramClient) hmac(key, msg []byte) []byte {
	m := hmac.New(s.newHash, key)
	m.Write(msg)
	return m.Sum(nil)
}

// scramAttrs splits a SCRAM message into its attributes (RFC 5802 §7:
// attr-val = ALPHA "=" value, separated by ","), each value non-empty and
// free of NUL.
func scramAttrs(msg string) ([][2]string, error) {
	var out [][2]string
	for part := range strings.SplitSeq(msg, ",") {
		if len(part) < 3 || part[1] != '=' || !isAlpha(part[0]) {
			return nil, fmt.Errorf("%w: SCRAM message: malformed attribute %q", ErrProtocol, clip(sanitize(part)))
		}
		if strings.ContainsRune(part, 0) {
			return nil, fmt.Errorf("%w: SCRAM message: NUL in attribute %c", ErrProtocol, part[0])
		}
		out = append(out, [2]string{part[:1], part[2:]})
	}
	return out, nil
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// parseServerFirst parses server-first-message (RFC 5802 §7):
//
//	[reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
//
// The nonce must extend the client's, the salt be base64 of at least one
// octet, and the iteration count lie in 1..maxSCRAMIterations. An "e="
// (RFC 5802 erratum 5271: an error as early as server-first) is returned
// as serverErr, sanitized.
func parseServerFirst(msg, clientNonce string) (nonce string, salt []byte, iter int, serverErr string, err error) {
	fail := func(format string, args ...any) (string, []byte, int, string, error) {
		return "", nil, 0, "", fmt.Errorf("%w: SCRAM server-first: "+format, append([]any{ErrProtocol}, args...)...)
	}
	attrs, err := scramAttrs(msg)
	if err != nil {
		return "", nil, 0, "", err
	}
	switch {
	case attrs[0][0] == "e":
		return "", nil, 0, sanitize(attrs[0][1]), nil
	case attrs[0][0] == "m":
		// RFC 5802 §5.1: an unknown mandatory extension fails the exchange.
		return fail("unsupported mandatory extension")
	case len(attrs) < 3 || attrs[0][0] != "r" || attrs[1][0] != "s" || attrs[2][0] != "i":
		return fail("want r=, s=, i= in this order")
	}
	nonce = attrs[0][1]
	for i := 0; i < len(nonce); i++ {
		// RFC 5802 §7: printable = %x21-2B / %x2D-7E.
		if c := nonce[i]; c < 0x21 || c > 0x7e {
			return fail("nonce has a non-printable octet")
		}
	}
	// RFC 5802 §5.1: the server appends its part to the client's nonce. A
	// nonce that does not is a replay or a confused server.
	if !strings.HasPrefix(nonce, clientNonce) || len(nonce) == len(clientNonce) {
		return fail("nonce does not extend the client's")
	}
	salt, err = base64.StdEncoding.Strict().DecodeString(attrs[1][1])
	if err != nil || len(salt) == 0 || strings.ContainsAny(attrs[1][1], "\r\n") {
		return fail("salt is not base64")
	}
	// RFC 5802 §7: posit-number = %x31-39 *DIGIT.
	is := attrs[2][1]
	if is[0] < '1' || is[0] > '9' || len(is) > len(strconv.Itoa(maxSCRAMIterations)) {
		return fail("iteration count %q out of range", clip(sanitize(is)))
	}
	n, err := strconv.Atoi(is)
	if err != nil || n > maxSCRAMIterations {
		return fail("iteration count %q out of range 1..%d", clip(sanitize(is)), maxSCRAMIterations)
	}
	return nonce, salt, n, "", nil
}

// parseServerFinal parses server-final-message (RFC 5802 §7):
//
//	(server-error / verifier) ["," extensions]
//
// It returns the decoded verifier, or the server's error value.
func parseServerFinal(msg string) (verifier []byte, serverErr string, err error) {
	attrs, err := scramAttrs(msg)
	if err != nil {
		return nil, "", err
	}
	switch attrs[0][0] {
	case "e":
		return nil, sanitize(attrs[0][1]), nil
	case "v":
		v := attrs[0][1]
		verifier, err = base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || strings.ContainsAny(v, "\r\n") {
			return nil, "", fmt.Errorf("%w: SCRAM server-final: verifier is not base64", ErrProtocol)
		}
		return verifier, "", nil
	}
	return nil, "", fmt.Errorf("%w: SCRAM server-final: want v= or e=", ErrProtocol)
}
