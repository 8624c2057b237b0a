package main

import (
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"fetchd/internal/config"
	"fetchd/internal/fetch"
	"fetchd/internal/logging"
)

// progressUI is the live progress of `fetchd once` on a terminal: one line
// per account that is fetching, and each account's summary line printed
// above them when its poll ends. Accounts waiting for a slot or with
// nothing to fetch get no line, so 200 accounts stay readable. A nil
// *progressUI does nothing: that is `once` off a terminal.
type progressUI struct {
	p   *mpb.Progress
	out io.Writer // written directly once the bars are gone

	mu     sync.Mutex
	bars   map[string]*accountBar
	closed bool
}

// accountBar is one account's line; the counts are read by mpb's
// rendering goroutine.
type accountBar struct {
	bar              *mpb.Bar
	fetched, toFetch atomic.Int64
}

// progressFor returns the live progress for a poll printing to stdout and
// logging to stderr, or nil when it stays off: turned off, or stdout and
// stderr are not one terminal (piped, redirected, run by a service). Both
// must be the terminal because log lines are printed above the bars.
func progressFor(stdout, stderr io.Writer, on bool) *progressUI {
	if !on || !sameTerminal(stdout, stderr) {
		return nil
	}
	return newProgress(stdout)
}

func sameTerminal(a, b io.Writer) bool {
	fa, ok1 := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok1 || !ok2 || !isatty.IsTerminal(fa.Fd()) || !isatty.IsTerminal(fb.Fd()) {
		return false
	}
	sa, err1 := fa.Stat()
	sb, err2 := fb.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// newProgress draws on out; tests add options for a fixed width and
// their own refresh.
func newProgress(out io.Writer, opts ...mpb.ContainerOption) *progressUI {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(out)}, opts...)
	return &progressUI{p: mpb.New(opts...), out: out, bars: map[string]*accountBar{}}
}

// hook is the account's fetch.Account.OnProgress. It is safe for many
// polls at once and costs a few channel operations per message.
func (u *progressUI) hook(account string) func(fetch.Progress) {
	if u == nil {
		return nil
	}
	return func(p fetch.Progress) { u.update(account, p) }
}

func (u *progressUI) update(account string, p fetch.Progress) {
	u.mu.Lock()
	defer u.mu.Unlock()
	b := u.bars[account]
	if b == nil {
		if u.closed || p.ToFetch == 0 {
			return
		}
		b = u.addBar(account)
		if b == nil {
			return
		}
		u.bars[account] = b
	}
	b.toFetch.Store(int64(p.ToFetch))
	b.fetched.Store(int64(p.Fetched))
	b.bar.SetTotal(p.ToFetchBytes, false)
	b.bar.SetCurrent(p.Bytes)
}

// addBar adds a line: "work  12/4,567 msgs [===>   ] 1.2 MiB / 356.0 MiB
// 2.1 MiB/s ETA 2m49s". Rate and ETA go by bytes, averaged since listing:
// the batch path reports messages in bursts, which would whip a moving
// average about.
func (u *progressUI) addBar(account string) *accountBar {
	b := &accountBar{}
	counts := decor.Any(func(decor.Statistics) string {
		return thousands(b.fetched.Load()) + "/" + thousands(b.toFetch.Load()) + " msgs"
	}, decor.WCSyncSpace)
	bar, err := u.p.Add(0, mpb.BarStyle().Build(),
		// Total 0: the bar never completes by itself (sizes from LIST are
		// estimates); finish removes it.
		mpb.PrependDecorators(decor.Name(account, decor.WCSyncSpaceR), counts),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
			decor.Any(eta(time.Now()), decor.WCSyncSpace),
		))
	if err != nil { // the display has ended
		return nil
	}
	b.bar = bar
	return b
}

// eta is the time left at the average rate since start; nothing before
// the first message, when there is no rate yet, and near the end.
func eta(start time.Time) decor.DecorFunc {
	return func(s decor.Statistics) string {
		if s.Current <= 0 || s.Current >= s.Total {
			return ""
		}
		left := time.Duration(float64(time.Since(start)) * float64(s.Total-s.Current) / float64(s.Current))
		if left < time.Second {
			return ""
		}
		return "ETA " + left.Round(time.Second).String()
	}
}

// finish replaces the account's line with its summary line.
func (u *progressUI) finish(r *fetch.Result) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	_, _ = u.writeLocked([]byte(summary(r) + "\n"))
	if b := u.bars[r.Account]; b != nil {
		delete(u.bars, r.Account)
		b.bar.Abort(true)
	}
}

// wait removes what lines are left and ends the display; output after it
// is written directly. Safe to call more than once.
func (u *progressUI) wait() {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return
	}
	u.closed = true
	for name, b := range u.bars {
		delete(u.bars, name)
		b.bar.Abort(true)
	}
	// mpb prints what was written above the bars only with its next frame
	// and drops it at shutdown otherwise; a bar that leaves at once asks
	// for that frame.
	if b, err := u.p.Add(0, nil); err == nil {
		b.Abort(true)
	}
	u.p.Wait()
}

// writeLocked prints p above the bars while there are any.
func (u *progressUI) writeLocked(p []byte) (int, error) {
	if !u.closed {
		if n, err := u.p.Write(p); err == nil {
			return n, nil
		}
		// The display ended on its own (a terminal error): write directly.
	}
	return u.out.Write(p)
}

// aboveBars is the log's output while the bars are drawn.
type aboveBars struct{ u *progressUI }

func (w aboveBars) Write(p []byte) (int, error) {
	w.u.mu.Lock()
	defer w.u.mu.Unlock()
	return w.u.writeLocked(p)
}

// logger is newLogger's logger, printing above the bars when there are
// any. logging.New cannot see the terminal behind aboveBars, so the
// console format and its colour are asked for here; "json" stays JSON.
func (u *progressUI) logger(cfg *config.Config, stderr io.Writer) zerolog.Logger {
	if u == nil {
		return newLogger(cfg, stderr)
	}
	var w io.Writer = aboveBars{u}
	if cfg.LogFormat != "json" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.DateTime}
	}
	return logging.New(cfg.LogLevel, "json", w, nil)
}

// thousands formats n with commas: 4,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s // not a count
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
