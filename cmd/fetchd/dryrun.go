package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/config"
	"fetchd/internal/control"
	"fetchd/internal/fetch"
	"fetchd/internal/schedule"
	"fetchd/internal/state"
)

// `fetchd once --dry-run`: each account logs in, lists, decides as a poll
// would, prints what it would fetch, delete and skip, and QUITs. Nothing
// changes: no RETR or DELE reaches the server, no delivery target is
// opened, and the store is opened read-only, so that "no write" holds by
// construction. With a daemon on the store the daemon does the dry run
// (control.PollRequest.DryRun), reading the store it holds.

// dryRunLocal is the dry run without a daemon.
func dryRunLocal(ctx context.Context, cfg *config.Config, accounts []*config.Account, opts *pollOptions, stdout, stderr io.Writer) int {
	log := newLogger(cfg, stderr)
	store, closeStore, err := openDryRunStore(cfg.State)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd once --dry-run: %v\n", err)
		return exitStateLocked
	}
	defer closeStore()
	code := exitOK
	for _, r := range dryRunAll(ctx, cfg, accounts, store, log, opts.initialSync) {
		fmt.Fprintln(stdout, dryRunLine(&r))
		fmt.Fprint(stdout, dryRunReport(&r))
		if r.Err != nil {
			code = exitFailed
		}
	}
	return code
}

// openDryRunStore opens, read-only, a copy of the state store made in a
// temporary directory and removed by the returned func: the store's lock is
// held only while copying, so a `fetchd once` or `fetchd run` starting
// meanwhile is not refused for the length of the dry run's sessions.
// Without a store yet (the first run), it reads an empty one, as a first
// poll would see it: the configured path is not created.
func openDryRunStore(path string) (*state.Store, func(), error) {
	dir, err := os.MkdirTemp("", "fetchd-dry-run-")
	if err != nil {
		return nil, nil, fmt.Errorf("a dry run reads a copy of the state store, and could not make a temporary directory for it: %w", err)
	}
	copyPath := filepath.Join(dir, "fetchd.db")
	orig, err := state.OpenReadOnly(path, stateOpenTimeout)
	switch {
	case err == nil:
		err = orig.Snapshot(copyPath)
		orig.Close()
	case errors.Is(err, state.ErrNoStore):
		var empty *state.Store
		if empty, err = state.Open(copyPath, stateOpenTimeout); err == nil {
			err = empty.Close()
		}
	}
	var s *state.Store
	if err == nil {
		s, err = state.OpenReadOnly(copyPath, stateOpenTimeout)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }, nil
}

// dryRunAll runs the dry run of each account against store, within the
// daemon's bounds on parallel sessions, and returns the results in order.
func dryRunAll(ctx context.Context, cfg *config.Config, accounts []*config.Account, store *state.Store,
	log zerolog.Logger, initialSync bool) []fetch.Result {
	poller := &fetch.Poller{Store: store, Log: log}
	results := make([]fetch.Result, len(accounts))
	lim := schedule.NewLimiter(cfg.MaxParallel, cfg.MaxPerServer)
	var wg sync.WaitGroup
	for i, ca := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := buildDryRunAccount(ca, cfg)
			if err != nil {
				results[i] = fetch.Result{Account: ca.Name, Err: fmt.Errorf("account %q: %w", ca.Name, err)}
				return
			}
			if initialSync {
				a.Sync = fetch.SyncInitialSync
			}
			if err := lim.Acquire(ctx, ca.Server); err != nil {
				results[i] = fetch.Result{Account: ca.Name, Err: err}
				return
			}
			defer lim.Release(ca.Server)
			results[i] = poller.Poll(ctx, a)
		}()
	}
	wg.Wait()
	return results
}

// dryRun is the daemon's side of PollRequest.DryRun: the dry runs read the
// store the daemon holds, and leave the schedule and the accounts' status
// alone.
func (h *host) dryRun(ctx context.Context, req control.PollRequest) (control.PollResponse, error) {
	// The handler refuses DryRun with mark-seen or retry (both write).
	cfg, log := h.current()
	accounts, err := selectAccounts(cfg, req.Accounts)
	if err != nil {
		return control.PollResponse{}, fmt.Errorf("%w: %v", control.ErrUnknownAccount, err)
	}
	// A paused account is not logged into (its server rejected the last
	// logins: one more could lock it), nor one being polled now (a server
	// that locks the mailbox would answer that poll [IN-USE]).
	busy := map[string]string{}
	for _, as := range h.sched.Status().Accounts {
		switch as.State {
		case "paused":
			busy[as.Name] = fmt.Sprintf("the account is paused (%s): run `fetchd resume %s` first", as.PausedReason, as.Name)
		case "polling":
			busy[as.Name] = "a poll of it is running: try again when it has ended"
		}
	}
	var run []*config.Account
	skipped := map[string]string{}
	for _, a := range accounts {
		if why, ok := busy[a.Name]; ok {
			skipped[a.Name] = why
		} else {
			run = append(run, a)
		}
	}
	results := dryRunAll(ctx, cfg, run, h.store, log, req.Sync == control.SyncInitialSync)
	var resp control.PollResponse
	for _, a := range accounts {
		if why, ok := skipped[a.Name]; ok {
			resp.Results = append(resp.Results, control.PollResult{Account: a.Name, Line: a.Name + ": dry run not done: " + why})
			continue
		}
		r := results[0]
		results = results[1:]
		resp.Results = append(resp.Results, control.PollResult{
			Account: r.Account, Line: dryRunLine(&r), OK: r.Err == nil, Report: dryRunReport(&r),
		})
	}
	return resp, nil
}

// dryRunLine is the one line a dry run prints per account.
func dryRunLine(r *fetch.Result) string {
	line := r.Account + ": dry run, nothing changed"
	if pv := r.Preview; pv != nil {
		var bytes int64
		for _, it := range pv.Fetch {
			bytes += max(it.Size, 0)
		}
		line += fmt.Sprintf(": would fetch %d (%d bytes), delete %d, skip %d; %d delivered before and kept",
			len(pv.Fetch), bytes, len(pv.Delete), len(pv.Skip), pv.Kept)
	}
	line += fmt.Sprintf(" (%s)", r.Duration.Round(time.Millisecond))
	if r.Err != nil {
		line += ": " + strings.ReplaceAll(r.Err.Error(), "\n", "; ")
	}
	return line
}

// dryRunReport lists the messages of a dry run, one indented line each:
// what, message number, UIDL, listed size, and why.
func dryRunReport(r *fetch.Result) string {
	pv := r.Preview
	if pv == nil {
		return ""
	}
	var b strings.Builder
	for _, group := range []struct {
		what  string
		items []fetch.PreviewItem
	}{{"fetch", pv.Fetch}, {"delete", pv.Delete}, {"skip", pv.Skip}} {
		for _, it := range group.items {
			size := "? bytes"
			if it.Size >= 0 {
				size = strconv.FormatInt(it.Size, 10) + " bytes"
			}
			uidl := it.UIDL
			if uidl == "" {
				uidl = "(no UIDL)"
			}
			fmt.Fprintf(&b, "  %-6s #%d  %s  %s", group.what, it.Num, printable(uidl), size)
			if it.Reason != "" {
				b.WriteString("  " + it.Reason)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// printable quotes a UIDL that holds anything but the printable ASCII RFC
// 1939 allows, so that a server cannot send escape sequences to the
// user's terminal.
func printable(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}
