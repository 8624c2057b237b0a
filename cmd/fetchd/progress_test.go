package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"fetchd/internal/config"
	"fetchd/internal/fetch"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/testharness"
)

var (
	cursorUpErase = regexp.MustCompile(`\x1b\[(\d+)A\x1b\[J`)
	colour        = regexp.MustCompile(`\x1b\[[0-9;]*m`)
)

// screen is what a terminal shows after out: mpb redraws its lines by
// moving the cursor up over them and erasing to the end (ESC[nA ESC[J).
func screen(out string) []string {
	var lines []string
	add := func(s string) {
		s = strings.ReplaceAll(colour.ReplaceAllString(s, ""), "\r", "")
		for l := range strings.Lines(s) {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}
	pos := 0
	for _, m := range cursorUpErase.FindAllStringSubmatchIndex(out, -1) {
		add(out[pos:m[0]])
		n, _ := strconv.Atoi(out[m[2]:m[3]])
		lines = lines[:max(0, len(lines)-n)]
		pos = m[1]
	}
	add(out[pos:])
	return lines
}

// lineWith returns the screen's line that starts with prefix.
func lineWith(lines []string, prefix string) (string, bool) {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l, true
		}
	}
	return "", false
}

// testProgress draws as on an 100-column terminal into out, refreshing
// often so that tests wait little.
func testProgress(out *lockedBuffer) *progressUI {
	return newProgress(out, mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(100), mpb.WithRefreshRate(5*time.Millisecond))
}

type scripted struct {
	account    string
	toFetch    int
	size       int64 // of each message
	stopAfter  int   // messages reported before the test looks
	wantCounts string
	wantBytes  string
}

// Several polls report at once; the screen shows one line per account
// that has something to fetch, with its counts and bytes; log lines go
// above the lines; each account's summary line replaces its line, once.
func TestProgress_LinesThenSummaries(t *testing.T) {
	accounts := []scripted{
		{"alice", 3, 1 << 20, 2, "2/3 msgs", "2.0 MiB / 3.0 MiB"},
		{"bob", 4567, 1 << 10, 1500, "1,500/4,567 msgs", "1.5 MiB / 4.5 MiB"},
		{"carol", 0, 0, 0, "", ""}, // nothing new: no line
	}
	var out lockedBuffer
	ui := testProgress(&out)
	log := ui.logger(&config.Config{LogLevel: "info"}, os.Stderr)

	var wg sync.WaitGroup
	for _, a := range accounts {
		hook := ui.hook(a.account)
		wg.Go(func() {
			p := fetch.Progress{Phase: fetch.ProgressListed, ToFetch: a.toFetch, ToFetchBytes: int64(a.toFetch) * a.size}
			hook(p)
			p.Phase = fetch.ProgressMessage
			for range a.stopAfter {
				p.Fetched++
				p.Bytes += a.size
				hook(p)
			}
			log.Warn().Str("account", a.account).Msg("scripted warning")
		})
	}
	wg.Wait()

	var lines []string
	eventually(t, 5*time.Second, "a frame with every account's counts and warning", func() bool {
		lines = screen(out.String())
		if strings.Count(strings.Join(lines, "\n"), "scripted warning") < len(accounts) {
			return false
		}
		for _, a := range accounts[:2] {
			if l, ok := lineWith(lines, a.account+" "); !ok || !strings.Contains(l, a.wantCounts) || !strings.Contains(l, a.wantBytes) {
				return false
			}
		}
		return true
	})
	t.Logf("frame:\n%s", strings.Join(lines, "\n"))
	if l, ok := lineWith(lines, "carol "); ok {
		t.Errorf("carol has nothing to fetch but a line: %q", l)
	}
	firstBar := len(lines)
	for i, l := range lines {
		if strings.Contains(l, "msgs") {
			firstBar = min(firstBar, i)
		} else if strings.Contains(l, "scripted warning") && i > firstBar {
			t.Errorf("log line %q is below a progress line", l)
		}
	}
	if n := strings.Count(strings.Join(lines, "\n"), "scripted warning"); n != len(accounts) {
		t.Errorf("%d warnings on the screen, want %d", n, len(accounts))
	}

	results := make([]fetch.Result, len(accounts))
	for i, a := range accounts {
		results[i] = fetch.Result{Account: a.account, Fetched: a.stopAfter}
		wg.Go(func() { ui.finish(&results[i]) })
	}
	wg.Wait()
	ui.wait()
	ui.wait() // a second call does nothing
	log.Warn().Msg("after the bars")

	lines = screen(out.String())
	text := strings.Join(lines, "\n")
	for i := range results {
		if n := strings.Count(text, summary(&results[i])); n != 1 {
			t.Errorf("summary %q is on the screen %d times, want once:\n%s", summary(&results[i]), n, text)
		}
	}
	if strings.Contains(text, "msgs") {
		t.Errorf("progress lines left on the screen after wait:\n%s", text)
	}
	if !strings.HasSuffix(text, "after the bars") {
		t.Errorf("a log line after wait is not written last:\n%s", text)
	}
}

// A poll that ends without finish (an early return) does not keep wait
// waiting for its line.
func TestProgress_WaitEndsUnfinishedLines(t *testing.T) {
	var out lockedBuffer
	ui := testProgress(&out)
	ui.hook("dave")(fetch.Progress{Phase: fetch.ProgressListed, ToFetch: 2, ToFetchBytes: 2048})
	done := make(chan struct{})
	go func() { ui.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait still waits 5s after the last poll ended")
	}
	if text := strings.Join(screen(out.String()), "\n"); strings.Contains(text, "dave") {
		t.Errorf("dave's line is left on the screen:\n%s", text)
	}
	ui.hook("dave")(fetch.Progress{Phase: fetch.ProgressMessage, ToFetch: 2, Fetched: 1}) // no panic, no line
	ui.finish(&fetch.Result{Account: "dave"})
	if got, want := out.String(), summary(&fetch.Result{Account: "dave"}); !strings.HasSuffix(got, want+"\n") {
		t.Errorf("finish after wait wrote %q at the end, want %q", got, want)
	}
}

// Off a terminal there is no progress: nothing to hook, and the nil
// display's methods do nothing.
func TestProgress_OffTerminal(t *testing.T) {
	file, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tests := []struct {
		name           string
		stdout, stderr io.Writer
		on             bool
	}{
		{"buffers", &bytes.Buffer{}, &bytes.Buffer{}, true},
		{"regular file", file, file, true},
		{"--no-progress", os.Stdout, os.Stdout, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ui := progressFor(tt.stdout, tt.stderr, tt.on)
			if ui != nil {
				t.Fatalf("progress is on")
			}
			if ui.hook("x") != nil {
				t.Error("a nil display hands out a hook")
			}
			ui.finish(&fetch.Result{Account: "x"})
			ui.wait()
		})
	}
}

func TestETA(t *testing.T) {
	start := time.Now().Add(-10 * time.Second)
	for _, tt := range []struct {
		current, total int64
		want           string
	}{
		{0, 100, ""},           // no rate yet
		{25, 100, "ETA 30s"},   // 10s for 25: 30s for the other 75
		{1, 100, "ETA 16m30s"}, // a large first sync
		{100, 100, ""},
		{120, 100, ""}, // LIST sizes are estimates
	} {
		if got := eta(start)(decor.Statistics{Current: tt.current, Total: tt.total}); got != tt.want {
			t.Errorf("eta after 10s at %d/%d = %q, want %q", tt.current, tt.total, got, tt.want)
		}
	}
}

// The log above the bars keeps the configured format.
func TestProgress_LoggerFormats(t *testing.T) {
	for _, tt := range []struct{ format, want string }{
		{"json", `{"level":"warn","account":"a",`},
		{"console", "WRN hello account=a"},
		{"auto", "WRN hello account=a"},
	} {
		var out lockedBuffer
		ui := testProgress(&out)
		log := ui.logger(&config.Config{LogFormat: tt.format}, os.Stderr)
		log.Warn().Str("account", "a").Msg("hello")
		log.Debug().Msg("below the level")
		ui.wait()
		text := strings.Join(screen(out.String()), "\n")
		if !strings.Contains(text, tt.want) || strings.Contains(text, "below the level") {
			t.Errorf("log_format %q wrote %q, want a line with %q and no debug line", tt.format, text, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {4567, "4,567"}, {1234567, "1,234,567"}, {-5, "-5"}} {
		if got := thousands(tt.n); got != tt.want {
			t.Errorf("thousands(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// progressServer is a fake server whose mailbox takes each of two
// accounts about half a second to fetch: long enough for a few frames.
func progressServer(t *testing.T) (cfg string, names []string) {
	t.Helper()
	srv := pop3test.NewServer(t)
	srv.AnyUser = true
	srv.BodyRate = 200 << 10
	for i := range 4 {
		body := fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, strings.Repeat("x", 25<<10))
		srv.Messages = append(srv.Messages, pop3test.Message{UID: fmt.Sprint("m", i), Body: []byte(body)})
	}
	srv.Start()
	return onceConfig(t, t.TempDir(), "", []string{srv.Addr(), srv.Addr()})
}

// Off a terminal `fetchd once` writes the summary lines and nothing else.
func TestOnce_OffTerminalOnlySummaries(t *testing.T) {
	cfg, names := progressServer(t)
	var stdout, stderr lockedBuffer
	if code := run(context.Background(), []string{"once", "-c", cfg}, &stdout, &stderr); code != exitOK {
		t.Fatalf("fetchd once exited %d; stderr:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != len(names) {
		t.Fatalf("stdout has %d lines, want %d summary lines:\n%s", len(lines), len(names), stdout.String())
	}
	for i, name := range names {
		if !strings.HasPrefix(lines[i], name+": 4 fetched, 0 deleted, 0 failed (") {
			t.Errorf("line %d is %q, want %s's summary", i+1, lines[i], name)
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), "\x1b") {
		t.Errorf("escape sequences off a terminal:\n%q\n%q", stdout.String(), stderr.String())
	}
}

// On a terminal (a pty from script(1)) the real binary draws progress
// lines, and leaves each account's summary line once and no progress line.
func TestOnce_ProgressOnTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("script(1) (util-linux) is missing: it gives fetchd a terminal")
		}
		t.Skip("no script(1) to give fetchd a terminal")
	}
	cfg, names := progressServer(t)
	bin := testharness.Binary(t)
	line := fmt.Sprintf("stty cols 100 rows 30; exec %s once -c %s", bin, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qfec", line, "/dev/null")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%q", line, err, out)
	}
	raw := string(out)
	if !cursorUpErase.MatchString(raw) {
		t.Errorf("no frame was redrawn on the terminal:\n%q", raw)
	}
	for _, name := range names {
		if !regexp.MustCompile(name + ` +[0-4]/4 msgs .*KiB / 100\.\d KiB`).MatchString(raw) {
			t.Errorf("no progress line for %s:\n%q", name, raw)
		}
	}
	text := strings.Join(screen(raw), "\n")
	for _, name := range names {
		if n := strings.Count(text, name+": 4 fetched, 0 deleted, 0 failed ("); n != 1 {
			t.Errorf("%s's summary line is on the screen %d times, want once:\n%s", name, n, text)
		}
	}
	if strings.Contains(text, "msgs") {
		t.Errorf("progress lines left on the screen:\n%s", text)
	}
	t.Logf("screen at the end:\n%s", text)
}
