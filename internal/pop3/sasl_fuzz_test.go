package pop3

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func FuzzSCRAMServerFirst(f *testing.F) {
	for _, v := range scramVectors {
		f.Add(v.serverFirst, v.clientNonce) // RFC 5802 §5, RFC 7677 §3
	}
	for _, s := range []string{"e=unknown-user", "m=x,r=abcd,s=QQ==,i=1", "r=abcd,s=QQ==,i=1000001",
		"r=abcd,s=QQ==,i=01", "r=abc,s=QQ==,i=1", "r=abcd,s=Q Q==,i=1,z=ext", "r=ab\x00cd,s=QQ==,i=1", ",,"} {
		f.Add(s, "abc")
	}
	f.Fuzz(func(t *testing.T, msg, cnonce string) {
		nonce, salt, iter, serverErr, err := parseServerFirst(msg, cnonce)
		switch {
		case err != nil:
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("parseServerFirst(%q): got %v, want ErrProtocol", msg, err)
			}
			return
		case serverErr != "":
			if sanitize(serverErr) != serverErr || nonce != "" || salt != nil {
				t.Fatalf("parseServerFirst(%q): error %q with %q %q", msg, serverErr, nonce, salt)
			}
			return
		}
		if !strings.HasPrefix(nonce, cnonce) || len(nonce) <= len(cnonce) || len(salt) == 0 ||
			iter < 1 || iter > maxSCRAMIterations || strings.ContainsAny(nonce, ", \x00") {
			t.Fatalf("parseServerFirst(%q, %q) = %q %q %d", msg, cnonce, nonce, salt, iter)
		}
		again := fmt.Sprintf("r=%s,s=%s,i=%d", nonce, base64.StdEncoding.EncodeToString(salt), iter)
		n2, s2, i2, e2, err := parseServerFirst(again, cnonce)
		if err != nil || n2 != nonce || !bytes.Equal(s2, salt) || i2 != iter || e2 != "" {
			t.Fatalf("parseServerFirst(%q) = %q %q %d; reformatted %q gives %q %q %d %q %v", msg, nonce, salt, iter, again, n2, s2, i2, e2, err)
		}
	})
}

func FuzzSCRAMServerFinal(f *testing.F) {
	for _, v := range scramVectors {
		f.Add(v.serverFinal)
	}
	for _, s := range []string{"e=invalid-proof", "e=x,y=z", "v=", "v=QQ", "v=QQ==,x=1", "x=1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		v, e, err := parseServerFinal(msg)
		switch {
		case err != nil:
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("parseServerFinal(%q): got %v, want ErrProtocol", msg, err)
			}
		case e != "":
			if v != nil || sanitize(e) != e {
				t.Fatalf("parseServerFinal(%q) = %q, %q", msg, v, e)
			}
		default:
			again := "v=" + base64.StdEncoding.EncodeToString(v)
			if v2, e2, err := parseServerFinal(again); err != nil || !bytes.Equal(v2, v) || e2 != "" {
				t.Fatalf("parseServerFinal(%q) = %q; reformatted %q gives %q %q %v", msg, v, again, v2, e2, err)
			}
		}
	})
}

// FuzzAuthChallenge: a line from the server during AUTH is a continuation
// or not; a continuation decodes only if it is canonical base64, so that
// encoding what was decoded gives the line back.
func FuzzAuthChallenge(f *testing.F) {
	for _, s := range []string{
		"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", // RFC 2195 §2
		"+ ", "+", "+OK", "+ok", "-ERR", "+ aGk", "+ aGl=", "+ aGk= ", "+ aG\rk=", "+  aGk=", "+ =", "+ ====", "+\taGk=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		text, ok := continuation(line)
		if !ok {
			if line == "+" || strings.HasPrefix(line, "+ ") {
				t.Fatalf("continuation(%q) = false", line)
			}
			return
		}
		if hasPrefixFold(line, "+OK") {
			t.Fatalf("continuation(%q) = true for a status line", line)
		}
		data, err := decodeChallenge(text)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("decodeChallenge(%q): got %v, want ErrProtocol", text, err)
			}
			return
		}
		if again := "+ " + encodeResponse(data); again != line && (line != "+" || len(data) != 0) {
			t.Fatalf("line %q decodes to %q, which encodes to %q", line, data, again)
		}
	})
}
