// Package schedule is fetchd's daemon loop: it polls each account on its
// cron schedule (github.com/robfig/cron/v3) with a little jitter, runs
// accounts in parallel within max_parallel and max_per_server, never polls
// one account twice at once, backs a failing account off exponentially,
// honours the server's LOGIN-DELAY and [IN-USE], and pauses an account whose
// login the server keeps rejecting rather than lock the user out of their
// provider. A config reload is applied without disturbing polls in flight.
//
// It knows nothing of POP3 or delivery: a PollFunc does the polling, and the
// outcome's fetch.Failure drives the backoff.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"fetchd/internal/config"
	"fetchd/internal/fetch"
	"fetchd/internal/oauth"
	"fetchd/internal/state"
)

// ErrUnknownAccount is returned for a request naming no configured account.
var ErrUnknownAccount = errors.New("no such account")

// ErrPaused is the result of a requested poll of a paused account.
var ErrPaused = errors.New("account paused")

// Request is why and how one poll runs.
type Request struct {
	Sync fetch.Sync
	// Drain is closed when the daemon stops: the poll should end after the
	// message in flight (fetch.Poller.Drain).
	Drain <-chan struct{}
}

// PollFunc polls one account once. It must return when ctx ends.
type PollFunc func(ctx context.Context, a *config.Account, req Request) fetch.Result

// Observer is told what the scheduler does; *metrics.Metrics is one.
type Observer interface {
	ObservePoll(account string, r *fetch.Result)
	SkippedPoll(account, reason string)
	SetAccountState(account, state string, consecutiveFailures int, nextAllowed time.Time)
	Forget(account string)
}

// Notifier receives the events that need the user's attention, once each.
type Notifier func(event, account, message string, details map[string]any)

// Options configure a Daemon.
type Options struct {
	Config   *config.Config
	Poll     PollFunc
	Log      zerolog.Logger
	Observer Observer // nil: none
	Notify   Notifier // nil: none
	// DrainTimeout is how long Run waits, after its context ends, for polls
	// to finish the message in flight before it cancels them. Default 5s.
	DrainTimeout time.Duration
	// BackoffBase is the wait after a first failure; it doubles with each
	// further one up to the account's backoff_max. Default 30s.
	BackoffBase time.Duration
	// Pauses keeps pauses across restarts; nil: they last as long as the
	// daemon.
	Pauses PauseStore
}

// PauseStore keeps an account's pause (state.Store, keyed by the account's
// mailbox, is one through a small adapter).
type PauseStore interface {
	LoadPause(a *config.Account) (*state.Pause, error)
	SavePause(a *config.Account, p *state.Pause) error // nil clears
}

// Defaults of Options.
const (
	DefaultDrainTimeout = 5 * time.Second
	DefaultBackoffBase  = 30 * time.Second
	// loginDelayFallback is the wait after an -ERR [LOGIN-DELAY] from a
	// server that announced no LOGIN-DELAY capability.
	loginDelayFallback = 5 * time.Minute
	// inUseMinimum is the least wait after -ERR [IN-USE]: another client
	// holds the mailbox, and it rarely lets go within seconds.
	inUseMinimum = time.Minute
)

// Daemon schedules and runs the polls. Create it with New, run it with Run.
type Daemon struct {
	opts    Options
	log     zerolog.Logger
	lim     *Limiter
	started time.Time

	// pollCtx is what polls run under; it ends only after draining failed.
	pollCtx     context.Context
	cancelPolls context.CancelCauseFunc
	drain       chan struct{}
	polls       sync.WaitGroup

	mu       sync.Mutex
	cfg      *config.Config
	accounts map[string]*account
	// busy holds the mailboxes (server, port, user) being polled, each
	// with the channel closed when that poll ends: one mailbox is never
	// polled twice at once, even by two names of it across a reload.
	busy     map[string]chan struct{}
	cron     *cron.Cron
	stopping bool
}

// account is the scheduler's view of one configured account.
type account struct {
	cfg         *config.Account
	credentials string // credentialsFingerprint of cfg
	schedule    cron.Schedule
	entry       cron.EntryID

	running bool
	done    chan struct{} // closed when the running poll ends

	failures      int       // consecutive failed polls
	authFailures  int       // consecutive polls whose login was rejected
	backoffUntil  time.Time // scheduled polls before this are skipped
	loginDelay    time.Duration
	loginNotUntil time.Time // the server's LOGIN-DELAY: no login before this
	paused        bool
	pausedReason  string

	lastStart, lastEnd time.Time
	lastResult         string // "ok", "partial", "error"
	lastErr            string
	lastSuccess        time.Time
	delivered          int // since the daemon started
	lastDelivered      int

	notified map[string]string // event → what was last told, so each is told once
}

// New returns a daemon for cfg; nothing runs until Run.
func New(opts Options) *Daemon {
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	d := &Daemon{
		opts:     opts,
		log:      opts.Log,
		lim:      NewLimiter(opts.Config.MaxParallel, opts.Config.MaxPerServer),
		cfg:      opts.Config,
		accounts: map[string]*account{},
		busy:     map[string]chan struct{}{},
		drain:    make(chan struct{}),
		cron:     cron.New(cron.WithLocation(time.Local)),
	}
	d.pollCtx, d.cancelPolls = context.WithCancelCause(context.Background())
	for _, c := range opts.Config.Accounts {
		fp := credentialsFingerprint(c)
		if err := d.addLocked(c, fp); err != nil {
			// config validated the schedule; this is a bug, not user input.
			d.log.Error().Err(err).Str("account", c.Name).Msg("account not scheduled")
			continue
		}
		d.restorePause(d.accounts[c.Name], fp)
	}
	return d
}

// restorePause takes up a pause recorded before a restart, unless the
// credentials changed meanwhile.
func (d *Daemon) restorePause(a *account, fp string) {
	if d.opts.Pauses == nil {
		return
	}
	log := d.log.With().Str("account", a.cfg.Name).Logger()
	p, err := d.opts.Pauses.LoadPause(a.cfg)
	switch {
	case err != nil:
		log.Warn().Err(err).Msgf("could not read whether the account was paused; it polls (`fetchd resume %s` clears the record)", a.cfg.Name)
	case p == nil:
	case !pauseMatches(p, fp):
		log.Info().Time("paused_since", p.Since).Msg("credentials changed while fetchd was stopped: pause lifted")
		d.savePause(a.cfg, nil)
	default:
		a.paused, a.pausedReason = true, p.Reason
		a.notified["account_paused"] = "paused"
		log.Error().Time("paused_since", p.Since).Str("reason", p.Reason).
			Msgf("account still paused: fix the credentials, then run `fetchd resume %s` or reload the configuration", a.cfg.Name)
	}
}

func (d *Daemon) savePause(c *config.Account, p *state.Pause) {
	if d.opts.Pauses == nil {
		return
	}
	if err := d.opts.Pauses.SavePause(c, p); err != nil {
		d.log.Warn().Err(err).Str("account", c.Name).Msg("could not record the pause in the state store; a restart lifts it")
	}
}

// Run starts the schedules and returns when ctx ends and every poll has
// stopped: polls first get DrainTimeout to finish the message in flight and
// QUIT, then they are cancelled (the server rolls back what was not
// committed; nothing recorded is lost).
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	d.started = time.Now()
	d.cron.Start()
	d.mu.Unlock()
	d.log.Info().Int("accounts", len(d.opts.Config.Accounts)).Msg("scheduler started")
	// Every account polls once at start, as fetchmail does: a daemon that
	// was down has mail waiting, and a broken account shows at once.
	d.PollNow(ctx, nil, Request{}, false, false)

	<-ctx.Done()
	d.mu.Lock()
	d.stopping = true
	stopCron := d.cron.Stop()
	d.mu.Unlock()
	<-stopCron.Done() // tick jobs are short: they only start goroutines
	close(d.drain)

	done := make(chan struct{})
	go func() { d.polls.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.opts.DrainTimeout):
		d.log.Warn().Dur("waited", d.opts.DrainTimeout).Msg("polls still running after the drain timeout: cancelling them; the servers keep what was not committed")
		d.cancelPolls(fmt.Errorf("fetchd is stopping: %w", context.Cause(ctx)))
		<-done
	}
	d.cancelPolls(errors.New("fetchd stopped"))
	return nil
}

// addLocked schedules a new account; fp is its credentialsFingerprint,
// computed without the lock because it reads the password file.
func (d *Daemon) addLocked(c *config.Account, fp string) error {
	sched, err := parseSchedule(c.Schedule)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", c.Schedule, err)
	}
	a := &account{cfg: c, credentials: fp, schedule: sched, notified: map[string]string{}}
	name := c.Name
	a.entry = d.cron.Schedule(spread(name, sched, c.Jitter), cron.FuncJob(func() { d.tick(name) }))
	d.accounts[name] = a
	d.observeStateLocked(a)
	return nil
}

// tick is a scheduled turn of an account.
func (d *Daemon) tick(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.accounts[name]
	if a == nil || d.stopping {
		return
	}
	now := time.Now()
	log := d.log.With().Str("account", name).Logger()
	switch {
	case a.paused:
		d.skipped(a, "paused")
		log.Debug().Msg("paused: turn skipped")
	case d.busyLocked(a.cfg) != nil:
		d.skipped(a, "running")
		log.Warn().Msg("the previous poll of this mailbox is still running (or waits for a free slot under max_parallel/max_per_server): this turn is skipped")
	case now.Before(a.loginNotUntil):
		d.skipped(a, "login_delay")
		log.Debug().Time("until", a.loginNotUntil).Msg("the server's LOGIN-DELAY has not passed: turn skipped")
	case now.Before(a.backoffUntil):
		d.skipped(a, "backoff")
		log.Debug().Time("until", a.backoffUntil).Int("failures", a.failures).Msg("backing off: turn skipped")
	default:
		d.startLocked(a, Request{}, nil)
	}
}

func (d *Daemon) skipped(a *account, reason string) {
	if d.opts.Observer != nil {
		d.opts.Observer.SkippedPoll(a.cfg.Name, reason)
	}
}

// startLocked starts a poll of a, which is not running. Its result is sent
// to result if that is not nil.
func (d *Daemon) startLocked(a *account, req Request, result chan<- fetch.Result) {
	a.running = true
	a.done = make(chan struct{})
	key := mailboxKey(a.cfg)
	d.busy[key] = a.done
	req.Drain = d.drain
	d.polls.Add(1)
	d.observeStateLocked(a)
	go func() {
		defer d.polls.Done()
		res, cfg := d.runPoll(a, req)
		d.finish(a, key, cfg, res)
		if result != nil {
			result <- res
		}
	}()
}

// errRemoved ends a poll whose account a reload removed while it waited
// for a slot.
var errRemoved = fmt.Errorf("%w: the account was removed by a reload", fetch.ErrDrained)

// runPoll waits for a slot within the limits and polls with the account's
// configuration as it is then (a reload may have changed it meanwhile).
func (d *Daemon) runPoll(a *account, req Request) (fetch.Result, *config.Account) {
	d.mu.Lock()
	cfg := a.cfg
	d.mu.Unlock()
	if err := d.lim.Acquire(d.pollCtx, cfg.Server); err != nil {
		return fetch.Result{Account: cfg.Name, Start: time.Now(), Err: fmt.Errorf("%w: %w", fetch.ErrDrained, err)}, cfg
	}
	defer d.lim.Release(cfg.Server)
	select {
	case <-d.drain:
		return fetch.Result{Account: cfg.Name, Start: time.Now(), Err: fetch.ErrDrained}, cfg
	default:
	}
	d.mu.Lock()
	if d.accounts[cfg.Name] != a {
		d.mu.Unlock()
		return fetch.Result{Account: cfg.Name, Start: time.Now(), Err: errRemoved}, cfg
	}
	if a.cfg.Server != cfg.Server {
		// Moved to another server while queued: its turn comes again.
		d.mu.Unlock()
		return fetch.Result{Account: cfg.Name, Start: time.Now(), Err: errRemoved}, cfg
	}
	cfg = a.cfg
	a.lastStart = time.Now()
	d.mu.Unlock()
	return d.opts.Poll(d.pollCtx, cfg, req), cfg
}

// mailboxKey identifies the mailbox an account polls, as the state store
// does (config refuses two accounts with one key).
func mailboxKey(c *config.Account) string {
	return fmt.Sprintf("%s\x00%d\x00%s", strings.ToLower(c.Server), c.Port, c.User)
}

// busyLocked returns the channel of the running poll of c's mailbox, or nil.
func (d *Daemon) busyLocked(c *config.Account) chan struct{} {
	return d.busy[mailboxKey(c)]
}

// finish records a poll's outcome and decides when the account may poll
// again.
func (d *Daemon) finish(a *account, key string, cfg *config.Account, res fetch.Result) {
	// When this poll pauses the account, the pause is recorded after the
	// lock is let go: its proof is slow to compute on purpose.
	var pausedWith, pausedReason string
	defer func() {
		if pausedWith != "" {
			d.savePause(cfg, newPause(pausedReason, pausedWith))
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	a.running = false
	if d.busy[key] == a.done {
		delete(d.busy, key)
	}
	close(a.done)
	if d.accounts[cfg.Name] != a {
		return // removed by a reload while it polled
	}
	log := d.log.With().Str("account", cfg.Name).Logger()
	failure := fetch.Classify(res.Err)
	if failure == fetch.FailureTemporary && d.draining() {
		// Cancelled at the end of the drain: the daemon stopped it, the
		// account did not fail.
		failure = fetch.FailureDrained
	}
	if failure == fetch.FailureDrained {
		if res.Fetched == 0 && res.Listed == 0 {
			return // never started: nothing to record
		}
		res.Err = nil // a poll cut short for shutdown is no failure
	}
	if d.opts.Observer != nil {
		d.opts.Observer.ObservePoll(cfg.Name, &res)
	}
	end := res.Start.Add(res.Duration)
	a.lastEnd = end
	a.lastDelivered = res.Fetched
	a.delivered += res.Fetched
	a.lastResult = resultWord(&res)
	a.lastErr = ""
	if res.Err != nil {
		a.lastErr = res.Err.Error()
	}
	if res.LoginDelay > 0 && res.LoginDelay != a.loginDelay {
		log.Info().Dur("login_delay", res.LoginDelay).Msg("the server allows one login per LOGIN-DELAY: turns sooner than that are skipped")
	}
	if failure != fetch.FailureLoginDelay {
		a.loginDelay = res.LoginDelay
	}
	if a.loginDelay > 0 {
		a.loginNotUntil = res.Start.Add(a.loginDelay)
	}

	switch failure {
	case fetch.FailureNone:
		a.failures, a.authFailures, a.backoffUntil = 0, 0, time.Time{}
		a.lastSuccess = end
		delete(a.notified, "guard_tripped")
	case fetch.FailureDrained:
	default:
		a.failures++
		wait := backoff(d.opts.BackoffBase, a.failures, cfg.BackoffMax)
		switch failure {
		case fetch.FailureAuth:
			a.authFailures++
		case fetch.FailureInUse:
			wait = max(wait, inUseMinimum)
		case fetch.FailureLoginDelay:
			wait = max(wait, a.loginDelay, loginDelayFallback)
		}
		a.backoffUntil = end.Add(wait)
		if a.authFailures >= cfg.PauseAfterAuthFailures && !a.paused {
			d.pauseLocked(a, res.Err, log)
			pausedWith, pausedReason = a.credentials, a.pausedReason
		} else {
			log.Warn().Int("failures", a.failures).Time("next_allowed", a.backoffUntil).Msg("poll failed: backing off")
		}
	}
	d.notifyResultLocked(a, &res)
	d.observeStateLocked(a)
}

func (d *Daemon) draining() bool {
	select {
	case <-d.drain:
		return true
	default:
		return false
	}
}

// backoff is the wait after n consecutive failures: base, doubled with each
// further failure, at most limit.
func backoff(base time.Duration, n int, limit time.Duration) time.Duration {
	if limit <= 0 {
		limit = time.Hour
	}
	wait := base
	for i := 1; i < n && wait < limit; i++ {
		wait *= 2
	}
	return min(wait, limit)
}

func (d *Daemon) pauseLocked(a *account, err error, log zerolog.Logger) {
	a.paused = true
	a.pausedReason = fmt.Sprintf("the server rejected the login %d times in a row (%v)", a.authFailures, err)
	msg := fmt.Sprintf("account %s paused: the server rejected its login %d times in a row, and more attempts could get the account locked by the provider. "+
		"Fix the credentials, then run `fetchd resume %s` or reload the configuration", a.cfg.Name, a.authFailures, a.cfg.Name)
	log.Error().Err(err).Msg(msg)
	d.notifyLocked(a, "account_paused", "paused", msg, map[string]any{"failures": a.authFailures, "error": errString(err)})
}

// notifyResultLocked tells the user about what in a poll needs them, once.
func (d *Daemon) notifyResultLocked(a *account, res *fetch.Result) {
	name := a.cfg.Name
	if res.FailedPermanent > 0 {
		d.notifyLocked(a, "delivery_failed", "",
			fmt.Sprintf("%d message(s) of account %s were refused permanently by a delivery target and are held on the server; fix the target, then run `fetchd retry %s`", res.FailedPermanent, name, name),
			map[string]any{"count": res.FailedPermanent})
	}
	if errors.Is(res.Err, oauth.ErrConsentNeeded) {
		d.notifyLocked(a, "oauth_consent", "needed",
			fmt.Sprintf("account %s cannot log in: its OAuth2 refresh token is missing, expired or revoked; run `fetchd auth %s`", name, name), nil)
	} else if res.Err == nil {
		delete(a.notified, "oauth_consent")
	}
	var ge *fetch.GuardError
	if errors.As(res.Err, &ge) {
		d.notifyLocked(a, "guard_tripped", ge.Kind, ge.Error(), map[string]any{"guard": ge.Kind})
	}
	// A message over max_message_size is reported by the poll itself, as
	// an "oversize" event once per message, remembered in the store.
}

// notifyLocked sends an event unless the same one (same key) was sent last;
// an empty key always sends.
func (d *Daemon) notifyLocked(a *account, event, key, message string, details map[string]any) {
	if key != "" {
		if a.notified[event] == key {
			return
		}
		a.notified[event] = key
	}
	if d.opts.Notify != nil {
		d.opts.Notify(event, a.cfg.Name, message, details)
	}
}

func (d *Daemon) observeStateLocked(a *account) {
	if d.opts.Observer == nil {
		return
	}
	state, next := "ok", time.Time{}
	switch {
	case a.paused:
		state = "paused"
	case a.failures > 0:
		state, next = "backing_off", a.backoffUntil
	}
	d.opts.Observer.SetAccountState(a.cfg.Name, state, a.failures, next)
}

func resultWord(r *fetch.Result) string {
	switch {
	case r.Err != nil:
		return "error"
	case r.Failed > 0:
		return "partial"
	default:
		return "ok"
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// PollNow polls the named accounts (all when names is empty) at once,
// outside their schedules. An account that is polling is polled again when
// that poll ends. A paused account is not polled (that takes Resume), nor
// one within the server's LOGIN-DELAY, which would refuse the login; force
// (the user asked for this poll) overrides the backoff, which without it
// is honoured too.
// With wait, PollNow returns the results in the order of the names;
// otherwise it returns nil at once.
func (d *Daemon) PollNow(ctx context.Context, names []string, req Request, force, wait bool) ([]fetch.Result, error) {
	d.mu.Lock()
	if len(names) == 0 {
		names = d.namesLocked()
	}
	var unknown []string
	for _, n := range names {
		if d.accounts[n] == nil {
			unknown = append(unknown, n)
		}
	}
	stopping := d.stopping
	d.mu.Unlock()
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, strings.Join(unknown, ", "))
	}
	if stopping {
		return nil, errors.New("fetchd is stopping")
	}
	results := make([]fetch.Result, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = d.pollOne(ctx, name, req, force, wait)
		}()
	}
	if !wait {
		return nil, nil
	}
	wg.Wait()
	return results, nil
}

// pollOne runs one requested poll, waiting for a running one to end first
// when wait is set.
func (d *Daemon) pollOne(ctx context.Context, name string, req Request, force, wait bool) fetch.Result {
	now := time.Now()
	for {
		d.mu.Lock()
		a := d.accounts[name]
		switch {
		case a == nil:
			d.mu.Unlock()
			return fetch.Result{Account: name, Start: now, Err: fmt.Errorf("%w: %s (removed by a reload)", ErrUnknownAccount, name)}
		case d.stopping:
			d.mu.Unlock()
			return fetch.Result{Account: name, Start: now, Err: fetch.ErrDrained}
		case a.paused:
			err := fmt.Errorf("%w: %s; fix the credentials, then run `fetchd resume %s`", ErrPaused, a.pausedReason, name)
			d.mu.Unlock()
			return fetch.Result{Account: name, Start: now, Err: err}
		case now.Before(a.loginNotUntil):
			err := fmt.Errorf("not polled: the server's LOGIN-DELAY allows the next login at %s", a.loginNotUntil.Format(time.TimeOnly))
			d.mu.Unlock()
			return fetch.Result{Account: name, Start: now, Err: err}
		case !force && now.Before(a.backoffUntil):
			err := fmt.Errorf("not polled: backing off after %d failures until %s", a.failures, a.backoffUntil.Format(time.TimeOnly))
			d.skipped(a, "backoff")
			d.mu.Unlock()
			return fetch.Result{Account: name, Start: now, Err: err}
		case d.busyLocked(a.cfg) != nil && !wait:
			d.log.Info().Str("account", name).Msg("already polling: poll request skipped")
			d.mu.Unlock()
			return fetch.Result{Account: name, Start: now}
		case d.busyLocked(a.cfg) != nil:
			done := d.busyLocked(a.cfg)
			d.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return fetch.Result{Account: name, Start: now, Err: context.Cause(ctx)}
			}
		}
		result := make(chan fetch.Result, 1)
		d.startLocked(a, req, result)
		d.mu.Unlock()
		if !wait {
			return fetch.Result{Account: name, Start: now}
		}
		return <-result // polls end when ctx ends: they run under the daemon's context
	}
}

// Resume lifts an account's pause and its backoff, and polls it.
func (d *Daemon) Resume(name string) error {
	d.mu.Lock()
	a := d.accounts[name]
	if a == nil {
		d.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownAccount, name)
	}
	wasPaused := a.paused
	d.resumeLocked(a)
	cfg := a.cfg
	d.mu.Unlock()
	if wasPaused {
		d.savePause(cfg, nil)
		d.log.Info().Str("account", name).Msg("account resumed")
	}
	_, err := d.PollNow(context.Background(), []string{name}, Request{}, false, false)
	return err
}

func (d *Daemon) resumeLocked(a *account) {
	a.paused, a.pausedReason = false, ""
	a.failures, a.authFailures, a.backoffUntil = 0, 0, time.Time{}
	delete(a.notified, "account_paused")
	d.observeStateLocked(a)
}

// Reload applies a new, validated configuration: accounts are added,
// removed and changed; polls in flight finish with the configuration they
// started with. A paused account whose credentials changed is resumed.
// The state path cannot change while the daemon holds the store; the
// caller checks that.
func (d *Daemon) Reload(cfg *config.Config) {
	fps := make(map[string]string, len(cfg.Accounts))
	for _, c := range cfg.Accounts {
		fps[c.Name] = credentialsFingerprint(c) // reads files: not under the lock
	}
	var unpaused []*config.Account
	defer func() {
		for _, c := range unpaused {
			d.savePause(c, nil)
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := map[string]bool{}
	for _, c := range cfg.Accounts {
		seen[c.Name] = true
		a := d.accounts[c.Name]
		if a == nil {
			if err := d.addLocked(c, fps[c.Name]); err != nil {
				d.log.Error().Err(err).Str("account", c.Name).Msg("account not scheduled")
			} else {
				d.log.Info().Str("account", c.Name).Msg("account added by reload")
			}
			continue
		}
		if c.Schedule != a.cfg.Schedule || c.Jitter != a.cfg.Jitter {
			sched, err := parseSchedule(c.Schedule)
			if err != nil {
				d.log.Error().Err(err).Str("account", c.Name).Msg("new schedule not applied")
			} else {
				d.cron.Remove(a.entry)
				name := c.Name
				a.schedule = sched
				a.entry = d.cron.Schedule(spread(name, sched, c.Jitter), cron.FuncJob(func() { d.tick(name) }))
			}
		}
		fp := fps[c.Name]
		if fp != a.credentials && (a.paused || a.authFailures > 0) {
			d.log.Info().Str("account", c.Name).Msg("credentials changed: pause and backoff lifted")
			if a.paused {
				unpaused = append(unpaused, c)
			}
			d.resumeLocked(a)
		}
		a.credentials = fp
		a.cfg = c
	}
	for name, a := range d.accounts {
		if !seen[name] {
			d.cron.Remove(a.entry)
			delete(d.accounts, name)
			if d.opts.Observer != nil {
				d.opts.Observer.Forget(name)
			}
			d.log.Info().Str("account", name).Bool("polling", a.running).Msg("account removed by reload; a poll in flight finishes")
		}
	}
	d.cfg = cfg
	d.lim.setLimits(cfg.MaxParallel, cfg.MaxPerServer)
}

func (d *Daemon) namesLocked() []string {
	names := make([]string, 0, len(d.accounts))
	for _, c := range d.cfg.Accounts {
		if d.accounts[c.Name] != nil {
			names = append(names, c.Name)
		}
	}
	return names
}

// AccountStatus is one account as the scheduler sees it.
type AccountStatus struct {
	Name, Server, Schedule string
	State                  string // "idle", "polling", "backing off", "paused"
	LastStart, LastEnd     time.Time
	LastResult, LastError  string
	LastSuccess, NextPoll  time.Time
	Failures               int
	PausedReason           string
	Delivered              int // since the daemon started
	LastDelivered          int
}

// Status is the daemon's state at one moment.
type Status struct {
	Started  time.Time
	Summary  string // "3 accounts, 2 ok, 1 backing off"
	Accounts []AccountStatus
}

// Status returns the state of every account, in configuration order.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := Status{Started: d.started}
	var ok, backingOff, paused int
	for _, name := range d.namesLocked() {
		a := d.accounts[name]
		as := AccountStatus{
			Name: name, Server: a.cfg.Server, Schedule: a.cfg.Schedule,
			LastStart: a.lastStart, LastEnd: a.lastEnd, LastResult: a.lastResult, LastError: a.lastErr,
			LastSuccess: a.lastSuccess, Failures: a.failures, PausedReason: a.pausedReason,
			Delivered: a.delivered, LastDelivered: a.lastDelivered,
		}
		switch {
		case a.paused:
			paused++
		case a.failures > 0:
			backingOff++
		default:
			ok++
		}
		switch {
		case a.running:
			as.State = "polling"
		case a.paused:
			as.State = "paused"
		case a.failures > 0:
			as.State = "backing off"
		default:
			as.State = "idle"
		}
		if !a.paused && !d.stopping {
			as.NextPoll = d.nextPollLocked(a)
		}
		st.Accounts = append(st.Accounts, as)
	}
	parts := []string{fmt.Sprintf("%d accounts", len(st.Accounts)), fmt.Sprintf("%d ok", ok)}
	if backingOff > 0 {
		parts = append(parts, fmt.Sprintf("%d backing off", backingOff))
	}
	if paused > 0 {
		parts = append(parts, fmt.Sprintf("%d paused", paused))
	}
	st.Summary = strings.Join(parts, ", ")
	return st
}

// nextPollLocked is the first turn that backoff and LOGIN-DELAY let through.
func (d *Daemon) nextPollLocked(a *account) time.Time {
	next := d.cron.Entry(a.entry).Next
	notBefore := a.backoffUntil
	if a.loginNotUntil.After(notBefore) {
		notBefore = a.loginNotUntil
	}
	for i := 0; i < 10000 && !next.IsZero() && next.Before(notBefore); i++ {
		next = a.schedule.Next(next)
	}
	return next
}

// Accounts returns the configured account names, sorted.
func (d *Daemon) Accounts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := d.namesLocked()
	sort.Strings(names)
	return names
}
