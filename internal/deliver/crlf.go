package deliver

import "io"

// crlfWriter normalises line ends for the SMTP and LMTP DATA stream: CRLF
// stays, and a bare LF or a bare CR each becomes CRLF, so that nothing but
// CRLF ever ends a line on the wire (RFC 5321 §2.3.8, §4.1.1.4: bare CR and
// bare LF are not allowed in DATA). Every other byte is kept: NUL, 8-bit,
// long lines.
//
// It does not dot-stuff. It feeds the textproto DotWriter that go-smtp's
// DataCommand wraps around the connection, and that writer stuffs a leading
// dot at the start of the stream and after every LF, turns a bare LF into
// CRLF, and passes a bare CR through, without stuffing a dot that follows it.
// Fed only CRLF line ends, it stuffs every line that starts with a dot
// exactly once, and "\r." can never reach the wire unstuffed: the smuggling
// sequences "\n.\r\n" and "\r\n.\r" both arrive as a harmless ".." line.
//
// A CR at the end of a Write is held back until the next byte shows whether
// it starts a CRLF. Close writes it as CRLF and ends an unterminated last
// line with CRLF, so the DotWriter's terminator is always ".\r\n" after a
// line end. An empty stream stays empty.
type crlfWriter struct {
	w   io.Writer
	buf []byte
	cr  bool // a CR from the previous Write is held back
	bol bool // the last byte written ended a line
	any bool // something has been written
	err error
}

func newCRLFWriter(w io.Writer) *crlfWriter { return &crlfWriter{w: w, bol: true} }

// Write normalises p and writes it in one call to the underlying writer. It
// returns len(p) on success, 0 and the underlying error on failure; after a
// failure every call returns that error.
func (c *crlfWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.any = true
	out := c.buf[:0]
	for i := 0; i < len(p); {
		b := p[i]
		switch {
		case c.cr:
			c.cr = false
			out = append(out, '\r', '\n')
			if b == '\n' {
				i++ // the LF of a CRLF pair
			}
			continue
		case b == '\r':
			c.cr = true
		case b == '\n':
			out = append(out, '\r', '\n')
		default:
			// Copy the run up to the next CR or LF in one go.
			j := i
			for j < len(p) && p[j] != '\r' && p[j] != '\n' {
				j++
			}
			out = append(out, p[i:j]...)
			i = j
			continue
		}
		i++
	}
	c.buf = out[:0]
	if len(out) == 0 {
		return len(p), nil
	}
	c.bol = !c.cr && out[len(out)-1] == '\n'
	if _, err := c.w.Write(out); err != nil {
		c.err = err
		return 0, err
	}
	return len(p), nil
}

// Close writes a held-back CR as CRLF and ends an unterminated last line. It
// does not close the underlying writer.
func (c *crlfWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	if c.any && (c.cr || !c.bol) {
		c.cr, c.bol = false, true
		if _, err := c.w.Write([]byte("\r\n")); err != nil {
			c.err = err
		}
	}
	return c.err
}
