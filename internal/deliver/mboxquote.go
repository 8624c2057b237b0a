package deliver

import (
	"bytes"
	"io"
	"time"
)

// mboxrdWriter applies mboxrd quoting to a stream in LF form: every line that
// matches ^>*From  gets one more '>' in front, so that a reader can tell the
// message's own lines from the "From " line that starts the next message, and
// undo the quoting exactly by removing one '>' from every line that matches
// ^>+From . (mboxo quotes only ^From , which cannot be undone.)
//
// It is streaming: a line start split across Write calls is handled, and at
// most the four bytes of a partial "From" are held back. Inserting the extra
// '>' anywhere in the leading run of '>' gives the same line, so the run is
// passed through as it comes and the '>' is added just before "From ".
// Flush writes what is held back at the end of the stream.
type mboxrdWriter struct {
	w       io.Writer
	state   int // quoteLineStart, quoteMatching or quoteInLine
	matched int // bytes of "From " matched so far, in quoteMatching
	buf     []byte
	err     error
}

const (
	quoteLineStart = iota // at a line start or inside its leading run of '>'
	quoteMatching         // after the run, a prefix of "From " seen
	quoteInLine           // the line cannot match any more
)

var fromSpace = []byte("From ")

func newMboxrdWriter(w io.Writer) *mboxrdWriter { return &mboxrdWriter{w: w} }

// Write quotes p and writes it. It returns len(p) or the underlying error.
func (q *mboxrdWriter) Write(p []byte) (int, error) {
	if q.err != nil {
		return 0, q.err
	}
	out := q.buf[:0]
	for i := 0; i < len(p); {
		c := p[i]
		switch q.state {
		case quoteInLine:
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				out = append(out, p[i:]...)
				i = len(p)
				continue
			}
			out = append(out, p[i:i+j+1]...)
			i += j + 1
			q.state = quoteLineStart
			continue
		case quoteLineStart:
			switch c {
			case '>', '\n':
				out = append(out, c)
			case 'F':
				q.state, q.matched = quoteMatching, 1
			default:
				out = append(out, c)
				q.state = quoteInLine
			}
		case quoteMatching:
			if c == fromSpace[q.matched] {
				q.matched++
				if q.matched == len(fromSpace) {
					out = append(out, '>')
					out = append(out, fromSpace...)
					q.state = quoteInLine
				}
				break
			}
			out = append(out, fromSpace[:q.matched]...)
			out = append(out, c)
			q.state = quoteInLine
			if c == '\n' {
				q.state = quoteLineStart
			}
		}
		i++
	}
	q.buf = out[:0]
	if len(out) > 0 {
		if _, err := q.w.Write(out); err != nil {
			q.err = err
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes a partial "From" held back at the end of the stream.
func (q *mboxrdWriter) Flush() error {
	if q.err == nil && q.state == quoteMatching {
		q.state = quoteInLine
		_, q.err = q.w.Write(fromSpace[:q.matched])
	}
	return q.err
}

// fromLine returns the line that starts a message in an mbox:
//
//	From <envelope sender> <asctime date in UTC>
//
// The null sender is written MAILER-DAEMON, as sendmail and Postfix do. The
// sender is a single word in this line, so whitespace and control characters
// in it (a quoted local part, or a CR/LF that would start a forged line) are
// replaced by '_'.
func fromLine(sender string, now time.Time) []byte {
	if sender == "" {
		sender = "MAILER-DAEMON"
	}
	b := []byte("From ")
	for i := 0; i < len(sender); i++ {
		c := sender[i]
		if c <= ' ' || c == 0x7f {
			c = '_'
		}
		b = append(b, c)
	}
	b = append(b, ' ')
	b = now.UTC().AppendFormat(b, time.ANSIC)
	return append(b, '\n')
}
