package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"fetchd/internal/config"
	"fetchd/internal/discover"
)

// addPlan is the account being added, filled in step by step.
type addPlan struct {
	address, domain, name, user string
	candidates                  []discover.Server // in the order to try them
	server                      discover.Server   // the one that passed the check
	oauth2                      string            // the OAuth2 provider, or "" for a password

	password         string // in memory for the check; never printed
	passwordFile     string // the user's own file, referred to as it is
	clientID         string
	clientSecret     string // typed in; goes into a file of its own
	clientSecretFile string // the user's own file
}

// addError is a failure of `fetchd add` with its exit status.
type addError struct {
	code int
	err  error
}

func (e *addError) Error() string { return e.err.Error() }

func addUsageErr(format string, args ...any) error {
	return &addError{exitUsage, fmt.Errorf(format, args...)}
}

func addFailed(format string, args ...any) error {
	return &addError{exitFailed, fmt.Errorf(format, args...)}
}

// run adds the account for address and returns the exit status.
func (a *adder) run(ctx context.Context, address string) int {
	if err := a.add(ctx, address); err != nil {
		fmt.Fprintf(a.stderr, "fetchd add: %v\n", err)
		var ae *addError
		if errors.As(err, &ae) {
			return ae.code
		}
		return exitFailed
	}
	return exitOK
}

func (a *adder) add(ctx context.Context, address string) error {
	local, domain, err := discover.SplitAddress(address)
	if err != nil {
		return addUsageErr("%v", err)
	}
	path := a.configPath
	if path == "" {
		path = config.DefaultPath()
	}
	cf, err := readConfigFile(path)
	if err != nil {
		return addUsageErr("%v", err)
	}
	p := &addPlan{address: address, domain: domain, user: a.user}
	if p.user == "" {
		p.user = address
	}
	if p.name, err = a.accountName(local, domain, cf.names); err != nil {
		return err
	}
	if err := a.findServer(ctx, p); err != nil {
		return err
	}
	if p.oauth2 != "" {
		err = a.askOAuth2(ctx, p)
	} else {
		err = a.askPassword(ctx, p)
	}
	if err != nil {
		return err
	}
	files := a.secretFiles(p, filepath.Dir(cf.path))
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return addUsageErr("%s already exists: remove it, or choose another --name", f.path)
		}
	}
	if err := a.check(ctx, p); err != nil {
		return err
	}
	entry, err := a.entry(p, cf, files)
	if err != nil {
		return err
	}
	if err := cf.write(entry, files); err != nil {
		return err
	}
	a.report(p, cf, files)
	return a.afterWrite(ctx, p, cf)
}

// accountName is --name, checked to be free, or one made from the address:
// the domain's first label ("example"), then local-label, then with a
// number, the first that no account has.
func (a *adder) accountName(local, domain string, taken map[string]bool) (string, error) {
	if a.name != "" {
		if problem := config.CheckName(a.name); problem != "" {
			return "", addUsageErr("--name %s", problem)
		}
		if taken[a.name] {
			return "", addUsageErr("there is already an account named %q: choose another --name", a.name)
		}
		return a.name, nil
	}
	first := domain
	if i := strings.IndexByte(domain, '.'); i > 0 {
		first = domain[:i]
	}
	base := sanitizeName(first)
	for _, n := range []string{base, sanitizeName(local) + "-" + base} {
		if !taken[n] {
			return n, nil
		}
	}
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s-%d", base, i); !taken[n] {
			return n, nil
		}
	}
}

// sanitizeName keeps what an account name may hold (letters, digits, '.',
// '_', '-'), each other character becoming '-'.
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if out := string(b); out != "" {
		return out
	}
	return "mail"
}

// report says what was written and what to do next.
func (a *adder) report(p *addPlan, cf *configFile, files []secretFile) {
	fmt.Fprintf(a.stdout, "\nadded account %q to %s: %s, tls %s, user %s\n", p.name, cf.path,
		net.JoinHostPort(p.server.Host, fmt.Sprint(p.server.Port)), p.server.TLS, p.user)
	for _, f := range files {
		fmt.Fprintf(a.stdout, "  %s written to %s (mode 0600)\n", f.what, f.path)
	}
	if len(files) > 0 && os.Geteuid() == 0 {
		// Written as root: a service running as another user (the system
		// unit's fetchd) cannot read it, and fetchd refuses a secret file
		// others may read.
		fmt.Fprintf(a.stdout, "  owned by root: if fetchd runs as another user (the fetchd service does), `chown fetchd` the file, or use LoadCredential= and password_credential\n")
	}
	// What the account does, [defaults] included, as fetchd check says it.
	cfg, err := config.Load(cf.path)
	if err == nil && cfg.Account(p.name) != nil {
		acct := cfg.Account(p.name)
		fmt.Fprintf(a.stdout, "  %s\n", acct.Describe())
		if !acct.Keep {
			fmt.Fprintf(a.stdout, "  messages are deleted on the server once delivered (add --keep, or keep = true, to leave them there)\n")
		}
	}
	if p.oauth2 == "" {
		next := "next: `fetchd once %s` polls it now; `fetchd run` polls it on its schedule"
		if cfg != nil {
			if d, err := findDaemon(context.Background(), cfg); err == nil && d != nil {
				// once would go through the daemon, which does not know
				// the account until it reads the file again.
				next = "next: a daemon runs on this state store: reload it (systemctl reload fetchd, or kill -HUP its pid) so that it polls %s"
			}
		}
		fmt.Fprintf(a.stdout, next+"\n", p.name)
	}
}

// afterWrite starts the OAuth2 consent on a terminal: the account is
// written already, so an interrupted consent is simply run again with
// `fetchd auth NAME`. Without a terminal it says so instead.
func (a *adder) afterWrite(ctx context.Context, p *addPlan, cf *configFile) error {
	if p.oauth2 == "" {
		return nil
	}
	if a.ask == nil {
		fmt.Fprintf(a.stdout, "next: run `fetchd auth %s` on a machine with a browser to grant fetchd access\n", p.name)
		return nil
	}
	fmt.Fprintf(a.stdout, "\nnow granting fetchd access (the same as `fetchd auth %s`):\n", p.name)
	if code := a.auth(ctx, []string{"-c", cf.path, p.name}, a.stdout, a.stderr); code != exitOK {
		return &addError{code, fmt.Errorf("account %q is written, but access was not granted: run `fetchd auth %s` again", p.name, p.name)}
	}
	return nil
}
