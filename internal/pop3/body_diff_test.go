package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// refDecode is a plain, octet-at-a-time decoder of a multi-line body (RFC
// 1939 §3) with bodyReader's caps and quirks, to check bodyReader against.
// It returns the body, what follows the terminator, and nil, or the body up
// to the first octet that failed and the error: ErrLineTooLong,
// ErrMessageTooLarge or io.ErrUnexpectedEOF, unwrapped.
//
// An octet is passed on (and checked against maxSize) once it is known to
// be data; a CR counts towards its line (checked against maxLine) once the
// next octet shows that it does not start a CRLF. An LF, bare or not, ends a
// line for the line cap.
func refDecode(wire []byte, maxLine int, maxSize int64) (body, rest []byte, err error) {
	var out []byte
	lineLen := 0
	crPending := false // the last octet passed on is a CR, not counted yet
	lineStart := true
	pass := func(c byte) error {
		if maxSize > 0 && int64(len(out)) >= maxSize {
			return ErrMessageTooLarge
		}
		out = append(out, c)
		return nil
	}
	countOne := func() error {
		lineLen++
		if maxLine > 0 && lineLen > maxLine {
			return ErrLineTooLong
		}
		return nil
	}
	for i := 0; ; {
		if lineStart {
			lineStart = false
			if i < len(wire) && wire[i] == '.' {
				i++ // stuffing, or the terminator
				if i < len(wire) && wire[i] == '\r' {
					if i+1 == len(wire) {
						return out, nil, io.ErrUnexpectedEOF
					}
					if wire[i+1] == '\n' {
						return out, wire[i+2:], nil
					}
				}
			}
		}
		if i == len(wire) {
			return out, nil, io.ErrUnexpectedEOF
		}
		c := wire[i]
		i++
		if crPending {
			crPending = false
			if c == '\n' { // CRLF
				if err := pass(c); err != nil {
					return out, nil, err
				}
				lineLen = 0
				lineStart = true
				continue
			}
			if err := countOne(); err != nil { // a bare CR
				return out, nil, err
			}
		}
		if err := pass(c); err != nil {
			return out, nil, err
		}
		switch c {
		case '\r':
			crPending = true
		case '\n': // a bare LF: a line end for the cap only
			lineLen = 0
		default:
			if err := countOne(); err != nil {
				return out, nil, err
			}
		}
	}
}

func TestRefDecode(t *testing.T) {
	for _, tc := range bodyTests {
		body, rest, err := refDecode([]byte(tc.wire), tc.maxLine, tc.maxSize)
		if err != tc.err {
			t.Errorf("%s: got error %v, want %v", tc.name, err, tc.err)
			continue
		}
		if (err == nil || err == io.ErrUnexpectedEOF) && string(body) != tc.body {
			t.Errorf("%s: got %q, want %q", tc.name, body, tc.body)
		}
		if err == nil && string(rest) != tc.rest {
			t.Errorf("%s: got rest %q, want %q", tc.name, rest, tc.rest)
		}
	}
}

// splitReader returns its input in reads of the sizes in sizes, cycled
// (a 0 is taken as 1).
type splitReader struct {
	p     []byte
	sizes []byte
	k     int
}

func (s *splitReader) Read(b []byte) (int, error) {
	if len(s.p) == 0 {
		return 0, io.EOF
	}
	n := len(s.p)
	if len(s.sizes) > 0 {
		n = max(1, int(s.sizes[s.k%len(s.sizes)]))
		s.k++
	}
	n = min(n, len(b), len(s.p))
	copy(b, s.p[:n])
	s.p = s.p[n:]
	return n, nil
}

// bodyDecoder is bodyReader or oldBodyReader.
type bodyDecoder interface{ Read([]byte) (int, error) }

// decodeWith reads a whole body through newDec over a bufio.Reader of
// bufSize fed in reads of sizes, reading with buffers of readSizes, cycled.
func decodeWith(newDec func(*bufio.Reader) bodyDecoder, wire, sizes []byte, bufSize int, readSizes []int) (out, rest []byte, err error) {
	br := bufio.NewReaderSize(&splitReader{p: wire, sizes: sizes}, bufSize)
	d := newDec(br)
	buf := make([]byte, slices.Max(readSizes))
	for k := 0; ; k++ {
		if k > len(wire)+100 {
			return out, nil, errors.New("no progress")
		}
		n, err := d.Read(buf[:readSizes[k%len(readSizes)]])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			rest, _ = io.ReadAll(br)
			return out, rest, nil
		}
		if err != nil {
			return out, nil, err
		}
	}
}

// checkBodyDiff decodes wire with bodyReader and oldBodyReader under the
// same splits and caps, and checks that they agree octet for octet and
// error for error, and that both agree with refDecode.
func checkBodyDiff(t *testing.T, wire, sizes []byte, bufSize int, readSizes []int, maxLine int, maxSize int64) {
	t.Helper()
	newR := func(br *bufio.Reader) bodyDecoder { return newBodyReader(br, maxLine, maxSize) }
	oldR := func(br *bufio.Reader) bodyDecoder { return &oldBodyReader{src: br, maxLine: maxLine, maxSize: maxSize} }
	out, rest, err := decodeWith(newR, wire, sizes, bufSize, readSizes)
	oout, orest, oerr := decodeWith(oldR, wire, sizes, bufSize, readSizes)
	what := fmt.Sprintf("wire %q sizes %v buf %d reads %v maxLine %d maxSize %d", wire, sizes, bufSize, readSizes, maxLine, maxSize)
	if fmt.Sprint(err) != fmt.Sprint(oerr) || !bytes.Equal(out, oout) || !bytes.Equal(rest, orest) {
		t.Fatalf("%s:\nnew %q rest %q err %v\nold %q rest %q err %v", what, out, rest, err, oout, orest, oerr)
	}
	rout, rrest, rerr := refDecode(wire, maxLine, maxSize)
	switch {
	case rerr == nil:
		if err != nil || !bytes.Equal(out, rout) || !bytes.Equal(rest, rrest) {
			t.Fatalf("%s:\ngot %q rest %q err %v\nref %q rest %q", what, out, rest, err, rout, rrest)
		}
	case rerr == io.ErrUnexpectedEOF:
		if !errors.Is(err, rerr) || !bytes.Equal(out, rout) {
			t.Fatalf("%s:\ngot %q err %v\nref %q err %v", what, out, err, rout, rerr)
		}
	default: // a cap: the error and a prefix of what comes before it
		if !errors.Is(err, rerr) || !bytes.HasPrefix(rout, out) {
			t.Fatalf("%s:\ngot %q err %v\nref %q err %v", what, out, err, rout, rerr)
		}
	}
}

// randWire returns a random wire octet string: random lines built from
// text, dots, CRs and LFs, mostly ending in CRLF, usually with a
// terminator and something after it.
func randWire(r *rand.Rand, maxLen int) []byte {
	var w []byte
	for len(w) < maxLen {
		if r.IntN(6) == 0 {
			w = append(w, '.')
		}
		for range r.IntN(12) {
			switch r.IntN(10) {
			case 0:
				w = append(w, '\r')
			case 1:
				w = append(w, '\n')
			case 2:
				w = append(w, '.')
			case 3:
				w = append(w, 0, 0xff)
			default:
				w = append(w, "abcdefgh"[:1+r.IntN(8)]...)
			}
		}
		switch r.IntN(8) {
		case 0:
			w = append(w, '\n')
		case 1:
			w = append(w, '\r')
		default:
			w = append(w, '\r', '\n')
		}
	}
	if r.IntN(4) != 0 {
		w = append(w, ".\r\n"...)
		if r.IntN(2) == 0 {
			w = append(w, "+OK next\r\n"...)
		}
	}
	return w
}

// TestBodyReader_Differential runs random bodies through bodyReader, the
// bodyReader before its fast path, and refDecode under random splits and
// caps.
func TestBodyReader_Differential(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	iters := 20000
	if testing.Short() {
		iters = 2000
	}
	for range iters {
		wire := randWire(r, r.IntN(300))
		sizes := make([]byte, r.IntN(4))
		for i := range sizes {
			sizes[i] = byte(1 + r.IntN(40))
		}
		bufSize := 16 + r.IntN(64)
		readSizes := []int{1 + r.IntN(80), 1 + r.IntN(5), 1 + r.IntN(200)}
		maxLine, maxSize := 0, int64(0)
		if r.IntN(3) != 0 {
			maxLine = r.IntN(40)
		}
		if r.IntN(3) != 0 {
			maxSize = int64(r.IntN(len(wire) + 2))
		}
		checkBodyDiff(t, wire, sizes, bufSize, readSizes, maxLine, maxSize)
	}
}

// TestBodyReader_DifferentialMessage runs the benchmark message, with lines
// near the cap, through the same checks with production buffer sizes.
func TestBodyReader_DifferentialMessage(t *testing.T) {
	wire, _ := benchWire(256 << 10)
	r := rand.New(rand.NewPCG(7, 8))
	for _, maxLine := range []int{0, 73, 74, 75, 76, 77, 1 << 20} {
		for _, maxSize := range []int64{0, 1000, 100_001, 200_000, 1 << 20} {
			sizes := []byte{byte(1 + r.IntN(255)), byte(1 + r.IntN(255))}
			checkBodyDiff(t, wire, nil, maxReplyLine, []int{32 << 10}, maxLine, maxSize)
			checkBodyDiff(t, wire, sizes, 4096+r.IntN(100), []int{1 + r.IntN(5000), 32 << 10}, maxLine, maxSize)
		}
	}
}

// TestBodyReader_ScanDifferential checks that scan leaves the decoder
// exactly as the scan before the fast path did: same octets used and passed
// on, same error, same state and line length, from any state.
func TestBodyReader_ScanDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 200000 {
		in := randWire(r, r.IntN(120))
		if len(in) > 0 && r.IntN(2) == 0 {
			in = in[r.IntN(len(in)):]
		}
		room := r.IntN(len(in) + 5)
		maxLine := 0
		if r.IntN(3) != 0 {
			maxLine = r.IntN(30)
		}
		st := bodyState(r.IntN(int(stDone) + 1))
		lineLen := 0
		if maxLine > 0 && st != stLineStart && st != stDot && st != stDotCR {
			lineLen = r.IntN(maxLine + 1)
		}
		nr := &bodyReader{state: st, lineLen: lineLen, maxLine: maxLine}
		or := &oldBodyReader{state: st, lineLen: lineLen, maxLine: maxLine}
		dst, odst := make([]byte, room), make([]byte, room)
		used, out, err := nr.scan(in, dst)
		oused, oout, oerr := or.scan(in, odst)
		if used != oused || out != oout || fmt.Sprint(err) != fmt.Sprint(oerr) ||
			!bytes.Equal(dst[:out], odst[:oout]) || nr.state != or.state || nr.lineLen != or.lineLen {
			t.Fatalf("scan(%q, room %d) from state %d lineLen %d maxLine %d:\nnew used %d out %q err %v state %d lineLen %d\nold used %d out %q err %v state %d lineLen %d",
				in, room, st, lineLen, maxLine,
				used, dst[:out], err, nr.state, nr.lineLen, oused, odst[:oout], oerr, or.state, or.lineLen)
		}
	}
}

// FuzzBodyReaderDiff checks bodyReader against oldBodyReader and refDecode
// on arbitrary wire data, splits and caps.
func FuzzBodyReaderDiff(f *testing.F) {
	for _, tc := range bodyTests {
		f.Add([]byte(tc.wire), []byte{3, 1}, uint16(tc.maxLine), uint16(tc.maxSize), uint8(0), uint8(7))
	}
	f.Add([]byte("ab\r\n..c\r\nd\re\nf\r\n.\rg\r\n.\r\n"), []byte{}, uint16(3), uint16(0), uint8(200), uint8(50))
	f.Fuzz(func(t *testing.T, wire, sizes []byte, maxLine, maxSize uint16, bufKnob, readKnob uint8) {
		checkBodyDiff(t, wire, sizes, 16+int(bufKnob), []int{1 + int(readKnob), 1 + int(readKnob)/7}, int(maxLine), int64(maxSize))
	})
}

// oldBodyReader is bodyReader as it was before scan got its fast path for
// whole lines (issue 7): the reference for what bodyReader must still do.
type oldBodyReader struct {
	src     *bufio.Reader
	state   bodyState
	lineLen int
	maxLine int
	size    int64
	maxSize int64
	err     error
}

func (r *oldBodyReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := 0
	for n < len(p) {
		if r.src.Buffered() == 0 {
			if n > 0 {
				break
			}
			if _, err := r.src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				r.err = err
				return 0, err
			}
		}
		in, _ := r.src.Peek(r.src.Buffered())
		dst := p[n:]
		if r.maxSize > 0 {
			if room := r.maxSize - r.size; int64(len(dst)) > room {
				dst = dst[:room]
			}
		}
		used, out, err := r.scan(in, dst)
		r.src.Discard(used)
		n += out
		r.size += int64(out)
		switch {
		case err != nil:
			r.err = err
			return n, err
		case r.state == stDone:
			r.err = io.EOF
			return n, io.EOF
		case used < len(in) && r.maxSize > 0 && r.size >= r.maxSize:
			r.err = fmt.Errorf("%w: more than %d octets", ErrMessageTooLarge, r.maxSize)
			return n, r.err
		}
	}
	return n, nil
}

func (r *oldBodyReader) scan(in, dst []byte) (used, out int, err error) {
	i, o := 0, 0
	for i < len(in) {
		switch r.state {
		case stMid:
			if o == len(dst) {
				return i, o, nil
			}
			seg := in[i:]
			if room := len(dst) - o; len(seg) > room {
				seg = seg[:room]
			}
			counted := seg
			if k := bytes.IndexByte(seg, '\r'); k >= 0 {
				seg = seg[:k+1]
				counted = seg[:k]
				r.state = stCR
			}
			if r.maxLine > 0 {
				if err := r.count(counted); err != nil {
					return i, o, err
				}
			}
			copy(dst[o:], seg)
			i += len(seg)
			o += len(seg)
		case stCR:
			if in[i] != '\n' {
				r.state = stMid
				if r.maxLine > 0 {
					if err := r.count(crlf[:1]); err != nil {
						return i, o, err
					}
				}
				continue
			}
			if o == len(dst) {
				return i, o, nil
			}
			dst[o] = '\n'
			i++
			o++
			r.lineLen = 0
			r.state = stLineStart
		case stLineStart:
			r.state = stMid
			if in[i] == '.' {
				i++
				r.state = stDot
			}
		case stDot:
			r.state = stMid
			if in[i] == '\r' {
				i++
				r.state = stDotCR
			}
		case stDotCR:
			if in[i] == '\n' {
				r.state = stDone
				return i + 1, o, nil
			}
			if o == len(dst) {
				return i, o, nil
			}
			dst[o] = '\r'
			o++
			r.state = stCR
		case stDone:
			return i, o, nil
		}
	}
	return i, o, nil
}

func (r *oldBodyReader) count(seg []byte) error {
	for {
		k := bytes.IndexByte(seg, '\n')
		if k < 0 {
			r.lineLen += len(seg)
			break
		}
		if r.lineLen+k > r.maxLine {
			r.lineLen += k
			break
		}
		r.lineLen = 0
		seg = seg[k+1:]
	}
	if r.lineLen > r.maxLine {
		return fmt.Errorf("%w: a line is longer than %d octets", ErrLineTooLong, r.maxLine)
	}
	return nil
}
