package pop3

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// bodyState is where the body decoder is in the wire format.
type bodyState uint8

const (
	stLineStart bodyState = iota // at the start of a line: body start, or after CRLF
	stMid                        // inside a line
	stCR                         // the last octet passed on was a CR inside a line
	stDot                        // a line started with "."; it was dropped
	stDotCR                      // a line started with ".\r"; an LF now ends the body
	stDone                       // CRLF.CRLF seen
)

// bodyReader decodes a multi-line response body (RFC 1939 §3) as it
// streams through a bufio.Reader, never holding more than its buffer:
//
//   - Only "." CRLF at the start of a line ends the body; a line starts at
//     the start of the body or after CRLF. A bare LF does not start a line,
//     and ".\n" is data.
//   - One leading "." is removed from every other line that starts with one
//     (byte-stuffing).
//   - Every other octet is passed on as it is: NUL, bare CR, bare LF, 8-bit,
//     and CRLF stays CRLF.
//
// Bytes after the terminator are left in the bufio.Reader.
type bodyReader struct {
	src     *bufio.Reader
	state   bodyState
	lineLen int   // octets of the current line so far, without its line ending
	maxLine int   // cap on lineLen; <= 0: none
	size    int64 // octets passed on
	maxSize int64 // cap on size; <= 0: none
	err     error // sticky; io.EOF once stDone
}

func newBodyReader(src *bufio.Reader, maxLine int, maxSize int64) *bodyReader {
	return &bodyReader{src: src, maxLine: maxLine, maxSize: maxSize}
}

// Read passes on as much decoded body as is buffered, blocking only when
// nothing is. It returns io.EOF after the terminator, ErrLineTooLong and
// ErrMessageTooLarge (wrapped) when a cap is exceeded, io.ErrUnexpectedEOF
// when the stream ends early, or the error of the underlying reader.
func (r *bodyReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := 0
	for n < len(p) {
		if r.src.Buffered() == 0 {
			if n > 0 {
				break // hand over what we have rather than block
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
			// scan stopped because it had an octet to pass on and no room,
			// and the room was cut by the size cap.
			r.err = fmt.Errorf("%w: more than %d octets", ErrMessageTooLarge, r.maxSize)
			return n, r.err
		}
	}
	return n, nil
}

// scan decodes in into dst. It stops when in is used up, when the body
// ends, or when it has an octet to pass on and dst is full.
func (r *bodyReader) scan(in, dst []byte) (used, out int, err error) {
	i, o := 0, 0
	for i < len(in) {
		switch r.state {
		case stMid:
			if o == len(dst) {
				return i, o, nil
			}
			// The hot path: whole lines, copied in one span.
			if j := r.lines(in, i, min(len(in), i+len(dst)-o)); j > i {
				copy(dst[o:], in[i:j])
				o += j - i
				i = j
				continue
			}
			// A line that lines leaves alone: copy up to and including
			// the next CR.
			seg := in[i:]
			if room := len(dst) - o; len(seg) > room {
				seg = seg[:room]
			}
			counted := seg
			if k := bytes.IndexByte(seg, '\r'); k >= 0 {
				seg = seg[:k+1]
				counted = seg[:k] // the CR counts once we know it is not part of CRLF
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
				r.state = stMid // a bare CR: data; look at this octet again
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
			// RFC 1939 §3: a line starting with "." is byte-stuffed, or
			// is the terminator.
			if in[i] == '.' {
				i++
				r.state = stDot
			}
		case stDot:
			r.state = stMid // the dot was stuffing; look at this octet again
			if in[i] == '\r' {
				i++
				r.state = stDotCR
			}
		case stDotCR:
			// RFC 1939 §3: CRLF "." CRLF ends the body.
			if in[i] == '\n' {
				r.state = stDone
				return i + 1, o, nil
			}
			// ".\r" and something else: the dot was stuffing, the CR is data.
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

// lines is scan's fast path in stMid: from in[i], in the middle of a line,
// it passes over whole lines that end in CRLF within in[:end] and are within
// the line cap, and returns where it stopped, having left r as scan's states
// would after taking those octets one at a time. It stops
//
//   - at a line start that is at end or starts with a dot, in stLineStart,
//     for scan to look at the dot;
//   - before a line that does not end in CRLF within in[:end], has a bare
//     CR, or may be over the cap (a bare LF in it may still make it fit), in
//     stMid,
//
// so that scan's octet-at-a-time states decide those exactly as before.
func (r *bodyReader) lines(in []byte, i, end int) int {
	for {
		k := bytes.IndexByte(in[i:end], '\r')
		if k < 0 || i+k+1 >= end || in[i+k+1] != '\n' {
			return i
		}
		// The line's octets, bare LFs and all, are k more: within the
		// cap that many, it is within the cap however bare LFs split it.
		if r.maxLine > 0 && r.lineLen+k > r.maxLine {
			return i
		}
		i += k + 2
		r.lineLen = 0
		if i == end || in[i] == '.' {
			r.state = stLineStart
			return i
		}
	}
}

var crlf = []byte("\r\n")

// count adds seg, which holds no CR that may start a CRLF, to the length of
// the current line. QUIRK: for the length cap a bare LF ends a line too, so
// that a message with bare-LF line ends is not taken for one long line.
func (r *bodyReader) count(seg []byte) error {
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
