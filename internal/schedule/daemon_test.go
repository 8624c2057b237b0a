package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/config"
	"fetchd/internal/fetch"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// fakePolls is a PollFunc that records what ran and how many ran at once.
type fakePolls struct {
	mu       sync.Mutex
	hold     time.Duration
	polls    map[string]int
	active   map[string]int // per server
	peak     map[string]int
	total    int
	peakAll  int
	result   func(name string, n int) fetch.Result // nil: success
	block    chan struct{}                         // when set, polls wait for it (or drain/ctx)
	drained  int
	canceled int
}

func newFakePolls(hold time.Duration) *fakePolls {
	return &fakePolls{hold: hold, polls: map[string]int{}, active: map[string]int{}, peak: map[string]int{}}
}

func (f *fakePolls) poll(ctx context.Context, a *config.Account, req Request) fetch.Result {
	f.mu.Lock()
	f.polls[a.Name]++
	n := f.polls[a.Name]
	f.active[a.Server]++
	f.total++
	f.peak[a.Server] = max(f.peak[a.Server], f.active[a.Server])
	f.peakAll = max(f.peakAll, f.total)
	block := f.block
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active[a.Server]--
		f.total--
		f.mu.Unlock()
	}()
	start := time.Now()
	if block != nil {
		select {
		case <-block:
		case <-req.Drain:
			f.mu.Lock()
			f.drained++
			f.mu.Unlock()
			return fetch.Result{Account: a.Name, Start: start, Err: fetch.ErrDrained, Fetched: 1, Listed: 1}
		case <-ctx.Done():
			f.mu.Lock()
			f.canceled++
			f.mu.Unlock()
			return fetch.Result{Account: a.Name, Start: start, Err: ctx.Err()}
		}
	}
	time.Sleep(f.hold)
	if f.result != nil {
		r := f.result(a.Name, n)
		r.Account, r.Start, r.Duration = a.Name, start, time.Since(start)
		return r
	}
	return fetch.Result{Account: a.Name, Start: start, Duration: time.Since(start), Fetched: 1}
}

func (f *fakePolls) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls[name]
}

// recorder is an Observer and a Notifier.
type recorder struct {
	mu      sync.Mutex
	skipped map[string]int // reason → count
	states  map[string]string
	events  []string
}

func newRecorder() *recorder {
	return &recorder{skipped: map[string]int{}, states: map[string]string{}}
}

func (r *recorder) ObservePoll(string, *fetch.Result) {}
func (r *recorder) SkippedPoll(_, reason string) {
	r.mu.Lock()
	r.skipped[reason]++
	r.mu.Unlock()
}
func (r *recorder) SetAccountState(account, state string, _ int, _ time.Time) {
	r.mu.Lock()
	r.states[account] = state
	r.mu.Unlock()
}
func (r *recorder) Forget(account string) {
	r.mu.Lock()
	delete(r.states, account)
	r.mu.Unlock()
}
func (r *recorder) notify(event, account, _ string, _ map[string]any) {
	r.mu.Lock()
	r.events = append(r.events, event+":"+account)
	r.mu.Unlock()
}

func testConfig(accounts ...*config.Account) *config.Config {
	return &config.Config{MaxParallel: 4, MaxPerServer: 2, Accounts: accounts}
}

func testAccount(name, server, schedule string) *config.Account {
	return &config.Account{Name: name, Server: server, User: name, Schedule: schedule,
		BackoffMax: time.Hour, PauseAfterAuthFailures: 3}
}

func start(t *testing.T, opts Options) (*Daemon, func()) {
	t.Helper()
	opts.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	d := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d, stop
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Many accounts on a few servers: never more than max_per_server sessions
// to one server nor max_parallel in all, and every account still polls on
// schedule.
func TestDaemon_LimitsAndSchedules(t *testing.T) {
	var accounts []*config.Account
	for i := range 12 {
		accounts = append(accounts, testAccount(fmt.Sprintf("a%02d", i), fmt.Sprintf("pop%d.example", i%3), "@every 1s"))
	}
	cfg := testConfig(accounts...)
	cfg.MaxParallel, cfg.MaxPerServer = 5, 2
	f := newFakePolls(150 * time.Millisecond)
	_, stop := start(t, Options{Config: cfg, Poll: f.poll})
	eventually(t, 15*time.Second, "every account polled twice", func() bool {
		for _, a := range accounts {
			if f.count(a.Name) < 2 {
				return false
			}
		}
		return true
	})
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for server, peak := range f.peak {
		if peak > 2 {
			t.Errorf("server %s had %d sessions at once, max_per_server is 2", server, peak)
		}
	}
	if f.peakAll > 5 {
		t.Errorf("%d polls ran at once, max_parallel is 5", f.peakAll)
	}
	if f.peakAll < 2 {
		t.Errorf("polls never overlapped (peak %d): accounts do not run in parallel", f.peakAll)
	}
}

func TestDaemon_SkipsTurnWhileRunning(t *testing.T) {
	f := newFakePolls(0)
	f.block = make(chan struct{})
	rec := newRecorder()
	d, stop := start(t, Options{Config: testConfig(testAccount("slow", "s", "@every 1s")), Poll: f.poll, Observer: rec})
	eventually(t, 10*time.Second, "a turn skipped while polling", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.skipped["running"] >= 1
	})
	if n := f.count("slow"); n != 1 {
		t.Fatalf("%d polls started, want 1 while the first runs", n)
	}
	if st := d.Status(); st.Accounts[0].State != "polling" {
		t.Errorf("state %q, want polling", st.Accounts[0].State)
	}
	close(f.block)
	stop()
}

func authError() error {
	return fmt.Errorf("login: %w", &pop3.Error{Command: "PASS", Code: "AUTH", Text: "invalid credentials"})
}

func TestDaemon_PausesAfterAuthFailuresAndResumes(t *testing.T) {
	f := newFakePolls(0)
	var failing sync.Map
	failing.Store("acct", true)
	f.result = func(name string, n int) fetch.Result {
		if v, _ := failing.Load(name); v == true {
			return fetch.Result{Err: authError()}
		}
		return fetch.Result{Fetched: 1}
	}
	rec := newRecorder()
	a := testAccount("acct", "s", "@every 1s")
	a.PauseAfterAuthFailures = 2
	d, stop := start(t, Options{Config: testConfig(a), Poll: f.poll, Observer: rec, Notify: rec.notify, BackoffBase: time.Millisecond})
	eventually(t, 10*time.Second, "account paused", func() bool { return d.Status().Accounts[0].State == "paused" })
	polled := f.count("acct")
	if polled != 2 {
		t.Errorf("%d polls before the pause, want 2", polled)
	}
	time.Sleep(2200 * time.Millisecond)
	if n := f.count("acct"); n != polled {
		t.Fatalf("a paused account polled again (%d polls)", n)
	}
	st := d.Status()
	if st.Summary != "1 accounts, 0 ok, 1 paused" || st.Accounts[0].PausedReason == "" {
		t.Errorf("status %+v", st)
	}
	rec.mu.Lock()
	events := fmt.Sprint(rec.events)
	skippedPaused := rec.skipped["paused"]
	state := rec.states["acct"]
	rec.mu.Unlock()
	if events != "[account_paused:acct]" {
		t.Errorf("events %s, want one account_paused", events)
	}
	if skippedPaused == 0 || state != "paused" {
		t.Errorf("observer saw %d paused skips, state %q", skippedPaused, state)
	}

	failing.Store("acct", false)
	if err := d.Resume("acct"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a poll after resume", func() bool { return f.count("acct") > polled })
	eventually(t, 5*time.Second, "account ok after resume", func() bool {
		s := d.Status().Accounts[0]
		return s.State == "idle" && s.LastResult == "ok"
	})
	if err := d.Resume("nope"); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("Resume(unknown) = %v", err)
	}
	stop()
}

func TestDaemon_ReloadWithNewCredentialsResumes(t *testing.T) {
	f := newFakePolls(0)
	f.result = func(string, int) fetch.Result { return fetch.Result{Err: authError()} }
	a := testAccount("acct", "s", "@every 1s")
	a.PauseAfterAuthFailures = 1
	a.Password = "old"
	d, stop := start(t, Options{Config: testConfig(a), Poll: f.poll, BackoffBase: time.Millisecond})
	eventually(t, 10*time.Second, "account paused", func() bool { return d.Status().Accounts[0].State == "paused" })

	same := *a // a reload that changes nothing keeps the pause
	d.Reload(testConfig(&same))
	if s := d.Status().Accounts[0].State; s != "paused" {
		t.Fatalf("state %q after a reload with the same credentials, want paused", s)
	}
	changed := *a
	changed.Password = "new"
	d.Reload(testConfig(&changed))
	if s := d.Status().Accounts[0].State; s != "idle" {
		t.Fatalf("state %q after a reload with new credentials, want idle", s)
	}
	stop()
}

func TestDaemon_ReloadAddsAndRemovesAccounts(t *testing.T) {
	f := newFakePolls(0)
	rec := newRecorder()
	d, stop := start(t, Options{Config: testConfig(testAccount("old", "s", "@every 1s")), Poll: f.poll, Observer: rec})
	eventually(t, 5*time.Second, "old polled", func() bool { return f.count("old") >= 1 })
	d.Reload(testConfig(testAccount("new", "s", "@every 1s")))
	before := f.count("old")
	eventually(t, 5*time.Second, "new polled", func() bool { return f.count("new") >= 1 })
	time.Sleep(1100 * time.Millisecond)
	if n := f.count("old"); n > before+1 { // one turn may have been under way
		t.Errorf("removed account polled %d more times", n-before)
	}
	if names := d.Accounts(); fmt.Sprint(names) != "[new]" {
		t.Errorf("accounts %v", names)
	}
	rec.mu.Lock()
	_, oldKnown := rec.states["old"]
	rec.mu.Unlock()
	if oldKnown {
		t.Errorf("the observer still tracks the removed account")
	}
	stop()
}

func TestDaemon_PollNowWaitsForRunningPoll(t *testing.T) {
	f := newFakePolls(0)
	f.block = make(chan struct{})
	first := f.block
	d, stop := start(t, Options{Config: testConfig(testAccount("a", "s", "@every 1h")), Poll: f.poll})
	if _, err := d.PollNow(context.Background(), []string{"a"}, Request{}, false, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "first poll running", func() bool { return f.count("a") == 1 })
	got := make(chan []fetch.Result, 1)
	go func() {
		res, err := d.PollNow(context.Background(), []string{"a"}, Request{}, true, true)
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	time.Sleep(100 * time.Millisecond)
	if n := f.count("a"); n != 1 {
		t.Fatalf("%d polls at once for one account", n)
	}
	f.mu.Lock()
	f.block = nil
	f.mu.Unlock()
	close(first)
	res := <-got
	if len(res) != 1 || res[0].Fetched != 1 || f.count("a") != 2 {
		t.Fatalf("PollNow returned %+v after %d polls, want the second poll's result", res, f.count("a"))
	}
	if _, err := d.PollNow(context.Background(), []string{"zz"}, Request{}, true, true); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("PollNow(unknown) = %v", err)
	}
	stop()
}

// Stopping lets a poll in flight finish (Drain), and cancels one that does
// not within the drain timeout.
func TestDaemon_StopDrainsThenCancels(t *testing.T) {
	for _, honourDrain := range []bool{true, false} {
		t.Run(fmt.Sprintf("drain=%v", honourDrain), func(t *testing.T) {
			f := newFakePolls(0)
			f.block = make(chan struct{})
			var poll PollFunc = f.poll
			if !honourDrain {
				poll = func(ctx context.Context, a *config.Account, req Request) fetch.Result {
					req.Drain = nil // a poll stuck in one message
					return f.poll(ctx, a, req)
				}
			}
			d, stop := start(t, Options{Config: testConfig(testAccount("a", "s", "@every 1h")), Poll: poll, DrainTimeout: 300 * time.Millisecond})
			d.PollNow(context.Background(), nil, Request{}, true, false)
			eventually(t, 5*time.Second, "poll running", func() bool { return f.count("a") == 1 })
			stop()
			f.mu.Lock()
			defer f.mu.Unlock()
			if honourDrain && (f.drained != 1 || f.canceled != 0) {
				t.Errorf("drained %d, cancelled %d; want the poll drained", f.drained, f.canceled)
			}
			if !honourDrain && f.canceled != 1 {
				t.Errorf("cancelled %d; want the stuck poll cancelled after the drain timeout", f.canceled)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n     int
		limit time.Duration
		want  time.Duration
	}{
		{1, time.Hour, 30 * time.Second},
		{2, time.Hour, time.Minute},
		{5, time.Hour, 8 * time.Minute},
		{8, time.Hour, time.Hour},
		{1000, time.Hour, time.Hour},
		{3, 90 * time.Second, 90 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(30*time.Second, tt.n, tt.limit); got != tt.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tt.n, tt.limit, got, tt.want)
		}
	}
}

func TestDaemon_BackoffSkipsTurnsAndHonoursLoginDelay(t *testing.T) {
	tests := []struct {
		name    string
		result  fetch.Result
		reason  string
		atLeast time.Duration
	}{
		{"temporary", fetch.Result{Err: errors.New("connection refused")}, "backoff", time.Hour},
		{"in use", fetch.Result{Err: &pop3.Error{Command: "PASS", Code: "IN-USE"}}, "backoff", time.Hour},
		{"login delay code", fetch.Result{Err: &pop3.Error{Command: "PASS", Code: "LOGIN-DELAY"}}, "backoff", loginDelayFallback},
		{"login delay capability", fetch.Result{LoginDelay: 10 * time.Minute}, "login_delay", 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePolls(0)
			f.result = func(string, int) fetch.Result { return tt.result }
			rec := newRecorder()
			d, stop := start(t, Options{Config: testConfig(testAccount("a", "s", "@every 1s")), Poll: f.poll, Observer: rec, BackoffBase: time.Hour})
			eventually(t, 5*time.Second, "a turn skipped", func() bool {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				return rec.skipped[tt.reason] >= 1
			})
			if n := f.count("a"); n != 1 {
				t.Errorf("%d polls, want 1", n)
			}
			st := d.Status().Accounts[0]
			if wait := time.Until(st.NextPoll); wait < tt.atLeast-5*time.Second {
				t.Errorf("next poll in %v, want at least %v", wait, tt.atLeast)
			}
			stop()
		})
	}
}

func TestJittered(t *testing.T) {
	every := func(d time.Duration) *jittered {
		sched, err := parseSchedule("@every " + d.String())
		if err != nil {
			t.Fatal(err)
		}
		return &jittered{inner: sched, max: 30 * time.Second}
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

	// The jitter is at most a tenth of the interval, and does not add up.
	j := every(time.Minute)
	j.rand = func(n int64) int64 { return n - 1 }
	next := j.Next(t0)
	if d := next.Sub(t0); d < time.Minute || d >= time.Minute+6*time.Second {
		t.Fatalf("first activation after %v, want 1m plus under 6s", d)
	}
	for range 10 {
		next = j.Next(next)
	}
	if d := next.Sub(t0); d < 11*time.Minute || d >= 11*time.Minute+6*time.Second {
		t.Fatalf("11th activation after %v: jitter accumulates", d)
	}

	// max caps it for long intervals.
	j = every(time.Hour)
	j.rand = func(n int64) int64 { return n - 1 }
	if d := j.Next(t0).Sub(t0); d < time.Hour || d >= time.Hour+30*time.Second {
		t.Fatalf("activation after %v, want 1h plus under 30s", d)
	}

	// No jitter configured: exactly on schedule.
	j = every(time.Minute)
	j.max = 0
	if d := j.Next(t0).Sub(t0); d != time.Minute {
		t.Fatalf("activation after %v without jitter", d)
	}
}

// memPauses is a PauseStore in memory.
type memPauses struct {
	mu sync.Mutex
	m  map[string]*state.Pause
}

func (p *memPauses) LoadPause(a *config.Account) (*state.Pause, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[mailboxKey(a)], nil
}

func (p *memPauses) SavePause(a *config.Account, pause *state.Pause) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pause == nil {
		delete(p.m, mailboxKey(a))
	} else {
		p.m[mailboxKey(a)] = pause
	}
	return nil
}

func (p *memPauses) has(a *config.Account) bool {
	pause, _ := p.LoadPause(a)
	return pause != nil
}

// A pause survives a restart unless the credentials changed meanwhile, and
// requested polls do not get past it.
func TestDaemon_PauseSurvivesRestart(t *testing.T) {
	f := newFakePolls(0)
	f.result = func(string, int) fetch.Result { return fetch.Result{Err: authError()} }
	pauses := &memPauses{m: map[string]*state.Pause{}}
	a := testAccount("acct", "s", "@every 1h")
	a.PauseAfterAuthFailures = 1
	a.Password = "wrong"
	d, stop := start(t, Options{Config: testConfig(a), Poll: f.poll, Pauses: pauses})
	eventually(t, 10*time.Second, "paused and recorded", func() bool {
		return d.Status().Accounts[0].State == "paused" && pauses.has(a)
	})
	res, err := d.PollNow(context.Background(), nil, Request{}, true, true)
	if err != nil || !errors.Is(res[0].Err, ErrPaused) {
		t.Fatalf("a requested poll of a paused account: %v, %+v; want ErrPaused", err, res)
	}
	stop()
	if n := f.count("acct"); n != 1 {
		t.Fatalf("%d logins, want 1", n)
	}

	// Restarted with the same credentials: still paused, no login.
	d2, stop2 := start(t, Options{Config: testConfig(a), Poll: f.poll, Pauses: pauses})
	time.Sleep(300 * time.Millisecond)
	if st := d2.Status().Accounts[0]; st.State != "paused" || f.count("acct") != 1 {
		t.Fatalf("after a restart: state %q, %d logins; want still paused, no login", st.State, f.count("acct"))
	}
	if err := d2.Resume("acct"); err != nil {
		t.Fatal(err)
	}
	if pauses.has(a) {
		t.Errorf("resume left the pause recorded")
	}
	eventually(t, 5*time.Second, "a login after resume", func() bool { return f.count("acct") == 2 })
	eventually(t, 5*time.Second, "paused again", func() bool { return pauses.has(a) })
	stop2()

	// Restarted with new credentials: the pause is lifted.
	fixed := *a
	fixed.Password = "right"
	f.result = nil
	d3, stop3 := start(t, Options{Config: testConfig(&fixed), Poll: f.poll, Pauses: pauses})
	eventually(t, 5*time.Second, "polled with the new credentials", func() bool { return f.count("acct") == 3 })
	if st := d3.Status().Accounts[0]; st.State == "paused" || pauses.has(a) {
		t.Errorf("after a restart with new credentials: state %q, recorded %v", st.State, pauses.has(a))
	}
	stop3()
}

// One mailbox under two names (a rename by reload while its poll runs) is
// never polled twice at once.
func TestDaemon_OneMailboxOnePollAcrossRename(t *testing.T) {
	f := newFakePolls(0)
	f.block = make(chan struct{})
	first := f.block
	old := testAccount("old", "s", "@every 1h")
	d, stop := start(t, Options{Config: testConfig(old), Poll: f.poll})
	eventually(t, 5*time.Second, "old polling", func() bool { return f.count("old") == 1 })
	renamed := *old
	renamed.Name = "new"
	d.Reload(testConfig(&renamed))
	if _, err := d.PollNow(context.Background(), []string{"new"}, Request{}, true, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := f.count("new"); n != 0 {
		t.Fatalf("the renamed account polled while the old name's poll of the same mailbox ran")
	}
	f.mu.Lock()
	f.block = nil
	f.mu.Unlock()
	close(first)
	res, err := d.PollNow(context.Background(), []string{"new"}, Request{}, true, true)
	if err != nil || res[0].Err != nil || f.count("new") != 1 {
		t.Fatalf("after the old poll ended: %v %+v, %d polls of new", err, res, f.count("new"))
	}
	stop()
}

// A poll request that is not forced (SIGUSR1) honours the backoff; a
// forced one (fetchd once) does not.
func TestDaemon_RequestedPollsAndBackoff(t *testing.T) {
	f := newFakePolls(0)
	f.result = func(string, int) fetch.Result { return fetch.Result{Err: errors.New("connection refused")} }
	d, stop := start(t, Options{Config: testConfig(testAccount("a", "s", "@every 1h")), Poll: f.poll, BackoffBase: time.Hour})
	eventually(t, 5*time.Second, "backing off", func() bool { return d.Status().Accounts[0].State == "backing off" })
	res, _ := d.PollNow(context.Background(), nil, Request{}, false, true)
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "backing off") || f.count("a") != 1 {
		t.Fatalf("unforced poll during backoff: %+v after %d polls; want it refused", res, f.count("a"))
	}
	d.PollNow(context.Background(), nil, Request{}, true, true)
	if n := f.count("a"); n != 2 {
		t.Fatalf("%d polls after a forced request, want 2", n)
	}
	stop()
}
