package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"fetchd/internal/config"
	"fetchd/internal/control"
	"fetchd/internal/importstate"
	"fetchd/internal/state"
)

// importChunk is how many UIDLs one store transaction takes: bbolt holds a
// transaction's dirty pages in memory until it commits.
const importChunk = 50_000

// runImportState is `fetchd import-state PROGRAM [PATH]`: record as
// delivered what fetchmail, mpop or getmail fetched and left on the server,
// for the configured accounts of the same user and server.
func runImportState(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var path string
	var dryRun bool
	fs := newFlagSet("import-state", stderr, &path)
	fs.BoolVar(&dryRun, "dry-run", false, "show what would be imported, writing nothing")
	operands, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(operands) == 0 || len(operands) > 2 {
		fmt.Fprintln(stderr, "fetchd import-state: name the program and, unless it keeps its state where it usually does, the path: fetchd import-state fetchmail|mpop|getmail [PATH]")
		return exitUsage
	}
	program := operands[0]
	var src string
	if len(operands) == 2 {
		src = operands[1]
	} else if src, err = importstate.DefaultPath(program, os.Getenv); err != nil {
		fmt.Fprintf(stderr, "fetchd import-state: %v\n", err)
		return exitUsage
	}
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return exitUsage
	}
	files, problems, err := importstate.Read(ctx, program, src)
	if err != nil {
		hint := ""
		if len(operands) == 1 && errors.Is(err, os.ErrNotExist) {
			hint = fmt.Sprintf(" (where %s usually keeps its state): name the path, fetchd import-state %s PATH", program, program)
		}
		fmt.Fprintf(stderr, "fetchd import-state: %v%s\n", err, hint)
		return exitUsage
	}
	code := exitOK
	for _, p := range problems {
		if errors.Is(p, importstate.ErrIMAP) {
			fmt.Fprintf(stdout, "%v: skipped\n", p)
			continue
		}
		fmt.Fprintf(stderr, "fetchd import-state: %v: not imported\n", p)
		code = exitFailed
	}
	plan := planImport(cfg, files, stdout)
	if len(plan) == 0 {
		fmt.Fprintln(stdout, "nothing to import")
		return code
	}
	imp, done, c := importer(ctx, cfg, dryRun, stderr)
	if imp == nil {
		return c
	}
	defer done()
	for _, p := range plan {
		added, known, err := imp(ctx, p.account, p.uidls)
		if err != nil {
			fmt.Fprintf(stderr, "fetchd import-state: %s: %v\n", p.account.Name, err)
			code = exitFailed
			continue
		}
		if dryRun {
			fmt.Fprintf(stdout, "%s: %d would be imported, %d already known (dry run: nothing written)\n", p.account.Name, added, known)
		} else {
			fmt.Fprintf(stdout, "%s: %d imported, %d already known\n", p.account.Name, added, known)
		}
	}
	return code
}

// parseInterspersed parses flags before, between and after the operands
// (`import-state mpop DIR --dry-run`), and returns the operands.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// accountImport is what goes into one account.
type accountImport struct {
	account *config.Account
	uidls   []state.Imported
}

// planImport gives each configured account the UIDLs of the mailboxes that
// match it, in the configuration's order, and reports on out the mailboxes
// that match none and the accounts that cannot take an import.
func planImport(cfg *config.Config, files []*importstate.File, out io.Writer) []accountImport {
	byName := map[string][]state.Imported{}
	for _, f := range files {
		if f.Skipped > 0 {
			fmt.Fprintf(out, "%s: %d line(s) skipped: malformed, or a UIDL fetchd could not use\n", f.Name, f.Skipped)
		}
		for _, m := range f.Mailboxes {
			matched := false
			for _, a := range cfg.Accounts {
				if !m.Matches(a.Server, a.Port, a.User) {
					continue
				}
				matched = true
				uidls := byName[a.Name]
				for _, u := range m.UIDLs {
					uidls = append(uidls, state.Imported{UIDL: u.ID, At: u.At})
				}
				byName[a.Name] = uidls // even empty: the account is reported
			}
			if !matched {
				fmt.Fprintf(out, "no account for %s in %s: skipped (an account matches on the same user and server, and port for getmail; fetchmail's server is the poll or via name)\n", m, cfg.Path)
			}
		}
	}
	var plan []accountImport
	for _, a := range cfg.Accounts {
		uidls, ok := byName[a.Name]
		switch {
		case !ok:
		case !a.Keep:
			fmt.Fprintf(out, "%s: not imported: %v\n", a.Name, errDeleteMode)
		default:
			plan = append(plan, accountImport{a, uidls})
		}
	}
	return plan
}

// errDeleteMode refuses an import into an account that deletes what it
// fetches. Imported records have no size (the other programs keep none), and
// fetchd deletes a known message only on a record whose size the listing
// confirms (mayDelete in internal/fetch): such an account would fetch the
// old messages again anyway, so the import would only mislead.
var errDeleteMode = errors.New("the account deletes what it fetches (keep = false): fetchd would fetch these messages again " +
	"before deleting them (the other program's record has no sizes to confirm them by), so the import would change nothing; " +
	"set keep = true to keep them on the server, or let fetchd fetch them again")

// importFunc imports uidls into a's records, or with --dry-run counts them.
type importFunc func(ctx context.Context, a *config.Account, uidls []state.Imported) (added, known int, err error)

// importer returns how to import: through the daemon that holds the store,
// or into the store itself. With a nil importFunc, code is the exit status.
func importer(ctx context.Context, cfg *config.Config, dryRun bool, stderr io.Writer) (imp importFunc, done func(), code int) {
	client, err := findDaemon(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd import-state: %v\n", err)
		return nil, nil, exitFailed
	}
	if client != nil {
		fmt.Fprintf(stderr, "fetchd import-state: the daemon holds the state store; it imports (socket %s)\n", client.Socket())
		return func(ctx context.Context, a *config.Account, uidls []state.Imported) (int, int, error) {
			return importThroughDaemon(ctx, client, a.Name, uidls, dryRun)
		}, func() {}, exitOK
	}
	open := func() (*state.Store, func(), error) {
		s, err := state.Open(cfg.State, stateOpenTimeout)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	if dryRun {
		// Reads a copy, read-only: a dry run writes nothing, not even
		// a new or migrated store.
		open = func() (*state.Store, func(), error) { return openDryRunStore(cfg.State) }
	}
	store, closeStore, err := open()
	if err != nil {
		fmt.Fprintf(stderr, "fetchd import-state: %v\n", err)
		return nil, nil, exitStateLocked
	}
	return func(_ context.Context, a *config.Account, uidls []state.Imported) (int, int, error) {
		return importSeen(store, a, uidls, dryRun)
	}, closeStore, exitOK
}

// importSeen imports into, or with dryRun previews an import into, the
// store: the one place, for the CLI and the daemon, that decides what an
// account may take.
func importSeen(store *state.Store, a *config.Account, uidls []state.Imported, dryRun bool) (added, known int, err error) {
	if !a.Keep {
		return 0, 0, errDeleteMode
	}
	uidls = dedupe(uidls)
	now := time.Now()
	for len(uidls) > 0 {
		part := uidls[:min(len(uidls), importChunk)]
		uidls = uidls[len(part):]
		var n, k int
		if dryRun {
			n, k, err = store.PreviewImport(accountKey(a), part)
		} else {
			n, k, err = store.ImportSeen(accountKey(a), part, now)
		}
		if err != nil {
			return added, known, err
		}
		added, known = added+n, known+k
	}
	return added, known, nil
}

func importThroughDaemon(ctx context.Context, c *control.Client, account string, uidls []state.Imported, dryRun bool) (int, int, error) {
	req := control.ImportRequest{Account: account, DryRun: dryRun}
	for _, u := range dedupe(uidls) {
		req.UIDLs = append(req.UIDLs, control.ImportedUIDL{UIDL: []byte(u.UIDL), At: u.At})
	}
	resp, err := c.ImportState(ctx, req)
	return resp.Added, resp.Known, err
}

// ImportState makes the daemon's host a control.Backend for POST
// /import-state: the import goes into the store the daemon holds.
func (h *host) ImportState(_ context.Context, req control.ImportRequest) (control.ImportResponse, error) {
	cfg, log := h.current()
	a := cfg.Account(req.Account)
	if a == nil {
		return control.ImportResponse{}, fmt.Errorf("%w: %s in %s", control.ErrUnknownAccount, req.Account, cfg.Path)
	}
	uidls := make([]state.Imported, len(req.UIDLs))
	for i, u := range req.UIDLs {
		uidls[i] = state.Imported{UIDL: string(u.UIDL), At: u.At}
	}
	added, known, err := importSeen(h.store, a, uidls, req.DryRun)
	if errors.Is(err, errDeleteMode) {
		return control.ImportResponse{}, fmt.Errorf("account %q: %w: %w", a.Name, control.ErrRefused, err)
	}
	if err != nil {
		return control.ImportResponse{}, fmt.Errorf("account %q: import state: %w", a.Name, err)
	}
	if !req.DryRun && added > 0 {
		// Debug: a large import comes in many requests.
		log.Debug().Str("account", a.Name).Int("added", added).Int("known", known).
			Msg("imported another program's record of fetched messages")
	}
	return control.ImportResponse{Account: a.Name, Added: added, Known: known}, nil
}

// dedupe drops repeated UIDLs, keeping each one's earliest time (a zero
// time counts as unknown, not early): a UIDL that two matching mailboxes
// list, or a chunk boundary, must not count it twice.
func dedupe(uidls []state.Imported) []state.Imported {
	at := make(map[string]int, len(uidls))
	out := uidls[:0:0]
	for _, u := range uidls {
		i, ok := at[u.UIDL]
		switch {
		case !ok:
			at[u.UIDL] = len(out)
			out = append(out, u)
		case !u.At.IsZero() && (out[i].At.IsZero() || u.At.Before(out[i].At)):
			out[i].At = u.At
		}
	}
	return out
}
