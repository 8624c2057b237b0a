package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

// mdaScript returns the absolute path of testdata/mda/fake-mda.sh. Tests run
// it through /bin/sh so that a lost executable bit does not matter.
func mdaScript(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "mda", "fake-mda.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeArgv is the argv that runs fake-mda.sh writing to out in mode.
func fakeArgv(t testing.TB, out, mode string, args ...string) []string {
	return append([]string{"/bin/sh", mdaScript(t), out, mode}, args...)
}

// newTestMDA builds an MDA with a private spool directory, and checks at
// the end of the test that the spool directory was left empty.
func newTestMDA(t testing.TB, cfg MDAConfig) *MDA {
	t.Helper()
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	m, err := NewMDA(cfg)
	if err != nil {
		t.Fatalf("NewMDA: %v", err)
	}
	t.Cleanup(func() {
		ents, err := os.ReadDir(cfg.SpoolDir)
		if err != nil {
			t.Error(err)
		}
		for _, e := range ents {
			t.Errorf("spool directory still holds %s", e.Name())
		}
	})
	return m
}

func testEnvelope() *Envelope {
	return &Envelope{
		Account:    "work",
		UIDL:       "u1",
		From:       "sender@example.org",
		Recipients: []string{"user@localhost", "second@localhost"},
		Size:       -1,
		Trace: Trace{
			ReturnPath:  "<sender@example.org>",
			DeliveredTo: "user@localhost",
			Received:    "from pop.example.org by fetchd; Mon, 1 Jan 2024 00:00:00 +0000",
		},
	}
}

const mdaTestBody = "Subject: hi\r\n\r\nhello\r\n"

func mdaReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantMDAErr checks err's kind: nil, temporary or permanent, an *Error
// naming the target, and containing each of substrs.
func wantMDAErr(t *testing.T, m *MDA, err error, kind string, substrs ...string) {
	t.Helper()
	if kind == "ok" {
		if err != nil {
			t.Fatalf("Stage: %v, want success", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Stage succeeded, want a %s error", kind)
	}
	var de *Error
	if !errors.As(err, &de) || de.Target != m.String() {
		t.Errorf("error %v (%T): want an *Error with Target %q", err, err, m.String())
	}
	if got, want := IsPermanent(err), kind == "permanent"; got != want {
		t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestMDA_ExitStatus(t *testing.T) {
	traced := string(bytes.ReplaceAll(append(testEnvelope().Trace.Header(true), mdaTestBody...), []byte("\r\n"), []byte("\n")))
	size := strconv.Itoa(len(traced))
	tests := []struct {
		name      string
		mode      []string
		tempCodes []int
		kind      string // ok, temporary, permanent
		errHas    []string
		wantOut   string // what the MDA copied, when it did
	}{
		{name: "exit 0 after reading all", mode: []string{"copy", "0"}, kind: "ok", wantOut: traced},
		{name: "exit 75 is temporary", mode: []string{"copy", "75"}, kind: "temporary", errHas: []string{"/bin/sh exited with status 75 (temporary failure)"}},
		{name: "exit 1 is permanent", mode: []string{"copy", "1"}, kind: "permanent", errHas: []string{"exited with status 1"}},
		{name: "exit 1 in TempCodes is temporary", mode: []string{"copy", "1"}, tempCodes: []int{1, 2}, kind: "temporary", errHas: []string{"status 1 (temporary failure)"}},
		{name: "exit 67 not in TempCodes is permanent", mode: []string{"copy", "67"}, tempCodes: []int{1}, kind: "permanent", errHas: []string{"status 67"}},
		{name: "killed by a signal is temporary", mode: []string{"signal"}, kind: "temporary", errHas: []string{"killed by signal 9"}, wantOut: traced},
		{name: "exit 0 without reading", mode: []string{"noread"}, kind: "temporary", errHas: []string{"exited 0 but read only 0 of " + size + " bytes"}},
		{name: "exit 0 after reading half", mode: []string{"head", "10"}, kind: "temporary", errHas: []string{"exited 0 but read only 10 of " + size + " bytes"}},
		{name: "usage error with stderr", mode: []string{"bogus"}, kind: "permanent", errHas: []string{"status 64; stderr: fake-mda.sh: unknown mode bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out")
			m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, tt.mode[0], tt.mode[1:]...), TempCodes: tt.tempCodes})
			s, err := m.Stage(context.Background(), testEnvelope(), strings.NewReader(mdaTestBody))
			wantMDAErr(t, m, err, tt.kind, tt.errHas...)
			if (s != nil) != (err == nil) {
				t.Errorf("Stage returned Staged %v with error %v: want a Staged exactly on success", s, err)
			}
			if s != nil {
				if err := s.Commit(context.Background()); err != nil {
					t.Errorf("Commit: %v", err)
				}
				if err := s.Abort(); err != nil {
					t.Errorf("Abort after Commit: %v", err)
				}
			}
			if err != nil {
				var me *MDAError
				if !errors.As(err, &me) {
					t.Errorf("error %v wraps no *MDAError", err)
				}
			}
			if tt.wantOut != "" {
				if got := mdaReadFile(t, out); got != tt.wantOut {
					t.Errorf("MDA read %q, want %q", got, tt.wantOut)
				}
			}
		})
	}
}

func TestMDA_InputIsLFFormWithTraceFirst(t *testing.T) {
	big := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n", 20000) // 1.3 MB, far past a pipe buffer
	tests := []struct {
		name, body, want string
		trace            Trace
	}{
		{
			name:  "trace then body",
			trace: testEnvelope().Trace,
			body:  "Subject: x\r\n\r\nbody\r\n",
			want:  "Return-Path: <sender@example.org>\nDelivered-To: user@localhost\nReceived: from pop.example.org by fetchd; Mon, 1 Jan 2024 00:00:00 +0000\nSubject: x\n\nbody\n",
		},
		{
			name: "no trace, odd bytes kept",
			body: "A: \x00nul\r\nbare\rcr\r\nbare\nlf\r\n8bit \xe9\xff\r\n\r\r\ntrailing cr\r",
			want: "A: \x00nul\nbare\rcr\nbare\nlf\n8bit \xe9\xff\n\r\ntrailing cr\r",
		},
		{name: "empty body", want: ""},
		{name: "big", body: big, want: strings.ReplaceAll(big, "\r\n", "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out")
			m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "copy")})
			env := testEnvelope()
			env.Trace = tt.trace
			// One byte at a time, so CRLF pairs straddle reads.
			body := iotest.OneByteReader(strings.NewReader(tt.body))
			if tt.name == "big" {
				body = strings.NewReader(tt.body)
			}
			if _, err := m.Stage(context.Background(), env, body); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if got := mdaReadFile(t, out); got != tt.want {
				if len(got) > 200 {
					t.Fatalf("MDA read %d bytes, want %d", len(got), len(tt.want))
				}
				t.Errorf("MDA read %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMDA_ShortReadOfBigMessage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "head", "100000")})
	env := &Envelope{Recipients: []string{"u"}}
	_, err := m.Stage(context.Background(), env, strings.NewReader(strings.Repeat("x\r\n", 1<<20)))
	wantMDAErr(t, m, err, "temporary", fmt.Sprintf("read only 100000 of %d bytes", 2<<20))
}

func TestMDA_Placeholders(t *testing.T) {
	tests := []struct {
		name  string
		rcpts []string
		from  string
		args  []string
		want  []string
	}{
		{
			name:  "each placeholder",
			rcpts: []string{"user@localhost", "second@localhost"},
			from:  "sender@example.org",
			args:  []string{"%T", "%F", "-f%F", "100%%", "%%T", "<%T|%F>"},
			want:  []string{"user@localhost", "sender@example.org", "-fsender@example.org", "100%", "%T", "<user@localhost|sender@example.org>"},
		},
		{
			name:  "null sender is an empty argument",
			rcpts: []string{"u"},
			args:  []string{"-f", "%F", "end"},
			want:  []string{"-f", "", "end"},
		},
		{
			name:  "values are literal, one argument each",
			rcpts: []string{"a b*"},
			from:  `x$(touch pwned)'"\ y`,
			args:  []string{"%T", "%F"},
			want:  []string{"a b*", `x$(touch pwned)'"\ y`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "args", tt.args...)})
			env := &Envelope{From: tt.from, Recipients: tt.rcpts}
			if _, err := m.Stage(context.Background(), env, strings.NewReader(mdaTestBody)); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			got := mdaReadFile(t, out+".args")
			if want := strings.Join(tt.want, "\n") + "\n"; got != want {
				t.Errorf("MDA got arguments %q, want %q", got, want)
			}
		})
	}
}

func TestMDA_ShellQuotesValues(t *testing.T) {
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	froms := []string{
		"a$(touch " + pwned + ")@x",
		"a`touch " + pwned + "`@x",
		"o'brien@example.org",
		"'; touch " + pwned + "; '",
		`"; touch ` + pwned + `; "`,
		`back\slash\'@x`,
		"$HOME",
		"*",
		"a b\tc",
		"",
	}
	for i, from := range froms {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			out := filepath.Join(dir, "out"+strconv.Itoa(i))
			// The script path and out are ours, quoted by the test; the
			// placeholders are left bare for the MDA to quote.
			cmd := fmt.Sprintf("/bin/sh %s %s args %%T %%F -f%%F x%%%%y", shellQuote(mdaScript(t)), shellQuote(out))
			m := newTestMDA(t, MDAConfig{Shell: cmd})
			env := &Envelope{From: from, Recipients: []string{from + "-rcpt"}}
			if _, err := m.Stage(context.Background(), env, strings.NewReader(mdaTestBody)); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			want := from + "-rcpt\n" + from + "\n-f" + from + "\nx%y\n"
			if got := mdaReadFile(t, out+".args"); got != want {
				t.Errorf("MDA got arguments %q, want %q", got, want)
			}
			if _, err := os.Stat(pwned); err == nil {
				t.Fatalf("From %q ran a command", from)
			}
		})
	}
}

func TestMDA_String(t *testing.T) {
	tests := []struct {
		cfg  MDAConfig
		want string
	}{
		{MDAConfig{Argv: []string{"/usr/bin/procmail", "-d", "%T"}}, "mda /usr/bin/procmail -d %T"},
		{MDAConfig{Shell: "/usr/bin/procmail -d %T"}, "mda_shell /usr/bin/procmail -d %T"},
	}
	for _, tt := range tests {
		m, err := NewMDA(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestNewMDA_Rejects(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cfg    MDAConfig
		errHas string
	}{
		{"nothing", MDAConfig{}, "no command"},
		{"blank shell", MDAConfig{Shell: " "}, "no command"},
		{"both", MDAConfig{Argv: []string{"x"}, Shell: "x"}, "not both"},
		{"empty argv0", MDAConfig{Argv: []string{""}}, "empty command name"},
		{"unknown placeholder", MDAConfig{Argv: []string{"procmail", "-d", "%t"}}, `argument 2 "%t": unknown placeholder "%t"`},
		{"lone percent", MDAConfig{Argv: []string{"procmail", "100%"}}, `lone "%"`},
		{"unknown in shell", MDAConfig{Shell: "procmail -a %U"}, `unknown placeholder "%U"`},
		{"single-quoted", MDAConfig{Shell: "procmail -d '%T'"}, "placeholder %T inside '…'"},
		{"double-quoted", MDAConfig{Shell: `procmail -f "%F"`}, `placeholder %F inside "…"`},
		{"backslash", MDAConfig{Shell: `procmail -f \%F`}, "placeholder %F after a backslash"},
		{"backslash in double quotes", MDAConfig{Shell: `procmail "\%F"`}, "after a backslash"},
		{"here-document", MDAConfig{Shell: "cat <<EOF\n%F\nEOF"}, "after a here-document"},
		{"ansi-c quoting", MDAConfig{Shell: `x $'it\'s %F'`}, "after $'…'"},
		{"substitution in double quotes", MDAConfig{Shell: `x "$(echo "%F")"`}, "after a command substitution inside double quotes"},
		{"quote in a comment", MDAConfig{Shell: "true # it's\nprocmail '%T'"}, "inside '…'"},
		{"negative timeout", MDAConfig{Argv: []string{"x"}, Timeout: -time.Second}, "negative timeout"},
		{"temp code 0", MDAConfig{Argv: []string{"x"}, TempCodes: []int{0}}, "exit code 0"},
		{"temp code 256", MDAConfig{Argv: []string{"x"}, TempCodes: []int{256}}, "exit code 256"},
		{"missing spool", MDAConfig{Argv: []string{"x"}, SpoolDir: file + "-missing"}, "no such file"},
		{"spool is a file", MDAConfig{Argv: []string{"x"}, SpoolDir: file}, "not a directory"},
		{"owner without home", MDAConfig{Argv: []string{"x"}, Owner: &Owner{Name: "nobody", UID: 65534, GID: 65534}}, "home directory are required"},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			name   string
			cfg    MDAConfig
			errHas string
		}{"other owner without root", MDAConfig{Argv: []string{"x"}, Owner: &Owner{Name: "nobody", UID: 65534, GID: 65534, Home: "/"}}, "needs root"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMDA(tt.cfg)
			if err == nil {
				t.Fatalf("NewMDA(%+v) = %v, want an error containing %q", tt.cfg, m, tt.errHas)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("NewMDA error %q does not contain %q", err, tt.errHas)
			}
		})
	}
}

func TestNewMDA_AcceptsSafeShellPlaceholders(t *testing.T) {
	for _, cmd := range []string{
		"procmail -d %T",
		"procmail -f %F -d %T",
		`echo '%%' "100%%" %T; x=-f%F`,
		`echo "it's" \\%T \%%T`,
		`echo 'a"b' %T`,
		"true # a comment with '%T'\nprocmail %T",
		"x $(echo %T) `echo %F`",
		"x %T <<EOF\n$HOME\nEOF",
	} {
		if _, err := NewMDA(MDAConfig{Shell: cmd}); err != nil {
			t.Errorf("NewMDA(Shell: %q): %v", cmd, err)
		}
	}
}

func TestMDA_Timeout_KillsProcessGroup(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "sleep"), Timeout: 500 * time.Millisecond})
	start := time.Now()
	_, err := m.Stage(context.Background(), testEnvelope(), strings.NewReader(mdaTestBody))
	elapsed := time.Since(start)
	wantMDAErr(t, m, err, "temporary", "/bin/sh stopped: timed out after 500ms")
	if elapsed > 3*time.Second {
		t.Errorf("Stage took %v after a 500ms timeout", elapsed)
	}
	wantGone(t, out+".pid")
}

func TestMDA_Cancel_KillsProcessGroup(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "sleep")})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := m.Stage(ctx, testEnvelope(), strings.NewReader(mdaTestBody))
	wantMDAErr(t, m, err, "temporary", "stopped: context canceled")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Stage took %v after cancel at 300ms", elapsed)
	}
	wantGone(t, out+".pid")
}

// wantGone checks that the process whose pid is in pidFile has died (or is
// a zombie waiting for a reaper).
func wantGone(t *testing.T, pidFile string) {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(mdaReadFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return // reaped
		}
		// /proc/pid/stat: "pid (comm) state …"
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the MDA's kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMDA_GrandchildHoldingStderrDoesNotHang(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "linger")})
	t.Cleanup(func() {
		if pid, err := strconv.Atoi(strings.TrimSpace(mdaReadFile(t, out+".pid"))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	start := time.Now()
	if _, err := m.Stage(context.Background(), testEnvelope(), strings.NewReader(mdaTestBody)); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if elapsed := time.Since(start); elapsed > mdaWaitDelay+3*time.Second {
		t.Errorf("Stage took %v; want about the wait delay %v", elapsed, mdaWaitDelay)
	}
}

func TestMDA_StderrIsBounded(t *testing.T) {
	tests := []struct {
		name  string
		lines string
		code  string
		kind  string
	}{
		{"failure", "1000", "1", "permanent"},
		{"success logs too", "3", "0", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out")
			var mu sync.Mutex
			var logged []string
			m := newTestMDA(t, MDAConfig{
				Argv: fakeArgv(t, out, "stderr", tt.lines, tt.code),
				Log: func(l string) {
					mu.Lock()
					defer mu.Unlock()
					logged = append(logged, l)
				},
			})
			_, err := m.Stage(context.Background(), testEnvelope(), strings.NewReader(mdaTestBody))
			wantMDAErr(t, m, err, tt.kind)
			if len(logged) == 0 || logged[len(logged)-1] != "last line, no newline" {
				t.Fatalf("logged %q: want it to end with the unterminated last line", logged)
			}
			long := logged[len(logged)-2]
			if !strings.HasPrefix(long, "long000") || !strings.HasSuffix(long, " [cut]") || len(long) != mdaLineBytes+len(" [cut]") {
				t.Errorf("long line logged as %q (%d bytes): want it cut at %d bytes", long, len(long), mdaLineBytes)
			}
			if tt.lines == "3" {
				want := []string{"line 1", "line 2", "line 3", long, "last line, no newline"}
				if strings.Join(logged, "\n") != strings.Join(want, "\n") {
					t.Errorf("logged %q, want %q", logged, want)
				}
				return
			}
			if !strings.HasPrefix(logged[0], "[") || !strings.Contains(logged[0], "earlier stderr lines not kept]") {
				t.Errorf("first logged line %q: want a note of the lines dropped", logged[0])
			}
			kept, size := logged[1:], 0
			for _, l := range kept {
				size += len(l)
			}
			if len(kept) > mdaStderrLines || size > mdaStderrBytes {
				t.Errorf("kept %d lines, %d bytes: want at most %d lines and %d bytes", len(kept), size, mdaStderrLines, mdaStderrBytes)
			}
			if kept[len(kept)-3] != "line 1000" {
				t.Errorf("kept %q: want the last lines", kept)
			}
			var me *MDAError
			if !errors.As(err, &me) || strings.Join(me.Stderr, "\n") != strings.Join(kept, "\n") {
				t.Errorf("MDAError.Stderr = %q, want %q", me.Stderr, kept)
			}
			if !strings.HasSuffix(err.Error(), "exited with status 1; stderr: line 998 | line 999 | line 1000 | "+long+" | last line, no newline") {
				t.Errorf("error %q: want the stderr tail at its end", err)
			}
		})
	}
}

func TestMDA_BodyReadErrorRunsNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "copy")})
	boom := errors.New("connection reset")
	body := iotest.TimeoutReader(strings.NewReader(strings.Repeat("x", 100)))
	_, err := m.Stage(context.Background(), testEnvelope(), body)
	wantMDAErr(t, m, err, "temporary", "read body")
	_, err = m.Stage(context.Background(), testEnvelope(), iotest.ErrReader(boom))
	wantMDAErr(t, m, err, "temporary", "read body: connection reset")
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the reader's", err)
	}
	if _, err := os.Stat(out + ".args"); err == nil {
		t.Error("the MDA ran although the body could not be read")
	}
}

func TestMDA_FailsBeforeRunning(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string // after the script's out and mode
		env    *Envelope
		kind   string
		errHas string
	}{
		{"no recipient for %T", []string{"%T"}, &Envelope{}, "temporary", "expand %T: no envelope recipient"},
		{"nil envelope", []string{"%T"}, nil, "temporary", "no envelope recipient"},
		{"newline in sender", []string{"%F"}, &Envelope{From: "a\nb", Recipients: []string{"u"}}, "permanent", `expand %F: value "a\nb" holds a CR, LF or NUL`},
		{"NUL in recipient", []string{"%T"}, &Envelope{Recipients: []string{"a\x00b"}}, "permanent", "expand %T"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "args", tt.argv...)})
			_, err := m.Stage(context.Background(), tt.env, strings.NewReader(mdaTestBody))
			wantMDAErr(t, m, err, tt.kind, tt.errHas)
			if _, err := os.Stat(out + ".args"); err == nil {
				t.Error("the MDA ran")
			}
		})
	}

	t.Run("command not found", func(t *testing.T) {
		m := newTestMDA(t, MDAConfig{Argv: []string{filepath.Join(t.TempDir(), "no-such-mda")}})
		_, err := m.Stage(context.Background(), testEnvelope(), strings.NewReader(mdaTestBody))
		wantMDAErr(t, m, err, "temporary", "start ", "no such file")
	})
	t.Run("cancelled before start", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "copy")})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := m.Stage(ctx, testEnvelope(), strings.NewReader(mdaTestBody))
		wantMDAErr(t, m, err, "temporary", "context canceled")
	})
}

func TestMDA_CleanEnvironment(t *testing.T) {
	t.Setenv("FETCHD_MDA_LEAK", "secret")
	out := filepath.Join(t.TempDir(), "out")
	m := newTestMDA(t, MDAConfig{Argv: fakeArgv(t, out, "copy")})
	var keys []string
	for _, kv := range m.env {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	if got, want := strings.Join(keys, " "), "HOME USER LOGNAME PATH"; got != want {
		t.Errorf("environment holds %s, want %s", got, want)
	}
	if _, err := m.Stage(context.Background(), testEnvelope(), strings.NewReader(mdaTestBody)); err != nil {
		t.Fatal(err)
	}
	got := mdaReadFile(t, out+".env")
	if strings.Contains(got, "FETCHD_MDA_LEAK") {
		t.Errorf("the MDA's environment %q holds one of ours", got)
	}
	if home := os.Getenv("HOME"); home != "" && !strings.Contains(got, "HOME="+home+"\n") {
		t.Errorf("the MDA's environment %q lacks HOME=%s", got, home)
	}
}

func TestMDA_Concurrent(t *testing.T) {
	dir := t.TempDir()
	m := newTestMDA(t, MDAConfig{Shell: fmt.Sprintf("/bin/sh %s %s/%%T copy", shellQuote(mdaScript(t)), shellQuote(dir))})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			env := &Envelope{Recipients: []string{"r" + strconv.Itoa(i)}}
			body := fmt.Sprintf("Message: %d\r\n", i)
			if _, err := m.Stage(context.Background(), env, strings.NewReader(body)); err != nil {
				t.Errorf("Stage %d: %v", i, err)
				return
			}
			if got, want := mdaReadFile(t, filepath.Join(dir, "r"+strconv.Itoa(i))), fmt.Sprintf("Message: %d\n", i); got != want {
				t.Errorf("MDA %d read %q, want %q", i, got, want)
			}
		})
	}
	wg.Wait()
}

// TestMDA_Owner runs the MDA as nobody. The spool file is root's and mode
// 0600 in a directory nobody cannot enter, which works because the command
// gets it as an already open descriptor.
func TestMDA_Owner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	// nobody must be able to reach home: not under t.TempDir(), which is 0700.
	home, err := os.MkdirTemp("", "fetchd-mda-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chmod(home, 0o777); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(home, "fake-mda.sh")
	if err := os.WriteFile(script, []byte(mdaReadFile(t, mdaScript(t))), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(home, "out")
	m := newTestMDA(t, MDAConfig{
		Argv:  []string{"/bin/sh", script, out, "id"},
		Owner: &Owner{Name: "nobody", UID: 65534, GID: 65534, Home: home},
	})
	if _, err := m.Stage(context.Background(), testEnvelope(), strings.NewReader(mdaTestBody)); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	wantGroups := "65534"
	if g := supplementaryGroups(65534); len(g) > 0 {
		var s []string
		for _, id := range g {
			s = append(s, strconv.Itoa(int(id)))
		}
		wantGroups = strings.Join(s, " ")
	}
	want := "65534\n" + wantGroups + "\n" + home + "\n" + home + "\n"
	if got := mdaReadFile(t, out); got != want {
		t.Errorf("the MDA reported uid, groups, HOME, cwd %q, want %q", got, want)
	}
	env := mdaReadFile(t, out+".env")
	for _, kv := range []string{"HOME=" + home, "USER=nobody", "LOGNAME=nobody", "PATH=/usr/local/bin:/usr/bin:/bin", "SHELL=/bin/sh"} {
		if !strings.Contains("\n"+env, "\n"+kv+"\n") {
			t.Errorf("the MDA's environment %q lacks %s", env, kv)
		}
	}
}

func TestMDATail_SplitWrites(t *testing.T) {
	in := "one\r\n\n  two \nthree\x1b[31m\xff\n" + strings.Repeat("y", 600) + "\nfour"
	for _, n := range []int{1, 3, 1000} {
		var tail mdaTail
		for s := in; s != ""; {
			k := min(n, len(s))
			tail.Write([]byte(s[:k]))
			s = s[k:]
		}
		want := []string{"one", "two", "three?[31m?", strings.Repeat("y", 500) + " [cut]", "four"}
		if got := tail.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("writes of %d bytes: lines %q, want %q", n, got, want)
		}
	}
}
