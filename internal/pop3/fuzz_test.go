package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>", // RFC 1939 §7
		"+OK 2 320", "+OK", "+ok", "-ERR", "-ERR [IN-USE] Do you have another POP session running?", // RFC 2449 §8.1.1
		"-ERR [LOGIN-DELAY] wait", "-ERR [SYS/TEMP] x", "-ERR [SYS/PERM] x", "-ERR [AUTH] x", // RFC 3206
		"-ERR [] x", "-ERR [a/] x", "-ERR [X", "+OKAY", "* OK", "-ERR\t[A/B/C]\tt\x00\x1b[31m",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseReply(line)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("parseReply(%q): got %v, want ErrProtocol", line, err)
			}
			return
		}
		if r.ok != hasPrefixFold(line, "+OK") {
			t.Fatalf("parseReply(%q): ok = %v", line, r.ok)
		}
		if r.code != "" && (r.ok || r.code != strings.ToUpper(r.code) || strings.ContainsAny(r.code, " ]\t")) {
			t.Fatalf("parseReply(%q): bad code %q", line, r.code)
		}
		if sanitize(r.text) != r.text {
			t.Fatalf("parseReply(%q): text %q has control characters", line, r.text)
		}
		// Formatting the reply again and parsing it gives the same reply.
		again := "+OK " + r.text
		if !r.ok {
			again = "-ERR "
			if r.code != "" {
				again += "[" + r.code + "] "
			}
			again += r.text
		}
		r2, err := parseReply(again)
		if err != nil || r2 != r {
			t.Fatalf("parseReply(%q) = %+v; reformatted %q parses to %+v, %v", line, r, again, r2, err)
		}
	})
}

func FuzzListingLine(f *testing.F) {
	for _, s := range []string{"1 120", "2 200 extra", "1 whqtswO00WBw418f9t5JxYwZ", "3  7", "0 1", "-1 5", "1 a\x01b", "99999999999999999999 1", "1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if mi, err := parseScanLine(line); err == nil {
			if mi.Num < 1 || mi.Size < 0 {
				t.Fatalf("parseScanLine(%q) = %+v", line, mi)
			}
		}
		mi, err := parseUIDLine(line)
		if err != nil {
			return
		}
		if mi.Num < 1 || checkUID(mi.UID) != nil || strings.HasSuffix(mi.UID, " ") {
			t.Fatalf("parseUIDLine(%q) = %+v", line, mi)
		}
		mi2, err := parseUIDLine(fmt.Sprintf("%d %s", mi.Num, mi.UID))
		if err != nil || mi2 != mi {
			t.Fatalf("parseUIDLine(%q) = %+v; round trip gives %+v, %v", line, mi, mi2, err)
		}
	})
}

// decodeAll reads a whole body; oneByte feeds the bufio.Reader one octet
// at a time.
func decodeAll(wire []byte, oneByte bool, bufSize, readSize, maxLine int, maxSize int64) (out []byte, rest []byte, err error) {
	var src io.Reader = bytes.NewReader(wire)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	br := bufio.NewReaderSize(src, bufSize)
	r := newBodyReader(br, maxLine, maxSize)
	p := make([]byte, readSize)
	for {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			rest, _ = io.ReadAll(br)
			return out, rest, nil
		}
		if err != nil {
			return out, nil, err
		}
	}
}

func FuzzBodyReader(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\n..hi\r\n.\r\n"), []byte("+OK next\r\n"), uint8(0))
	f.Add([]byte(".\r\n"), []byte("a\r\n.\n.\r\n"), uint8(3))
	f.Add([]byte("a\r\r\n.\rb\n.\n"), []byte(".\r\r\n.\r\n"), uint8(7))
	f.Add([]byte("\x00\xff\r\n"), []byte("\r\n.\r"), uint8(200))
	f.Fuzz(func(t *testing.T, body, garbage []byte, knobs uint8) {
		oneByte := knobs&1 != 0
		bufSize := 16 + int(knobs>>1)%32
		readSize := 1 + int(knobs>>3)%9

		// Round trip: the server adds CRLF to a body that does not end in
		// one (RFC 1939 §3), dot-stuffs and terminates it.
		want := body
		if len(want) > 0 && !bytes.HasSuffix(want, crlf) {
			want = append(bytes.Clone(want), crlf...)
		}
		wire := append(dotStuff(want), ".\r\n"...)
		wire = append(wire, garbage...)
		got, rest, err := decodeAll(wire, oneByte, bufSize, readSize, 0, 0)
		if err != nil || !bytes.Equal(got, want) || !bytes.Equal(rest, garbage) {
			t.Fatalf("wire %q: got %q rest %q err %v, want %q rest %q", wire, got, rest, err, want, garbage)
		}

		// Arbitrary input: no panic, never more out than in, the same
		// result however it is split, and caps hold.
		maxLine := int(knobs % 8)
		maxSize := int64(knobs % 13)
		out1, rest1, err1 := decodeAll(garbage, false, 4096, 4096, maxLine, maxSize)
		out2, rest2, err2 := decodeAll(garbage, oneByte, bufSize, readSize, maxLine, maxSize)
		if len(out1) > len(garbage) || len(out1)+len(rest1) > len(garbage) {
			t.Fatalf("input %q: got %d octets out and %d left from %d in", garbage, len(out1), len(rest1), len(garbage))
		}
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(rest1, rest2) {
			t.Fatalf("input %q: whole: %q %v, split: %q %v", garbage, out1, err1, out2, err2)
		}
		if err1 == nil && !bytes.Equal(out1, out2) {
			t.Fatalf("input %q: whole %q, split %q", garbage, out1, out2)
		}
		if maxSize > 0 && (int64(len(out1)) > maxSize || int64(len(out2)) > maxSize) {
			t.Fatalf("input %q: got %d and %d octets with cap %d", garbage, len(out1), len(out2), maxSize)
		}
		if err1 == nil && maxLine > 0 {
			lines := bytes.Split(out1, []byte("\n"))
			for i, l := range lines {
				if i < len(lines)-1 {
					l = bytes.TrimSuffix(l, []byte("\r"))
				}
				if len(l) > maxLine {
					t.Fatalf("input %q: line %q longer than %d", garbage, l, maxLine)
				}
			}
		}
	})
}
