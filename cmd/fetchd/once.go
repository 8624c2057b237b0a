package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"fetchd/internal/config"
	"fetchd/internal/control"
	"fetchd/internal/fetch"
	"fetchd/internal/schedule"
	"fetchd/internal/state"
)

// stateOpenTimeout is how long `once` waits for a store another process holds.
const stateOpenTimeout = 2 * time.Second

// pollOptions are what `once` and `retry` add to the shared flags.
type pollOptions struct {
	markSeen, initialSync bool
	retry                 bool // release held messages first (`fetchd retry`)
	dryRun                bool // --dry-run: list what a poll would do, change nothing
	noProgress            bool // --no-progress: no progress lines on a terminal
	// before runs on the store for the selected accounts before they poll.
	before func(*state.Store, []*config.Account) error
}

func runOnce(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts pollOptions
	return runPoll(ctx, "once", args, stdout, stderr, &opts, func(fs *flag.FlagSet) {
		fs.BoolVar(&opts.markSeen, "mark-seen", false, "record every message on the server as seen, fetching none (after switching from another program)")
		fs.BoolVar(&opts.initialSync, "initial-sync", false, "fetch everything new even past initial_sync_limit")
		fs.BoolVar(&opts.dryRun, "dry-run", false, "log in and list, then print what a poll would fetch, delete and skip; change nothing (no RETR, no DELE, no write to the store or a maildir)")
	})
}

// runPoll loads the config, opens the store, then polls each selected
// account once.
func runPoll(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	opts *pollOptions, extraFlags func(*flag.FlagSet)) int {
	var path string
	fs := newFlagSet(name, stderr, &path)
	fs.BoolVar(&opts.noProgress, "no-progress", false, "no live progress lines, even on a terminal")
	if extraFlags != nil {
		extraFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if opts.markSeen && opts.initialSync {
		fmt.Fprintf(stderr, "fetchd %s: --mark-seen and --initial-sync exclude each other\n", name)
		return exitUsage
	}
	if opts.markSeen && opts.dryRun {
		fmt.Fprintf(stderr, "fetchd %s: --mark-seen and --dry-run exclude each other (--mark-seen writes the store)\n", name)
		return exitUsage
	}
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return exitUsage
	}
	accounts, err := selectAccounts(cfg, fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "fetchd %s: %v\n", name, err)
		return exitUsage
	}
	client, err := findDaemon(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd %s: %v\n", name, err)
		return exitFailed
	}
	if client != nil {
		return pollThroughDaemon(ctx, client, name, fs.Args(), opts, stdout, stderr)
	}
	if opts.dryRun {
		return dryRunLocal(ctx, cfg, accounts, opts, stdout, stderr)
	}
	ui := progressFor(stdout, stderr, !opts.noProgress) // nil off a terminal
	defer ui.wait()
	log := ui.logger(cfg, stderr)

	store, movedAside, err := state.OpenOrRecover(cfg.State, stateOpenTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd: %v\n", err)
		return exitStateLocked
	}
	defer store.Close()
	if movedAside != "" {
		log.Error().Str("moved_to", movedAside).Str("state", cfg.State).
			Msg("the state store was damaged and is moved aside; starting with an empty one. Keep-mode accounts are protected by initial_sync_limit; delete-mode accounts may see a message again whose deletion had not been confirmed")
	}
	if opts.before != nil {
		if err := opts.before(store, accounts); err != nil {
			fmt.Fprintf(stderr, "fetchd %s: %v\n", name, err)
			return exitFailed
		}
	}
	cleanSpool(cfg, store, log)

	polls := make([]*fetch.Account, len(accounts))
	for i, a := range accounts {
		polls[i], err = buildAccount(a, cfg, log)
		if err != nil {
			fmt.Fprintf(stderr, "fetchd: account %q: %v\n", a.Name, err)
			return exitFailed
		}
		defer closeTargets(polls[i])
		polls[i].OnProgress = ui.hook(a.Name)
		switch {
		case opts.markSeen:
			polls[i].Sync = fetch.SyncMarkSeen
		case opts.initialSync:
			polls[i].Sync = fetch.SyncInitialSync
		}
	}

	notifyOversize, notified := onceNotifier(cfg, log)
	defer notified()
	poller := &fetch.Poller{Store: store, Log: log, Notify: notifyOversize, Servers: &fetch.Servers{}}
	results := make([]fetch.Result, len(polls))
	var wg sync.WaitGroup
	// The daemon's bounds: max_parallel polls at once, max_per_server of
	// them to one server.
	lim := schedule.NewLimiter(cfg.MaxParallel, cfg.MaxPerServer)
	for i, a := range polls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ui.finish(&results[i]) // on a terminal its summary line replaces its progress line
			server := accounts[i].Server
			if err := lim.Acquire(ctx, server); err != nil {
				results[i] = fetch.Result{Account: a.Name, Err: err}
				return
			}
			defer lim.Release(server)
			results[i] = poller.Poll(ctx, a)
		}()
	}
	wg.Wait()
	ui.wait()

	code := exitOK
	for i := range results {
		if ui == nil { // else finish printed it
			fmt.Fprintln(stdout, summary(&results[i]))
		}
		if !results[i].OK() {
			code = exitFailed
		}
	}
	return code
}

// pollThroughDaemon asks the daemon that holds the store to poll now and
// prints what it answers, as a poll of our own would.
func pollThroughDaemon(ctx context.Context, client *control.Client, name string, accounts []string,
	opts *pollOptions, stdout, stderr io.Writer) int {
	req := control.PollRequest{Accounts: accounts, Retry: opts.retry, Wait: true, DryRun: opts.dryRun}
	switch {
	case opts.markSeen:
		req.Sync = "mark-seen"
	case opts.initialSync:
		req.Sync = "initial-sync"
	}
	fmt.Fprintf(stderr, "fetchd %s: the daemon holds the state store; it polls (socket %s)\n", name, client.Socket())
	resp, err := client.Poll(ctx, req)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd %s: %v\n", name, err)
		if errors.Is(err, control.ErrUnknownAccount) {
			return exitUsage
		}
		return exitFailed
	}
	code := exitOK
	for _, r := range resp.Results {
		if opts.retry {
			fmt.Fprintf(stdout, "%s: %d held message(s) released for retry\n", r.Account, r.Released)
		}
		fmt.Fprintln(stdout, r.Line)
		fmt.Fprint(stdout, r.Report) // a dry run's list of messages
		if !r.OK {
			code = exitFailed
		}
	}
	return code
}

// selectAccounts returns the accounts named on the command line, or all.
func selectAccounts(cfg *config.Config, names []string) ([]*config.Account, error) {
	if len(names) == 0 {
		return cfg.Accounts, nil
	}
	byName := make(map[string]*config.Account, len(cfg.Accounts))
	for _, a := range cfg.Accounts {
		byName[a.Name] = a
	}
	var out []*config.Account
	var missing []string
	for _, n := range names {
		if a, ok := byName[n]; ok {
			out = append(out, a)
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no account named %s in %s", strings.Join(missing, ", "), cfg.Path)
	}
	return out, nil
}

// summary is the one line `fetchd once` prints per account.
func summary(r *fetch.Result) string {
	line := fmt.Sprintf("%s: %d fetched, %d deleted, %d failed", r.Account, r.Fetched, r.Deleted, r.Failed)
	if r.MarkedSeen > 0 {
		line += fmt.Sprintf(", %d marked seen", r.MarkedSeen)
	}
	if r.FailedPermanent > 0 {
		line += fmt.Sprintf(" (%d permanently: held until failed_retry_after or `fetchd retry %s`)", r.FailedPermanent, r.Account)
	}
	if r.Held > 0 {
		line += fmt.Sprintf(", %d held after a permanent failure (`fetchd retry %s`)", r.Held, r.Account)
	}
	if r.TooLarge > 0 {
		line += fmt.Sprintf(", %d over max_message_size left on the server", r.TooLarge)
	}
	if r.Expired > 0 {
		line += fmt.Sprintf(", %d of the deleted past delete_after", r.Expired)
	}
	if r.DeletedUndelivered > 0 {
		line += fmt.Sprintf(", %d of the deleted undelivered (oversize = delete)", r.DeletedUndelivered)
	}
	if r.Limited > 0 {
		line += fmt.Sprintf(", %d left for the next poll (per-poll limits)", r.Limited)
	}
	if r.Skipped > r.TooLarge {
		line += fmt.Sprintf(", %d skipped", r.Skipped-r.TooLarge)
	}
	line += fmt.Sprintf(" (%s)", r.Duration.Round(time.Millisecond))
	if r.Err != nil {
		line += ": " + strings.ReplaceAll(r.Err.Error(), "\n", "; ")
	}
	return line
}
