package pop3test

// The server side of SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677),
// without channel binding. It keeps no stored keys: it derives them from
// the current password with a fresh salt for every exchange.

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// scramIterations is the iteration count the server announces: Dovecot's.
const scramIterations = 4096

type scramServer struct {
	ss      *session
	newHash func() hash.Hash
	step    int

	gs2, bare, user string // from client-first
	nonce           string // the full nonce
	serverFirst     string
	salt            []byte
	iter            int
	failed          *saslVerdict // sent an e=: the verdict after the response
	done            *saslVerdict // sent server-final: the verdict after the response
}

func newSCRAMServer(ss *session, mech string) *scramServer {
	s := &scramServer{ss: ss, newHash: sha256.New}
	if mech == "SCRAM-SHA-1" {
		s.newHash = sha1.New
	}
	return s
}

func (s *scramServer) next(resp []byte) ([]byte, *saslVerdict, error) {
	s.step++
	switch {
	case s.step == 1 && resp == nil:
		s.step = 0
		return []byte{}, nil, nil // RFC 5034 §4: ask for client-first
	case s.step == 1:
		return s.first(string(resp))
	case s.step == 2:
		return s.final(string(resp))
	case s.failed != nil:
		return nil, s.failed, nil
	case s.done != nil:
		if len(resp) != 0 {
			return nil, nil, errors.New("SCRAM: expected an empty response to server-final")
		}
		return nil, s.done, nil
	}
	return nil, nil, errors.New("SCRAM: exchange is over")
}

// first takes client-first-message and returns server-first-message.
func (s *scramServer) first(msg string) ([]byte, *saslVerdict, error) {
	bad := errors.New("malformed SCRAM client-first message")
	// gs2-header = gs2-cbind-flag "," [authzid] ","
	f := strings.SplitN(msg, ",", 3)
	if len(f) != 3 || (f[0] != "n" && f[0] != "y") {
		return nil, nil, bad
	}
	s.gs2, s.bare = f[0]+","+f[1]+",", f[2]
	attrs := strings.Split(s.bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") || len(attrs[1]) < 3 {
		return nil, nil, bad
	}
	user, ok := unescapeSASLName(attrs[0][2:])
	if !ok || user == "" {
		return nil, nil, bad
	}
	if f[1] != "" && f[1] != "a="+attrs[0][2:] {
		return nil, nil, errors.New("SCRAM: authorization identity differs from the user")
	}
	s.user = user
	cnonce := attrs[1][2:]
	snonce := make([]byte, 12)
	rand.Read(snonce)
	s.nonce = cnonce + base64.RawStdEncoding.EncodeToString(snonce)
	if s.ss.f.SASL.SCRAMForeignNonce {
		s.nonce = base64.RawStdEncoding.EncodeToString(snonce) + cnonce
	}
	s.salt = make([]byte, 16)
	rand.Read(s.salt)
	s.iter = scramIterations
	if n := s.ss.f.SASL.SCRAMIterations; n != 0 {
		s.iter = n
	}
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.salt) + ",i=" + strconv.Itoa(s.iter)
	return []byte(s.serverFirst), nil, nil
}

// final takes client-final-message, checks the proof, and returns
// server-final-message, or the verdict.
func (s *scramServer) final(msg string) ([]byte, *saslVerdict, error) {
	withoutProof, proofB64, ok := strings.Cut(msg, ",p=")
	if !ok || strings.Contains(proofB64, ",") {
		return nil, nil, errors.New("malformed SCRAM client-final message")
	}
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || attrs[0] != "c="+base64.StdEncoding.EncodeToString([]byte(s.gs2)) {
		return nil, nil, errors.New("SCRAM: channel binding data does not match")
	}
	if attrs[1] != "r="+s.nonce {
		return nil, nil, errors.New("SCRAM: nonce does not match")
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(proofB64)
	if err != nil {
		return nil, nil, errors.New("SCRAM: proof is not base64")
	}
	if s.iter < 1 {
		return nil, &saslVerdict{user: s.user}, nil
	}
	authMessage := []byte(s.bare + "," + s.serverFirst + "," + withoutProof)
	salted, err := pbkdf2.Key(s.newHash, s.ss.srv.currentPassword(), s.salt, s.iter, s.newHash().Size())
	if err != nil {
		return nil, nil, fmt.Errorf("SCRAM: %v", err)
	}
	clientKey := s.hmac(salted, "Client Key")
	h := s.newHash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	// RFC 5802 §3: the proof XOR ClientSignature is ClientKey, whose hash
	// is StoredKey.
	sig := s.hmac(storedKey, string(authMessage))
	if len(proof) != len(sig) {
		return nil, &saslVerdict{user: s.user}, nil
	}
	for i := range sig {
		sig[i] ^= proof[i]
	}
	h = s.newHash()
	h.Write(sig)
	ok = s.ss.srv.knownUser(s.user) && hmac.Equal(h.Sum(nil), storedKey)
	fa := s.ss.f.SASL
	switch {
	case !ok:
		// As Dovecot: a failed proof ends with -ERR, no server-final.
		return nil, &saslVerdict{user: s.user}, nil
	case fa.SCRAMError != "":
		s.failed = &saslVerdict{user: s.user}
		return []byte("e=" + fa.SCRAMError), nil, nil
	case fa.SCRAMNoServerFinal:
		return nil, &saslVerdict{user: s.user, ok: true}, nil
	}
	serverSig := s.hmac(s.hmac(salted, "Server Key"), string(authMessage))
	if fa.SCRAMBadSignature {
		serverSig[0] ^= 0xff
	}
	s.done = &saslVerdict{user: s.user, ok: true}
	// RFC 5034 has no additional data with success: server-final goes in
	// a challenge (as Dovecot does).
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil, nil
}

func (s *scramServer) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.newHash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
