package deliver

import (
	"bytes"
	"io"
)

// LFWriter turns each CRLF pair into LF and passes every other byte through
// unchanged: a bare CR stays a CR, a bare LF stays an LF, NUL and 8-bit bytes
// are kept. Its output equals bytes.ReplaceAll(in, "\r\n", "\n") for the whole
// stream, however the input is split across Write calls.
//
// A CR at the end of a Write is held back until the next byte shows whether it
// starts a CRLF; Flush (or Close) writes it at the end of the stream. After an
// error from the underlying writer, every later call returns that error.
type LFWriter struct {
	w   io.Writer
	cr  bool // a CR from the previous Write is held back
	err error
}

// NewLFWriter returns an LFWriter writing to w.
func NewLFWriter(w io.Writer) *LFWriter { return &LFWriter{w: w} }

// Write converts p and writes it to the underlying writer. It returns len(p)
// on success; on failure it returns 0 and the underlying writer's error.
//
// Each CRLF is turned into LF by dropping its CR: the bytes between two
// dropped CRs go out in one underlying Write, so a message with CRLF line
// ends costs one Write per line.
func (l *LFWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	if l.cr {
		l.cr = false
		if p[0] != '\n' {
			l.write(cr) // a bare CR after all
		}
		// Otherwise the held CR and this LF make a CRLF: the CR is dropped
		// and the LF goes out with the first span below.
	}
	if p[len(p)-1] == '\r' {
		l.cr = true // it may start a CRLF that the next Write completes
		p = p[:len(p)-1]
	}
	start := 0 // p[start:i] is converted and not written yet
	for i := 0; ; {
		k := bytes.IndexByte(p[i:], '\r')
		if k < 0 {
			break
		}
		i += k
		if i+1 < len(p) && p[i+1] == '\n' {
			l.write(p[start:i]) // up to the CR; the LF starts the next span
			if l.err != nil {
				return 0, l.err
			}
			start = i + 1
			i += 2
		} else {
			i++ // a bare CR: data
		}
	}
	l.write(p[start:])
	if l.err != nil {
		return 0, l.err
	}
	return n, nil
}

var cr = []byte{'\r'}

func (l *LFWriter) write(p []byte) {
	if l.err != nil || len(p) == 0 {
		return
	}
	_, l.err = l.w.Write(p)
}

// Flush writes a CR held back at the end of the input. Call it once the whole
// stream has been written: a CR flushed mid-stream can no longer join an LF
// that follows.
func (l *LFWriter) Flush() error {
	if l.err == nil && l.cr {
		l.cr = false
		l.write(cr)
	}
	return l.err
}

// Close calls Flush. It does not close the underlying writer.
func (l *LFWriter) Close() error { return l.Flush() }
