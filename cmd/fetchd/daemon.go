package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"fetchd/internal/config"
	"fetchd/internal/control"
	"fetchd/internal/fetch"
	"fetchd/internal/logging"
	"fetchd/internal/metrics"
	"fetchd/internal/notify"
	"fetchd/internal/schedule"
	"fetchd/internal/state"
)

// daemonOpenTimeout is how long `fetchd run` waits for the state store: a
// second daemon on the same store fails at once instead of queueing.
const daemonOpenTimeout = time.Second

// statusInterval is how often the daemon refreshes systemd's STATUS line.
const statusInterval = 15 * time.Second

// runDaemon is `fetchd run`: poll every account on its schedule until
// SIGTERM or SIGINT.
func runDaemon(ctx context.Context, args []string, _, stderr io.Writer) int {
	var path string
	fs := newFlagSet("run", stderr, &path)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fetchd run: unexpected argument %q (the daemon polls every account)\n", fs.Arg(0))
		return exitUsage
	}
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg, stderr)

	store, movedAside, err := state.OpenOrRecover(cfg.State, daemonOpenTimeout)
	if err != nil {
		if errors.Is(err, state.ErrLocked) {
			fmt.Fprintf(stderr, "fetchd run: %v\nIs another `fetchd run` already running on this state file? `fetchd status -c %s` tells.\n", err, cfg.Path)
		} else {
			fmt.Fprintf(stderr, "fetchd run: %v\n", err)
		}
		return exitStateLocked
	}
	defer store.Close()
	if movedAside != "" {
		log.Error().Str("moved_to", movedAside).Str("state", cfg.State).
			Msg("the state store was damaged and is moved aside; starting with an empty one. Keep-mode accounts are protected by initial_sync_limit; delete-mode accounts may see a message again whose deletion had not been confirmed")
	}
	cleanSpool(cfg, store, log)

	h := &host{cfg: cfg, log: log, store: store, stderr: stderr, started: time.Now(),
		metrics: metrics.New(versionString()), notifier: notify.New(cfg.NotifyCommand, log)}
	h.sched = schedule.New(schedule.Options{
		Config: cfg, Poll: h.poll, Log: log, Observer: h.metrics, Notify: h.notify,
		Pauses: pauseStore{store},
	})
	h.metrics.ConfigReload(true, h.started)

	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	var servers sync.WaitGroup
	socket := filepath.Join(control.RuntimeDir(os.Getenv), control.SocketName)
	ln, err := control.ListenUnix(socket)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd run: control socket: %v\n", err)
		return exitStateLocked
	}
	if err := control.WritePointer(cfg.State, socket); err != nil {
		log.Warn().Err(err).Msg("could not write where the control socket is; `fetchd status` finds the daemon only through the runtime directory")
	}
	defer control.RemovePointer(cfg.State)
	servers.Add(1)
	go func() {
		defer servers.Done()
		if err := control.Serve(serveCtx, ln, control.NewHandler(h, h.metrics.Gatherer(), true, log)); err != nil {
			log.Error().Err(err).Str("socket", socket).Msg("control socket stopped")
		}
	}()
	if cfg.Listen != "" {
		tcp, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			// Not exitUsage: an address in use at boot may be free later, and
			// the units do not restart after exit status 2.
			fmt.Fprintf(stderr, "fetchd run: listen = %q in %s: %v\n", cfg.Listen, cfg.Path, err)
			return exitFailed
		}
		servers.Add(1)
		go func() {
			defer servers.Done()
			if err := control.Serve(serveCtx, tcp, control.NewHandler(h, h.metrics.Gatherer(), false, log)); err != nil {
				log.Error().Err(err).Str("listen", cfg.Listen).Msg("status listener stopped")
			}
		}()
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	go h.handleSignals(ctx, sigs, path)
	go h.keepSystemdInformed(ctx)

	log.Info().Str("config", cfg.Path).Str("state", cfg.State).Str("socket", socket).
		Str("version", versionString()).Msg("fetchd daemon started")
	if ctx.Err() == nil {
		sdnotify(log, sddaemon.SdNotifyReady+"\nSTATUS="+h.sched.Status().Summary)
	}
	stoppingSent := make(chan struct{})
	go func() {
		defer close(stoppingSent)
		<-ctx.Done()
		log.Info().Str("why", fmt.Sprint(context.Cause(ctx))).Msg("stopping: polls finish the message in flight, then QUIT")
		sdnotify(log, sddaemon.SdNotifyStopping+"\nSTATUS=stopping: finishing the messages in flight")
	}()

	h.sched.Run(ctx)
	<-stoppingSent

	nctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	h.currentNotifier().Close(nctx)
	cancel()
	stopServing()
	servers.Wait()
	log.Info().Msg("fetchd daemon stopped")
	return exitOK
}

// host ties the scheduler to the store, the config and the control socket:
// it is the daemon's control.Backend.
type host struct {
	store   *state.Store
	sched   *schedule.Daemon
	metrics *metrics.Metrics
	stderr  io.Writer
	started time.Time
	servers fetch.Servers // what servers said of themselves, shared by all polls

	mu          sync.Mutex
	cfg         *config.Config
	log         zerolog.Logger
	notifier    *notify.Notifier
	lastReload  time.Time
	reloadErr   string
	reloadErrAt time.Time
}

func (h *host) current() (*config.Config, zerolog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg, h.log
}

func (h *host) currentNotifier() *notify.Notifier {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.notifier
}

// poll is the scheduler's PollFunc: one poll with the account's targets
// opened for it and closed after.
func (h *host) poll(ctx context.Context, a *config.Account, req schedule.Request) fetch.Result {
	cfg, log := h.current()
	acct, err := buildAccount(a, cfg, log)
	if err != nil {
		err = fmt.Errorf("account %q: %w", a.Name, err)
		log.Error().Err(err).Str("account", a.Name).Msg("poll not started")
		return fetch.Result{Account: a.Name, Start: time.Now(), Err: err}
	}
	defer closeTargets(acct)
	acct.Sync = req.Sync
	p := &fetch.Poller{Store: h.store, Log: log, Drain: req.Drain, Notify: h.notify, Servers: &h.servers}
	return p.Poll(ctx, acct)
}

func (h *host) notify(event, account, message string, details map[string]any) {
	h.currentNotifier().Send(notify.Event{Event: event, Account: account, Time: time.Now(), Message: message, Details: details})
}

// handleSignals serves SIGHUP (reload) and SIGUSR1 (poll every account now).
func (h *host) handleSignals(ctx context.Context, sigs <-chan os.Signal, path string) {
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				h.reload(path)
			case syscall.SIGUSR1:
				_, log := h.current()
				log.Info().Msg("SIGUSR1: polling every account now")
				h.sched.PollNow(ctx, nil, schedule.Request{}, false, false)
			}
		}
	}
}

// reload re-reads the configuration. An invalid one is reported, every
// problem logged, and the daemon goes on with the old one.
func (h *host) reload(path string) {
	cfg, log := h.current()
	sdnotify(log, fmt.Sprintf("%s\nMONOTONIC_USEC=%d", sddaemon.SdNotifyReloading, monotonicUsec()))
	if path == "" {
		path = cfg.Path
	}
	next, err := config.Load(path)
	now := time.Now()
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Error().Str("config", path).Msg("reload: " + line)
		}
		log.Error().Msg("configuration NOT reloaded: fetchd goes on with the previous one; fix the errors above and reload again")
		h.mu.Lock()
		h.reloadErr, h.reloadErrAt = err.Error(), now
		h.mu.Unlock()
		h.metrics.ConfigReload(false, now)
		sdnotify(log, sddaemon.SdNotifyReady+"\nSTATUS="+h.statusLine())
		return
	}
	if next.State != cfg.State {
		log.Warn().Str("state", cfg.State).Str("new_state", next.State).Msg("a new state path takes effect at restart; the daemon keeps using the open store")
		next.State = cfg.State
	}
	if next.Listen != cfg.Listen {
		log.Warn().Str("listen", cfg.Listen).Str("new_listen", next.Listen).Msg("a new listen address takes effect at restart")
		next.Listen = cfg.Listen
	}
	newLog := logging.New(next.LogLevel, next.LogFormat, h.stderr, os.Getenv)
	h.mu.Lock()
	oldNotifier := h.notifier
	h.cfg, h.log = next, newLog
	h.notifier = notify.New(next.NotifyCommand, newLog)
	h.lastReload, h.reloadErr, h.reloadErrAt = now, "", time.Time{}
	h.mu.Unlock()
	go func() {
		nctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		oldNotifier.Close(nctx)
	}()
	h.sched.Reload(next)
	h.metrics.ConfigReload(true, now)
	newLog.Info().Int("accounts", len(next.Accounts)).Msg("configuration reloaded")
	sdnotify(newLog, sddaemon.SdNotifyReady+"\nSTATUS="+h.statusLine())
}

// keepSystemdInformed refreshes the STATUS line and, when systemd set a
// watchdog, pings it as long as the scheduler answers.
func (h *host) keepSystemdInformed(ctx context.Context) {
	_, log := h.current()
	watchdog, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn().Err(err).Msg("systemd watchdog settings unreadable; no watchdog pings")
	}
	statusTick := time.NewTicker(statusInterval)
	defer statusTick.Stop()
	var ping <-chan time.Time
	if watchdog > 0 {
		t := time.NewTicker(watchdog / 2)
		defer t.Stop()
		ping = t.C
		log.Debug().Dur("interval", watchdog).Msg("systemd watchdog enabled")
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-statusTick.C:
			sdnotify(log, "STATUS="+h.statusLine())
		case <-ping:
			// A scheduler stuck on its lock would not answer: then systemd's
			// watchdog restarts the daemon.
			answered := make(chan struct{})
			go func() { h.sched.Status(); close(answered) }()
			select {
			case <-answered:
				sdnotify(log, sddaemon.SdNotifyWatchdog)
			case <-time.After(watchdog / 4):
				log.Error().Msg("the scheduler does not answer: watchdog not pinged")
			}
		}
	}
}

// statusLine is systemd's STATUS: the account summary and a failed reload.
func (h *host) statusLine() string {
	line := h.sched.Status().Summary
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reloadErr != "" {
		line += "; last reload failed, running the previous configuration"
	}
	return line
}

func sdnotify(log zerolog.Logger, msg string) {
	if _, err := sddaemon.SdNotify(false, msg); err != nil {
		log.Warn().Err(err).Msg("could not notify systemd")
	}
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// The control.Backend the socket serves.

func (h *host) Status() control.Status {
	st := h.sched.Status()
	h.mu.Lock()
	out := control.Status{
		Version: versionString(), PID: os.Getpid(), Started: h.started,
		Config: h.cfg.Path, State: h.cfg.State, Summary: st.Summary,
		LastReload: h.lastReload, ReloadError: h.reloadErr, ReloadErrorAt: h.reloadErrAt,
	}
	h.mu.Unlock()
	for _, a := range st.Accounts {
		out.Accounts = append(out.Accounts, control.AccountStatus{
			Name: a.Name, Server: a.Server, Schedule: a.Schedule, State: a.State,
			LastPollStart: a.LastStart, LastPollEnd: a.LastEnd, LastResult: a.LastResult, LastError: a.LastError,
			LastSuccess: a.LastSuccess, NextPoll: a.NextPoll, ConsecutiveFailures: a.Failures,
			PausedReason: a.PausedReason, Delivered: a.Delivered, LastDelivered: a.LastDelivered,
		})
	}
	return out
}

func (h *host) Poll(ctx context.Context, req control.PollRequest) (control.PollResponse, error) {
	cfg, _ := h.current()
	var sync fetch.Sync
	switch req.Sync {
	case "":
	case "mark-seen":
		sync = fetch.SyncMarkSeen
	case "initial-sync":
		sync = fetch.SyncInitialSync
	default:
		return control.PollResponse{}, fmt.Errorf("unknown sync mode %q", req.Sync)
	}
	if req.DryRun {
		return h.dryRun(ctx, req)
	}
	names := req.Accounts
	if len(names) == 0 {
		for _, a := range cfg.Accounts {
			names = append(names, a.Name)
		}
	}
	released := map[string]int{}
	for _, n := range names {
		a := cfg.Account(n)
		if a == nil {
			return control.PollResponse{}, fmt.Errorf("%w: %s in %s", control.ErrUnknownAccount, n, cfg.Path)
		}
		if req.Retry {
			k, err := h.store.ResetFailed(accountKey(a))
			if err != nil {
				return control.PollResponse{}, fmt.Errorf("account %q: %w", n, err)
			}
			released[n] = k
		}
	}
	results, err := h.sched.PollNow(ctx, names, schedule.Request{Sync: sync}, true, req.Wait)
	if errors.Is(err, schedule.ErrUnknownAccount) {
		return control.PollResponse{}, fmt.Errorf("%w: %v", control.ErrUnknownAccount, err)
	}
	if err != nil {
		return control.PollResponse{}, err
	}
	var resp control.PollResponse
	for i := range results {
		r := &results[i]
		resp.Results = append(resp.Results, control.PollResult{
			Account: r.Account, Line: summary(r), OK: r.OK(), Released: released[r.Account],
		})
	}
	return resp, nil
}

func (h *host) Resume(_ context.Context, account string) error {
	err := h.sched.Resume(account)
	if errors.Is(err, schedule.ErrUnknownAccount) {
		return fmt.Errorf("%w: %v", control.ErrUnknownAccount, err)
	}
	return err
}

// pauseStore keeps the scheduler's pauses in the state store, by mailbox.
type pauseStore struct{ store *state.Store }

func (p pauseStore) LoadPause(a *config.Account) (*state.Pause, error) {
	return p.store.Pause(accountKey(a))
}

func (p pauseStore) SavePause(a *config.Account, pause *state.Pause) error {
	return p.store.SetPause(accountKey(a), pause)
}
