package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"fetchd/internal/config"
	"fetchd/internal/fetch"
	"fetchd/internal/state"
)

// onceParallel bounds how many accounts poll at once in `fetchd once`.
const onceParallel = 4

// stateOpenTimeout is how long `once` waits for a store another process holds.
const stateOpenTimeout = 2 * time.Second

func runOnce(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runPoll(ctx, "once", args, stdout, stderr, nil)
}

// runPoll loads the config, opens the store, runs before (if any) on the
// store for the selected accounts, then polls each of them once.
func runPoll(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	before func(*state.Store, []*config.Account) error) int {
	var path string
	fs := newFlagSet(name, stderr, &path)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
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
	log := newLogger(cfg, stderr)

	store, err := state.Open(cfg.State, stateOpenTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd: %v\n", err)
		return exitStateLocked
	}
	defer store.Close()
	if before != nil {
		if err := before(store, accounts); err != nil {
			fmt.Fprintf(stderr, "fetchd %s: %v\n", name, err)
			return exitFailed
		}
	}

	polls := make([]*fetch.Account, len(accounts))
	for i, a := range accounts {
		polls[i], err = buildAccount(a, cfg, log)
		if err != nil {
			fmt.Fprintf(stderr, "fetchd: account %q: %v\n", a.Name, err)
			return exitFailed
		}
		defer closeTargets(polls[i])
	}

	poller := &fetch.Poller{Store: store, Log: log}
	results := make([]fetch.Result, len(polls))
	var wg sync.WaitGroup
	sem := make(chan struct{}, onceParallel)
	for i, a := range polls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = poller.Poll(ctx, a)
		}()
	}
	wg.Wait()

	code := exitOK
	for i := range results {
		fmt.Fprintln(stdout, summary(&results[i]))
		if !results[i].OK() {
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
		return nil, fmt.Errorf("no account named %q in %s", missing, cfg.Path)
	}
	return out, nil
}

// summary is the one line `fetchd once` prints per account.
func summary(r *fetch.Result) string {
	line := fmt.Sprintf("%s: %d fetched, %d deleted, %d failed", r.Account, r.Fetched, r.Deleted, r.Failed)
	if r.FailedPermanent > 0 {
		line += fmt.Sprintf(" (%d permanently: held until failed_retry_after or `fetchd retry %s`)", r.FailedPermanent, r.Account)
	}
	if r.Held > 0 {
		line += fmt.Sprintf(", %d held after a permanent failure (`fetchd retry %s`)", r.Held, r.Account)
	}
	if r.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	line += fmt.Sprintf(" (%s)", r.Duration.Round(time.Millisecond))
	if r.Err != nil {
		line += ": " + r.Err.Error()
	}
	return line
}
