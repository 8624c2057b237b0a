package pop3

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// scramVector is an example exchange from an RFC: user "user", password
// "pencil".
type scramVector struct {
	name                                               string
	method                                             AuthMethod
	clientNonce                                        string
	clientFirst, serverFirst, clientFinal, serverFinal string
}

var scramVectors = []scramVector{
	{
		name: "RFC5802", method: AuthSCRAMSHA1, clientNonce: "fyko+d2lbbFgONRv9qkxdawL",
		clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		name: "RFC7677", method: AuthSCRAMSHA256, clientNonce: "rOprNGfwEbeRWgbNEkqO",
		clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

// RFC 5802 §5 and RFC 7677 §3: the client computes the examples' messages.
func TestSCRAM_RFCVectors(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.name, func(t *testing.T) {
			s, err := newSCRAMClient(v.method, "user", "pencil", v.clientNonce)
			if err != nil {
				t.Fatal(err)
			}
			_, ir, _ := s.Start()
			if string(ir) != v.clientFirst {
				t.Errorf("client-first: got %q, want %q", ir, v.clientFirst)
			}
			if err := s.finish(); !errors.Is(err, ErrServerAuth) {
				t.Errorf("finish before server-final: got %v, want ErrServerAuth", err)
			}
			resp, err := s.Next([]byte(v.serverFirst))
			if err != nil {
				t.Fatal(err)
			}
			if string(resp) != v.clientFinal {
				t.Errorf("client-final: got %q, want %q", resp, v.clientFinal)
			}
			resp, err = s.Next([]byte(v.serverFinal))
			if err != nil || len(resp) != 0 {
				t.Fatalf("server-final: got %q, %v; want an empty response", resp, err)
			}
			if err := s.finish(); err != nil {
				t.Errorf("finish: %v", err)
			}
			if _, err := s.Next(nil); err == nil {
				t.Errorf("a challenge after server-final was accepted")
			}
		})
	}
}

func TestSCRAM_ServerSignatureMismatch(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.name, func(t *testing.T) {
			s, _ := newSCRAMClient(v.method, "user", "pencil", v.clientNonce)
			s.Start()
			if _, err := s.Next([]byte(v.serverFirst)); err != nil {
				t.Fatal(err)
			}
			sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(v.serverFinal, "v="))
			sig[len(sig)-1] ^= 1
			_, err := s.Next([]byte("v=" + base64.StdEncoding.EncodeToString(sig)))
			if !errors.Is(err, ErrServerAuth) {
				t.Fatalf("got %v, want ErrServerAuth", err)
			}
			if err := s.finish(); !errors.Is(err, ErrServerAuth) {
				t.Errorf("finish after a bad signature: got %v, want ErrServerAuth", err)
			}
		})
	}
}

// The same password with another user name or salt gives another proof:
// the vectors are not passed by accident.
func TestSCRAM_UserNameEscaped(t *testing.T) {
	s, err := newSCRAMClient(AuthSCRAMSHA256, "a=b,c", "pw", "nonce")
	if err != nil {
		t.Fatal(err)
	}
	_, ir, _ := s.Start()
	if got, want := string(ir), "n,,n=a=3Db=2Cc,r=nonce"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, user := range []string{"", "a\x00b"} {
		if _, err := newSCRAMClient(AuthSCRAMSHA256, user, "pw", ""); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("user %q: got %v, want ErrInvalidArgument", user, err)
		}
	}
}

func TestSCRAM_RandomNonce(t *testing.T) {
	a, _ := newSCRAMClient(AuthSCRAMSHA256, "u", "p", "")
	b, _ := newSCRAMClient(AuthSCRAMSHA256, "u", "p", "")
	if a.nonce == b.nonce || len(a.nonce) < 24 || strings.Contains(a.nonce, ",") {
		t.Errorf("nonces %q and %q: want two different ones of 24+ printable characters without a comma", a.nonce, b.nonce)
	}
}

func TestParseServerFirst(t *testing.T) {
	const cn = "abc"
	tests := []struct {
		msg       string
		wantNonce string
		wantIter  int
		wantErr   string // "" = ok; "e" = server error
	}{
		{"r=abcdef,s=c2FsdA==,i=4096", "abcdef", 4096, ""},
		{"r=abcdef,s=c2FsdA==,i=1", "abcdef", 1, ""},
		{"r=abcdef,s=c2FsdA==,i=1000000", "abcdef", 1000000, ""},
		{"r=abcdef,s=c2FsdA==,i=4096,x=ext", "abcdef", 4096, ""},
		{"e=other-error", "", 0, "e"},
		{"r=abcdef,s=c2FsdA==,i=1000001", "", 0, "iteration"},
		{"r=abcdef,s=c2FsdA==,i=0", "", 0, "iteration"},
		{"r=abcdef,s=c2FsdA==,i=04096", "", 0, "iteration"},
		{"r=abcdef,s=c2FsdA==,i=-1", "", 0, "iteration"},
		{"r=abcdef,s=c2FsdA==,i=+4096", "", 0, "iteration"},
		{"r=abcdef,s=c2FsdA==,i=99999999999999999999", "", 0, "iteration"},
		{"r=abc,s=c2FsdA==,i=4096", "", 0, "nonce"},
		{"r=xabcdef,s=c2FsdA==,i=4096", "", 0, "nonce"},
		{"r=ab,s=c2FsdA==,i=4096", "", 0, "nonce"},
		{"r=abc def,s=c2FsdA==,i=4096", "", 0, "nonce"},
		{"r=abcdef,s=c2FsdA=,i=4096", "", 0, "salt"},
		{"r=abcdef,s=,i=4096", "", 0, "malformed"},
		{"r=abcdef,s=c2Fsd A==,i=4096", "", 0, "salt"},
		{"m=ext,r=abcdef,s=c2FsdA==,i=4096", "", 0, "mandatory"},
		{"s=c2FsdA==,r=abcdef,i=4096", "", 0, "order"},
		{"r=abcdef,s=c2FsdA==", "", 0, "order"},
		{"r=abcdef,s=c2FsdA==,i=4096,", "", 0, "malformed"},
		{"", "", 0, "malformed"},
		{"r=abc\x00def,s=c2FsdA==,i=4096", "", 0, "NUL"},
	}
	for _, tc := range tests {
		nonce, salt, iter, serverErr, err := parseServerFirst(tc.msg, cn)
		switch tc.wantErr {
		case "":
			if err != nil || nonce != tc.wantNonce || iter != tc.wantIter || string(salt) != "salt" {
				t.Errorf("%q: got %q %q %d %v, want %q salt %d", tc.msg, nonce, salt, iter, err, tc.wantNonce, tc.wantIter)
			}
		case "e":
			if err != nil || serverErr != "other-error" {
				t.Errorf("%q: got server error %q, %v", tc.msg, serverErr, err)
			}
		default:
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: got %v, want ErrProtocol saying %q", tc.msg, err, tc.wantErr)
			}
		}
	}
}

func TestParseServerFinal(t *testing.T) {
	tests := []struct {
		msg     string
		wantV   string
		wantE   string
		wantErr bool
	}{
		{"v=dmVyaWZpZXI=", "verifier", "", false},
		{"v=dmVyaWZpZXI=,x=ext", "verifier", "", false},
		{"e=invalid-proof", "", "invalid-proof", false},
		{"e=bad\x1b[31m", "", "bad?[31m", false},
		{"v=dmVyaWZpZXI", "", "", true},
		{"v=dmVy aWZpZXI=", "", "", true},
		{"x=1,v=dmVyaWZpZXI=", "", "", true},
		{"v=", "", "", true},
		{"", "", "", true},
		{"dmVyaWZpZXI=", "", "", true},
	}
	for _, tc := range tests {
		v, e, err := parseServerFinal(tc.msg)
		if tc.wantErr {
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("%q: got %q %q %v, want ErrProtocol", tc.msg, v, e, err)
			}
			continue
		}
		if err != nil || string(v) != tc.wantV || e != tc.wantE {
			t.Errorf("%q: got %q %q %v, want %q %q", tc.msg, v, e, err, tc.wantV, tc.wantE)
		}
	}
}

// RFC 2195 §2: the example exchange.
func TestCRAMMD5_RFCVector(t *testing.T) {
	m := &cramMD5Client{user: "tim", secret: "tanstaaftanstaaf"}
	name, ir, err := m.Start()
	if name != "CRAM-MD5" || ir != nil || err != nil {
		t.Fatalf("Start: %q %q %v", name, ir, err)
	}
	challenge, err := decodeChallenge("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
	if err != nil || string(challenge) != "<1896.697170952@postoffice.reston.mci.net>" {
		t.Fatalf("challenge: %q %v", challenge, err)
	}
	resp, err := m.Next(challenge)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := encodeResponse(resp), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"; got != want {
		t.Errorf("got %q (%q), want %q", got, resp, want)
	}
	if _, err := m.Next(challenge); err == nil {
		t.Errorf("a second challenge was answered")
	}
}
