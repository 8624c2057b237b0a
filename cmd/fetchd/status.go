package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"fetchd/internal/config"
	"fetchd/internal/control"
	"fetchd/internal/state"
)

// findDaemon returns a client of the daemon that holds cfg's state store,
// or nil when none runs. Every command that touches the store goes through
// it when it runs, because bbolt lets only one process open the store.
func findDaemon(ctx context.Context, cfg *config.Config) (*control.Client, error) {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return control.Find(fctx, cfg.State, os.Getenv)
}

// runStatus is `fetchd status`: each account's last poll, result, next poll
// and last error, from the running daemon, or from the state store.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var path string
	var asJSON bool
	fs := newFlagSet("status", stderr, &path)
	fs.BoolVar(&asJSON, "json", false, "print the daemon's status as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	code := exitOK
	var st control.Status
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		// The file is broken, perhaps by the edit whose reload failed: the
		// daemon still runs the previous configuration, and says why.
		var found bool
		if st, found = daemonRunning(ctx, path); !found {
			return exitUsage
		}
		fmt.Fprintf(stderr, "fetchd status: the configuration above does not load; the daemon runs the previous one\n\n")
		code = exitUsage
	} else {
		client, err := findDaemon(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "fetchd status: %v\n", err)
			return exitFailed
		}
		if client == nil {
			return statusFromStore(cfg, fs.Args(), asJSON, stdout, stderr)
		}
		if st, err = client.Status(ctx); err != nil {
			fmt.Fprintf(stderr, "fetchd status: %v\n", err)
			return exitFailed
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
		return code
	}
	printDaemonStatus(stdout, &st, time.Now())
	return code
}

// daemonRunning finds a daemon started with the configuration file path
// without reading the file: through the runtime directories a daemon may
// use.
func daemonRunning(ctx context.Context, path string) (control.Status, bool) {
	if path == "" {
		path = config.DefaultPath()
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return control.Status{}, false
	}
	var dirs []string
	if v := os.Getenv("RUNTIME_DIRECTORY"); v != "" {
		first, _, _ := strings.Cut(v, ":")
		dirs = append(dirs, first)
	}
	if v := os.Getenv("XDG_RUNTIME_DIR"); v != "" {
		dirs = append(dirs, filepath.Join(v, "fetchd"))
	}
	dirs = append(dirs, "/run/fetchd")
	for _, dir := range dirs {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := control.Dial(filepath.Join(dir, control.SocketName)).Status(cctx)
		cancel()
		if err == nil && filepath.Clean(st.Config) == abs {
			return st, true
		}
	}
	return control.Status{}, false
}

func printDaemonStatus(w io.Writer, st *control.Status, now time.Time) {
	fmt.Fprintf(w, "fetchd %s, pid %d, up %s: %s\n", st.Version, st.PID, ago(now, st.Started), st.Summary)
	fmt.Fprintf(w, "config %s, state %s\n", st.Config, st.State)
	if st.ReloadError != "" {
		fmt.Fprintf(w, "\nRELOAD FAILED %s ago; still running the previous configuration:\n", ago(now, st.ReloadErrorAt))
		for _, line := range strings.Split(st.ReloadError, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tSTATE\tLAST POLL\tRESULT\tNEXT POLL\tDELIVERED\tLAST ERROR")
	for _, a := range st.Accounts {
		last := "never"
		if !a.LastPollEnd.IsZero() {
			last = ago(now, a.LastPollEnd) + " ago"
		}
		next := "-"
		if !a.NextPoll.IsZero() {
			next = "in " + ago(a.NextPoll, now)
		}
		result := a.LastResult
		if result == "" {
			result = "-"
		}
		state := a.State
		if a.ConsecutiveFailures > 0 && a.State != "paused" {
			state += fmt.Sprintf(" (%d failures)", a.ConsecutiveFailures)
		}
		lastErr := a.LastError
		if a.PausedReason != "" {
			lastErr = a.PausedReason + "; `fetchd resume " + a.Name + "` after fixing it"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d (last poll %d)\t%s\n", a.Name, state, last, result, next,
			a.Delivered, a.LastDelivered, oneLine(lastErr, 100))
	}
	tw.Flush()
}

// statusFromStore is `fetchd status` with no daemon: the poll history.
func statusFromStore(cfg *config.Config, names []string, asJSON bool, stdout, stderr io.Writer) int {
	accounts, err := selectAccounts(cfg, names)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd status: %v\n", err)
		return exitUsage
	}
	if _, err := os.Stat(cfg.State); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "no daemon runs on %s, and it does not exist yet: nothing has been polled\n", cfg.State)
		return exitOK
	}
	store, err := state.Open(cfg.State, stateOpenTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd status: %v\n", err)
		return exitStateLocked
	}
	defer store.Close()
	now := time.Now()
	type row struct {
		Account string       `json:"account"`
		Paused  *state.Pause `json:"paused,omitempty"`
		Polls   []state.Poll `json:"polls"`
	}
	var rows []row
	for _, a := range accounts {
		polls, err := store.LastPolls(accountKey(a), 0)
		if err != nil {
			fmt.Fprintf(stderr, "fetchd status: account %q: %v\n", a.Name, err)
			return exitFailed
		}
		paused, err := store.Pause(accountKey(a))
		if err != nil {
			fmt.Fprintf(stderr, "fetchd status: account %q: %v (`fetchd resume %s` clears it)\n", a.Name, err, a.Name)
		}
		if paused != nil {
			paused.Salt, paused.Proof = nil, nil
		}
		rows = append(rows, row{Account: a.Name, Paused: paused, Polls: polls})
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
		return exitOK
	}
	fmt.Fprintf(stdout, "no daemon runs on %s; from its poll history:\n\n", cfg.State)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tLAST POLL\tRESULT\tLAST SUCCESS\tDELIVERED\tLAST ERROR")
	for _, r := range rows {
		if len(r.Polls) == 0 {
			result, note := "-", ""
			if r.Paused != nil {
				result = "PAUSED"
				note = fmt.Sprintf("paused since %s: %s; `fetchd resume %s` after fixing it", r.Paused.Since.Format(time.DateTime), r.Paused.Reason, r.Account)
			}
			fmt.Fprintf(tw, "%s\tnever\t%s\t-\t0\t%s\n", r.Account, result, oneLine(note, 160))
			continue
		}
		last := r.Polls[0]
		result := "ok"
		switch {
		case last.Err != "":
			result = "error"
		case last.Failed > 0:
			result = "partial"
		}
		success := "-"
		delivered := 0
		for _, p := range r.Polls {
			delivered += p.Fetched
			if success == "-" && p.Err == "" {
				success = ago(now, p.End) + " ago"
			}
		}
		lastErr := last.Err
		if r.Paused != nil {
			result = "PAUSED"
			lastErr = fmt.Sprintf("paused since %s: %s; `fetchd resume %s` after fixing it", r.Paused.Since.Format(time.DateTime), r.Paused.Reason, r.Account)
		}
		fmt.Fprintf(tw, "%s\t%s ago\t%s\t%s\t%d (last %d polls)\t%s\n", r.Account, ago(now, last.End), result,
			success, delivered, len(r.Polls), oneLine(lastErr, 160))
	}
	tw.Flush()
	return exitOK
}

// ago is the time from then to now, rounded for people.
func ago(now, then time.Time) string {
	d := now.Sub(then)
	switch {
	case d < 0:
		d = 0
	case d < time.Minute:
		return d.Round(time.Second).String()
	}
	if d < 24*time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd%s", int(d.Hours())/24, (d % (24 * time.Hour)).Round(time.Hour))
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return s
}

// runResume is `fetchd resume ACCOUNT...`: lift the pause a running daemon
// put on accounts whose login kept failing.
func runResume(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var path string
	fs := newFlagSet("resume", stderr, &path)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "fetchd resume: name the account(s) to resume")
		return exitUsage
	}
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return exitUsage
	}
	if _, err := selectAccounts(cfg, fs.Args()); err != nil {
		fmt.Fprintf(stderr, "fetchd resume: %v\n", err)
		return exitUsage
	}
	client, err := findDaemon(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd resume: %v\n", err)
		return exitFailed
	}
	if client == nil {
		return resumeInStore(cfg, fs.Args(), stdout, stderr)
	}
	code := exitOK
	for _, name := range fs.Args() {
		if err := client.Resume(ctx, name); err != nil {
			fmt.Fprintf(stderr, "fetchd resume: %s: %v\n", name, err)
			code = exitFailed
			continue
		}
		fmt.Fprintf(stdout, "%s: resumed; polling now\n", name)
	}
	return code
}

// resumeInStore lifts pauses recorded in the store when no daemon runs.
func resumeInStore(cfg *config.Config, names []string, stdout, stderr io.Writer) int {
	accounts, err := selectAccounts(cfg, names)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd resume: %v\n", err)
		return exitUsage
	}
	if _, err := os.Stat(cfg.State); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "%s does not exist yet: nothing is paused\n", cfg.State)
		return exitOK
	}
	store, err := state.Open(cfg.State, stateOpenTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd resume: %v\n", err)
		return exitStateLocked
	}
	defer store.Close()
	for _, a := range accounts {
		p, err := store.Pause(accountKey(a))
		if err == nil && p != nil {
			err = store.SetPause(accountKey(a), nil)
		}
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "fetchd resume: %s: %v\n", a.Name, err)
			return exitFailed
		case p == nil:
			fmt.Fprintf(stdout, "%s: not paused\n", a.Name)
		default:
			fmt.Fprintf(stdout, "%s: resumed (paused since %s); the daemon polls it when it starts\n", a.Name, p.Since.Format(time.DateTime))
		}
	}
	return exitOK
}
