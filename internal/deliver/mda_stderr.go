package deliver

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Bounds on what is kept of an MDA's stderr: a chatty or runaway MDA must
// not fill our memory or our log.
const (
	mdaStderrBytes = 4 << 10 // the kept lines together
	mdaStderrLines = 20
	mdaLineBytes   = 500 // one line; the rest is cut and marked
)

// mdaTail is an io.Writer that keeps the last lines written to it, within the
// bounds above. exec.Cmd writes to it from one goroutine and we read it only
// after Wait, so it needs no lock.
type mdaTail struct {
	lines   []string
	size    int    // bytes in lines
	dropped int    // lines dropped from the front
	cur     []byte // the line being written, at most mdaLineBytes
	cut     bool   // cur was longer than mdaLineBytes
}

func (t *mdaTail) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		room := mdaLineBytes - len(t.cur)
		if len(chunk) > room {
			chunk, t.cut = chunk[:room], true
		}
		t.cur = append(t.cur, chunk...)
		if i < 0 {
			break
		}
		t.endLine()
		p = p[i+1:]
	}
	return n, nil
}

func (t *mdaTail) endLine() {
	line := cleanLine(t.cur)
	if t.cut {
		line += " [cut]"
	}
	t.cur, t.cut = t.cur[:0], false
	if line == "" {
		return
	}
	t.lines = append(t.lines, line)
	t.size += len(line)
	for len(t.lines) > mdaStderrLines || t.size > mdaStderrBytes {
		t.size -= len(t.lines[0])
		t.lines = t.lines[1:]
		t.dropped++
	}
}

// Lines ends an unterminated last line and returns the lines kept, oldest
// first.
func (t *mdaTail) Lines() []string {
	if len(t.cur) > 0 || t.cut {
		t.endLine()
	}
	return t.lines
}

// cleanLine makes b safe for a log line: a trailing CR is dropped, control
// characters and invalid UTF-8 become '?', and surrounding space is trimmed.
func cleanLine(b []byte) string {
	b = bytes.TrimSuffix(b, []byte("\r"))
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20 && r != '\t', r == 0x7f:
			sb.WriteByte('?')
		default:
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return strings.TrimSpace(sb.String())
}
