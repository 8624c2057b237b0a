package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"fetchd/internal/config"
)

// newFlagSet returns a flag set for a subcommand with the shared -c flag.
// The default path is described, not resolved: help and man page must not
// depend on the machine they are generated on.
func newFlagSet(name string, stderr io.Writer, configPath *string) *flag.FlagSet {
	fs := newCommandFlags(name, stderr)
	fs.StringVar(configPath, "c", "", "configuration `file` (default: $XDG_CONFIG_HOME/fetchd/config.toml if it exists, else "+config.SystemPath+")")
	fs.StringVar(configPath, "config", "", "same as -c")
	return fs
}

// loadConfig loads the configuration and reports every problem on stderr.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	if path == "" {
		path = config.DefaultPath()
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd: %v\n", err)
		return nil, false
	}
	return cfg, true
}

// loadAccount loads the configuration and finds the account a command
// names, reporting on stderr what is wrong.
func loadAccount(command, path, name string, stderr io.Writer) (*config.Config, *config.Account, bool) {
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return nil, nil, false
	}
	a := cfg.Account(name)
	if a == nil {
		fmt.Fprintf(stderr, "fetchd %s: no account named %s in %s\n", command, name, cfg.Path)
		return nil, nil, false
	}
	return cfg, a, true
}

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var path string
	fs := newFlagSet("check", stderr, &path)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fetchd check: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: ok, %d account(s), state in %s\n", cfg.Path, len(cfg.Accounts), cfg.State)
	for _, a := range cfg.Accounts {
		fmt.Fprintf(stdout, "  %s\n", a.Describe())
	}
	return exitOK
}
