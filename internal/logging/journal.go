package logging

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// Syslog priorities as sd-daemon(3) defines them (SD_EMERG … SD_DEBUG).
const (
	prioEmerg   = 0
	prioCrit    = 2
	prioErr     = 3
	prioWarning = 4
	prioInfo    = 6
	prioDebug   = 7
)

// priority maps a zerolog level to the syslog priority journald records.
// Events without a level (zerolog's Log) are informational.
func priority(l zerolog.Level) int {
	switch {
	case l == zerolog.NoLevel:
		return prioInfo
	case l <= zerolog.DebugLevel:
		return prioDebug
	case l == zerolog.InfoLevel:
		return prioInfo
	case l == zerolog.WarnLevel:
		return prioWarning
	case l == zerolog.ErrorLevel:
		return prioErr
	case l == zerolog.FatalLevel:
		return prioCrit
	default: // panic
		return prioEmerg
	}
}

// JournalWriter renders zerolog's JSON events for journald's stream
// protocol: "<N>message key=value …" per line, N the syslog priority. There
// is no timestamp (journald adds its own), no colour and no level name (the
// priority carries it). A message of several lines gets the prefix on every
// line, or journald would record the later lines at the default priority.
// It is safe for concurrent use; each event is one Write to Out.
type JournalWriter struct {
	out io.Writer

	mu  sync.Mutex
	buf bytes.Buffer // rendered event, reused under mu
	res bytes.Buffer // prefixed lines, reused under mu
}

var _ zerolog.LevelWriter = (*JournalWriter)(nil)

// NewJournalWriter returns a JournalWriter writing to out.
func NewJournalWriter(out io.Writer) *JournalWriter {
	return &JournalWriter{out: out}
}

// Write writes an event without a known level at the info priority.
func (w *JournalWriter) Write(p []byte) (int, error) {
	return w.WriteLevel(zerolog.NoLevel, p)
}

// WriteLevel writes the JSON event p at the priority of level.
func (w *JournalWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Reset()
	cw := zerolog.ConsoleWriter{
		Out:          &w.buf,
		NoColor:      true,
		PartsExclude: []string{zerolog.TimestampFieldName, zerolog.LevelFieldName},
		// Trailing line ends of a message would leave empty lines or
		// separate the fields from it.
		FormatMessage: func(i any) string {
			if i == nil {
				return ""
			}
			return strings.TrimRight(fmt.Sprint(i), "\r\n")
		},
	}
	var text []byte
	if _, err := cw.Write(p); err != nil {
		// Not an event zerolog wrote: pass it on as it is rather than
		// lose it.
		text = p
	} else {
		text = w.buf.Bytes()
	}
	prefix := fmt.Sprintf("<%d>", priority(level))
	w.res.Reset()
	for line := range bytes.Lines(bytes.TrimRight(text, "\r\n")) {
		w.res.WriteString(prefix)
		w.res.Write(bytes.TrimRight(line, "\r\n"))
		w.res.WriteByte('\n')
	}
	if _, err := w.out.Write(w.res.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
