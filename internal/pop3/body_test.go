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

// readBody decodes wire with a bodyReader over a bufio.Reader of bufSize,
// fed by src(wire), reading readSize octets at a time. It returns the body,
// the error (nil at a clean end) and what was left after the terminator.
func readBody(wire string, src func(io.Reader) io.Reader, bufSize, readSize, maxLine int, maxSize int64) (body string, err error, rest string) {
	br := bufio.NewReaderSize(src(strings.NewReader(wire)), bufSize)
	r := newBodyReader(br, maxLine, maxSize)
	var out bytes.Buffer
	p := make([]byte, readSize)
	for range len(wire) + 10 {
		n, rerr := r.Read(p)
		out.Write(p[:n])
		if rerr == io.EOF {
			left, _ := io.ReadAll(br)
			return out.String(), nil, string(left)
		}
		if rerr != nil {
			return out.String(), rerr, ""
		}
	}
	return out.String(), errors.New("reader made no progress"), ""
}

var bodyTests = []struct {
	name, wire, body string
	rest             string
	maxLine          int
	maxSize          int64
	err              error
}{
	{name: "Empty", wire: ".\r\n", body: ""},
	{name: "Simple", wire: "a\r\nb\r\n.\r\n", body: "a\r\nb\r\n"},
	{name: "BlankLines", wire: "\r\n\r\n.\r\n", body: "\r\n\r\n"},
	{name: "DotStuffed", wire: "..a\r\n.\r\n", body: ".a\r\n"},
	{name: "DotDotAtStart", wire: "..\r\n.\r\n", body: ".\r\n"},
	{name: "ThreeDots", wire: "...x\r\n.\r\n", body: "..x\r\n"},
	{name: "LoneDotLineInside", wire: "x\r\n..\r\ny\r\n.\r\n", body: "x\r\n.\r\ny\r\n"},
	{name: "DotLFIsNotEnd", wire: "a\r\n.\nb\r\n.\r\n", body: "a\r\n\nb\r\n"},
	{name: "DotAfterBareLFIsData", wire: "a\n.\r\nb\r\n.\r\n", body: "a\n.\r\nb\r\n"},
	{name: "DotAfterBareCRIsData", wire: "a\r.\r\n.\r\n", body: "a\r.\r\n"},
	{name: "DotCRThenMore", wire: "a\r\n.\rb\r\n.\r\n", body: "a\r\n\rb\r\n"},
	{name: "DotCRCRLF", wire: "a\r\n.\r\r\n.\r\n", body: "a\r\n\r\r\n"},
	{name: "BareCRBeforeCRLF", wire: "a\rb\r\r\n.\r\n", body: "a\rb\r\r\n"},
	{name: "BareLF", wire: "a\nb\n\r\n.\r\n", body: "a\nb\n\r\n"},
	{name: "NULAnd8bit", wire: "\x00\xff\x80\xe2\x82\xac\r\n.\r\n", body: "\x00\xff\x80\xe2\x82\xac\r\n"},
	{name: "CRLFDotInsideLine", wire: "a.\r\n.b\r\n.\r\n", body: "a.\r\nb\r\n"},
	{name: "StopsAtTerminator", wire: "a\r\n.\r\n+OK next\r\n", body: "a\r\n", rest: "+OK next\r\n"},
	{name: "Truncated", wire: "a\r\nb", body: "a\r\nb", err: io.ErrUnexpectedEOF},
	{name: "TruncatedAtDotCR", wire: "a\r\n.\r", body: "a\r\n", err: io.ErrUnexpectedEOF},
	{name: "NoTerminatorAfterLF", wire: "a\n.\n", body: "a\n.\n", err: io.ErrUnexpectedEOF},
	{name: "LineAtCap", wire: "12345\r\n.\r\n", body: "12345\r\n", maxLine: 5},
	{name: "LineTooLong", wire: "123456\r\n.\r\n", maxLine: 5, err: ErrLineTooLong},
	{name: "StuffingDotNotCounted", wire: "..2345\r\n.\r\n", body: ".2345\r\n", maxLine: 5},
	{name: "BareCRCounts", wire: "12\r345\r\n.\r\n", maxLine: 5, err: ErrLineTooLong},
	{name: "BareLFEndsLineForCap", wire: "1234\n1234\n\r\n.\r\n", body: "1234\n1234\n\r\n", maxLine: 5},
	{name: "LongLineAfterBareLF", wire: "1\n123456\r\n.\r\n", body: "1\n", maxLine: 5, err: ErrLineTooLong},
	{name: "SizeAtCap", wire: "12345\r\n.\r\n", body: "12345\r\n", maxSize: 7},
	{name: "SizeOver", wire: "12345\r\n.\r\n", body: "12345\r", maxSize: 6, err: ErrMessageTooLarge},
	{name: "SizeCountsUnstuffed", wire: "..\r\n.\r\n", body: ".\r\n", maxSize: 3},
	{name: "SizeZeroEmpty", wire: ".\r\n", body: "", maxSize: 1},
	{name: "SizeOverByDotCR", wire: "ab\r\n.\rx\r\n.\r\n", body: "ab\r\n", maxSize: 4, err: ErrMessageTooLarge},
}

var readers = []struct {
	name string
	f    func(io.Reader) io.Reader
}{
	{"Whole", func(r io.Reader) io.Reader { return r }},
	{"OneByte", iotest.OneByteReader},
	{"Half", iotest.HalfReader},
}

func TestBodyReader(t *testing.T) {
	for _, tc := range bodyTests {
		for _, rd := range readers {
			for _, bufSize := range []int{16, 17, 19, 23, 4096} {
				for _, readSize := range []int{1, 2, 3, 5, 7, 64, 4096} {
					name := fmt.Sprintf("%s/%s/buf%d/read%d", tc.name, rd.name, bufSize, readSize)
					body, err, rest := readBody(tc.wire, rd.f, bufSize, readSize, tc.maxLine, tc.maxSize)
					if !errors.Is(err, tc.err) {
						t.Errorf("%s: got error %v, want %v", name, err, tc.err)
						continue
					}
					// On a cap error the body up to the error is not
					// specified more closely than "a prefix".
					if tc.err == nil || errors.Is(tc.err, io.ErrUnexpectedEOF) {
						if body != tc.body {
							t.Errorf("%s: got %q, want %q", name, body, tc.body)
						}
					} else if !strings.HasPrefix(tc.body, body) && !strings.HasPrefix(body, tc.body) {
						t.Errorf("%s: got %q before the error, want a prefix of %q", name, body, tc.body)
					}
					if tc.err == nil && rest != tc.rest {
						t.Errorf("%s: got rest %q, want %q", name, rest, tc.rest)
					}
				}
			}
		}
	}
}

// TestBodyReader_StickyError checks that after an error every Read fails.
func TestBodyReader_StickyError(t *testing.T) {
	r := newBodyReader(bufio.NewReader(strings.NewReader("123456\r\n.\r\n")), 3, 0)
	p := make([]byte, 64)
	for i := range 3 {
		if _, err := r.Read(p); !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("read %d: got %v, want ErrLineTooLong", i, err)
		}
	}
}

// dotStuff is the server side of RFC 1939 §3: a dot is prepended to every
// line that starts with one, a line starting after CRLF or at the start.
func dotStuff(body []byte) []byte {
	var out bytes.Buffer
	atStart := true
	for i, c := range body {
		if atStart && c == '.' {
			out.WriteByte('.')
		}
		out.WriteByte(c)
		atStart = c == '\n' && i > 0 && body[i-1] == '\r'
	}
	return out.Bytes()
}

func TestDotStuffRoundTrip(t *testing.T) {
	for _, body := range []string{"", "\r\n", ".\r\n", "..\r\n", "a\r\n.\r\n.\r\n", ".\n.\r\n", "x\r.\r\n", "\r\n.\r\n"} {
		wire := string(dotStuff([]byte(body))) + ".\r\n"
		got, err, _ := readBody(wire, iotest.OneByteReader, 16, 3, 0, 0)
		if err != nil || got != body {
			t.Errorf("wire %q: got %q, %v, want %q", wire, got, err, body)
		}
	}
}
