package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
)

func TestJournalWriter_Levels(t *testing.T) {
	tests := []struct {
		level zerolog.Level
		want  string
	}{
		{zerolog.TraceLevel, "<7>polled account=work n=3\n"},
		{zerolog.DebugLevel, "<7>polled account=work n=3\n"},
		{zerolog.InfoLevel, "<6>polled account=work n=3\n"},
		{zerolog.WarnLevel, "<4>polled account=work n=3\n"},
		{zerolog.ErrorLevel, "<3>polled account=work n=3\n"},
		{zerolog.FatalLevel, "<2>polled account=work n=3\n"},
		{zerolog.PanicLevel, "<0>polled account=work n=3\n"},
		{zerolog.NoLevel, "<6>polled account=work n=3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			log := zerolog.New(NewJournalWriter(&buf)).Level(zerolog.TraceLevel)
			// WithLevel, unlike Fatal and Panic, neither exits nor panics.
			log.WithLevel(tt.level).Str("account", "work").Int("n", 3).Msg("polled")
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJournalWriter_Formatting(t *testing.T) {
	tests := []struct {
		name string
		log  func(zerolog.Logger)
		want string
	}{
		{"multi-line message",
			func(l zerolog.Logger) { l.Warn().Str("account", "work").Msg("first line\nsecond line\n") },
			"<4>first line\n<4>second line account=work\n"},
		{"CRLF message",
			func(l zerolog.Logger) { l.Info().Msg("a\r\nb") },
			"<6>a\n<6>b\n"},
		{"error first, quoted values",
			func(l zerolog.Logger) {
				l.Error().Err(errors.New("dial tcp: refused")).Str("z", "two words").Str("a", "x\ny").Msg("poll failed")
			},
			"<3>poll failed error=\"dial tcp: refused\" a=\"x\\ny\" z=\"two words\"\n"},
		{"no message",
			func(l zerolog.Logger) { l.Info().Str("k", "v").Send() },
			"<6>k=v\n"},
		{"timestamp field dropped",
			func(l zerolog.Logger) {
				l = l.With().Timestamp().Logger()
				l.Info().Msg("m")
			},
			"<6>m\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(zerolog.New(NewJournalWriter(&buf)))
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJournalWriter_NotJSONPassesThrough(t *testing.T) {
	var buf bytes.Buffer
	w := NewJournalWriter(&buf)
	n, err := w.WriteLevel(zerolog.WarnLevel, []byte("plain\ntext\n"))
	if err != nil || n != 11 {
		t.Fatalf("WriteLevel = %d, %v; want 11, nil", n, err)
	}
	if got, want := buf.String(), "<4>plain\n<4>text\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// stderrFile returns a temp file standing in for stderr and the
// JOURNAL_STREAM value that names it.
func stderrFile(t *testing.T) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return f, fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino))
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestJournalListening(t *testing.T) {
	f, stream := stderrFile(t)
	dev, ino, _ := strings.Cut(stream, ":")
	other, _ := stderrFile(t)
	tests := []struct {
		name   string
		stderr io.Writer
		env    string
		want   bool
	}{
		{"matching dev:ino", f, stream, true},
		{"another file", other, stream, false},
		{"inode differs", f, dev + ":" + ino + "1", false},
		{"device differs", f, dev + "1:" + ino, false},
		{"unset", f, "", false},
		{"malformed", f, "journal", false},
		{"not numbers", f, "a:b", false},
		{"not a file", &bytes.Buffer{}, stream, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := JournalListening(tt.stderr, env("JOURNAL_STREAM", tt.env)); got != tt.want {
				t.Errorf("JournalListening = %v, want %v", got, tt.want)
			}
		})
	}
}

// readBack returns what was written to f.
func readBack(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// consoleLine is zerolog's console format with a time.DateTime timestamp.
var consoleLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WRN hello account=work\n$`)

func TestNew_AutoUsesJournalWhenListening(t *testing.T) {
	for _, format := range []string{"auto", ""} {
		f, stream := stderrFile(t)
		log := New("", format, f, env("JOURNAL_STREAM", stream))
		log.Warn().Str("account", "work").Msg("hello")
		log.Debug().Msg("not at the default level")
		if got, want := readBack(t, f), "<4>hello account=work\n"; got != want {
			t.Errorf("format %q: got %q, want %q", format, got, want)
		}
	}
}

func TestNew_AutoFallsBackToConsoleOnMismatch(t *testing.T) {
	f, _ := stderrFile(t)
	_, otherStream := stderrFile(t)
	log := New("info", "auto", f, env("JOURNAL_STREAM", otherStream))
	log.Warn().Str("account", "work").Msg("hello")
	if got := readBack(t, f); !consoleLine.MatchString(got) {
		t.Errorf("got %q, want the console format matching %s", got, consoleLine)
	}
}

func TestNew_ConsoleIgnoresJournal(t *testing.T) {
	f, stream := stderrFile(t)
	log := New("info", "console", f, env("JOURNAL_STREAM", stream))
	log.Warn().Str("account", "work").Msg("hello")
	if got := readBack(t, f); !consoleLine.MatchString(got) {
		t.Errorf("got %q, want the console format matching %s", got, consoleLine)
	}
}

func TestNew_JSON(t *testing.T) {
	f, stream := stderrFile(t)
	log := New("debug", "json", f, env("JOURNAL_STREAM", stream))
	log.Debug().Str("account", "work").Msg("hello")
	var ev map[string]any
	got := readBack(t, f)
	if err := json.Unmarshal([]byte(got), &ev); err != nil {
		t.Fatalf("not JSON: %q: %v", got, err)
	}
	if _, ok := ev["time"].(string); !ok {
		t.Errorf("no time field in %q", got)
	}
	if ev["level"] != "debug" || ev["message"] != "hello" || ev["account"] != "work" {
		t.Errorf("got %q, want level debug, message hello, account work", got)
	}
}

func TestNew_Levels(t *testing.T) {
	tests := []struct {
		level string
		want  zerolog.Level
	}{
		{"", zerolog.InfoLevel},
		{"trace", zerolog.TraceLevel},
		{"debug", zerolog.DebugLevel},
		{"info", zerolog.InfoLevel},
		{"warn", zerolog.WarnLevel},
		{"error", zerolog.ErrorLevel},
		{"loud", zerolog.InfoLevel},
	}
	for _, tt := range tests {
		if got := New(tt.level, "json", &bytes.Buffer{}, nil).GetLevel(); got != tt.want {
			t.Errorf("level %q: got %v, want %v", tt.level, got, tt.want)
		}
	}
}

func TestNew_NilGetenv(t *testing.T) {
	var buf bytes.Buffer
	log := New("info", "auto", &buf, nil)
	log.Info().Msg("hi")
	if !strings.Contains(buf.String(), "INF hi") {
		t.Errorf("got %q, want the console format", buf.String())
	}
}
