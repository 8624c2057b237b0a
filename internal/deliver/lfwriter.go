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

var crlf = []byte("\r\n")

// Write converts p and writes it to the underlying writer. It returns len(p)
// on success; on failure it returns 0 and the underlying writer's error.
func (l *LFWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n := len(p)
	if l.cr && n > 0 {
		l.cr = false
		if p[0] == '\n' {
			l.write(p[:1]) // the held CR and this LF make a CRLF: write LF
			p = p[1:]
		} else {
			l.write([]byte{'\r'})
		}
	}
	for l.err == nil {
		i := bytes.Index(p, crlf)
		if i < 0 {
			break
		}
		l.write(p[:i])
		l.write(p[i+1 : i+2]) // the LF of the pair
		p = p[i+2:]
	}
	if len(p) > 0 && p[len(p)-1] == '\r' {
		l.cr = true
		p = p[:len(p)-1]
	}
	l.write(p)
	if l.err != nil {
		return 0, l.err
	}
	return n, nil
}

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
		l.write([]byte{'\r'})
	}
	return l.err
}

// Close calls Flush. It does not close the underlying writer.
func (l *LFWriter) Close() error { return l.Flush() }
