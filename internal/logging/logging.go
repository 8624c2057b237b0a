// Package logging builds fetchd's logger: zerolog writing JSON, a console
// format for people, or, when stderr is connected to journald, lines with
// the syslog priority prefix that systemd-journald understands
// (sd-daemon(3)), so that `journalctl -p warning` and the journal's colours
// work without a journald client library.
package logging

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// New returns the logger for level ("trace", "debug", "info", "warn",
// "error"; "" or anything zerolog does not know means info) and format:
//
//   - "json": one JSON object per line, with a "time" field;
//   - "console": zerolog's console format with timestamps (time.DateTime),
//     coloured only when stderr is a terminal;
//   - "auto", "" (and anything else): the journal format when journald
//     listens on stderr (see JournalListening), else "console".
//
// getenv is os.Getenv outside tests; nil means os.Getenv.
func New(level, format string, stderr io.Writer, getenv func(string) string) zerolog.Logger {
	if getenv == nil {
		getenv = os.Getenv
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	var w io.Writer
	stamped := true
	switch format {
	case "json":
		w = stderr
	case "console":
		w = consoleWriter(stderr)
	default:
		if JournalListening(stderr, getenv) {
			// The journal stamps every line itself.
			w, stamped = NewJournalWriter(stderr), false
		} else {
			w = consoleWriter(stderr)
		}
	}
	c := zerolog.New(w).Level(lvl).With()
	if stamped {
		c = c.Timestamp()
	}
	return c.Logger()
}

func consoleWriter(out io.Writer) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{Out: out, NoColor: !isTerminal(out), TimeFormat: time.DateTime}
}

// JournalListening reports whether stderr is the stream systemd connected to
// journald. systemd.exec(5): $JOURNAL_STREAM holds "DEV:INO" of that stream;
// checking that it is still our stderr (and not only that the variable is
// set) matters because a process started by a service inherits the variable
// even when its stderr was redirected elsewhere.
func JournalListening(stderr io.Writer, getenv func(string) string) bool {
	f, ok := stderr.(*os.File)
	if !ok || getenv == nil {
		return false
	}
	devS, inoS, ok := strings.Cut(getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// isTerminal reports whether w is a character device, as a terminal is.
// Other character devices (/dev/null) get colour too, which costs nothing.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
