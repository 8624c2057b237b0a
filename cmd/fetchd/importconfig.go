package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fetchd/internal/importconfig"
)

// runImportConfig translates another program's configuration; its doc,
// flags and examples for --help are in the command table (help.go).
func runImportConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var cfgPath string
	fs := newFlagSet("import-config", stderr, &cfgPath)
	secretsDir := fs.String("secrets-dir", "", "write inline passwords into files in this `directory` "+
		"(default: the directory of the -c file, else $XDG_CONFIG_HOME/fetchd)")
	force := fs.Bool("force", false, "replace password files that already exist")
	// Flags may come before or after the program name.
	err := fs.Parse(args)
	var program string
	if err == nil && fs.NArg() > 0 {
		program = fs.Arg(0)
		err = fs.Parse(fs.Args()[1:])
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	case program == "":
		fmt.Fprintf(stderr, "fetchd import-config: name the program to import from: %s (see fetchd import-config --help)\n", importconfig.Programs())
		return exitUsage
	}
	if *secretsDir == "" {
		*secretsDir = defaultSecretsDir(cfgPath)
	}
	paths := fs.Args()
	if len(paths) == 0 {
		home, _ := os.UserHomeDir()
		if paths, err = importconfig.DefaultPaths(program, os.Getenv, home); err != nil {
			fmt.Fprintf(stderr, "fetchd import-config: %v\n", err)
			return exitUsage
		}
	}
	res, err := importconfig.Import(program, paths, importconfig.DefaultOptions())
	if err != nil {
		fmt.Fprintf(stderr, "fetchd import-config: %v\n", err)
		return exitUsage
	}
	if *secretsDir == "" {
		fmt.Fprintln(stderr, "fetchd import-config: no home directory to keep passwords in: give --secrets-dir DIR")
		return exitUsage
	}
	dir, err := filepath.Abs(*secretsDir)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd import-config: --secrets-dir: %v\n", err)
		return exitUsage
	}
	// Render before writing any file: nothing is left behind when the
	// output cannot be produced.
	var out bytes.Buffer
	if err := res.WriteTOML(&out, dir); err != nil {
		fmt.Fprintf(stderr, "fetchd import-config: %v\n", err)
		return exitFailed
	}
	written, err := res.WriteSecrets(dir, *force)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd import-config: %v\n", err)
		return exitFailed
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		fmt.Fprintf(stderr, "fetchd import-config: %v\n", err)
		return exitFailed
	}
	summarize(stderr, program, res, written)
	return exitOK
}

// summarize tells the user on stderr what needs their attention.
func summarize(stderr io.Writer, program string, res *importconfig.Result, written []string) {
	for _, p := range written {
		fmt.Fprintf(stderr, "fetchd import-config: wrote a password to %s (mode 0600)\n", p)
	}
	var kept []string
	for _, a := range res.Accounts {
		if a.Disabled == "" && a.Keep {
			kept = append(kept, a.Name)
		}
	}
	if len(kept) > 0 {
		fmt.Fprintf(stderr, "fetchd import-config: %s keep mail on the server: run `fetchd import-state %s` before the first poll, or every message there is delivered again\n", strings.Join(kept, ", "), program)
	}
	for _, a := range res.Accounts {
		if a.Disabled == "" && a.AllowInsecure {
			fmt.Fprintf(stderr, "fetchd import-config: account %s logs in without TLS (allow_insecure = true), as the source did: use tls = \"implicit\" or \"starttls\" if the server offers either\n", a.Name)
		}
	}
	if n := len(res.Notes); n > 0 {
		fmt.Fprintf(stderr, "fetchd import-config: %d option(s) not translated: see the notes at the top of the output\n", n)
	}
	if names := res.NoPassword(); len(names) > 0 {
		fmt.Fprintf(stderr, "fetchd import-config: no password for %s: add one before fetchd check (see the comment above each)\n", strings.Join(names, ", "))
	}
	if res.Enabled() == 0 {
		fmt.Fprintln(stderr, "fetchd import-config: no account could be imported: fetchd check will refuse the output until you add one")
	}
}

// defaultSecretsDir is where the configuration will live: the directory of
// the -c file when one is given, else $XDG_CONFIG_HOME/fetchd
// (~/.config/fetchd).
func defaultSecretsDir(cfgPath string) string {
	if cfgPath != "" {
		return filepath.Dir(cfgPath)
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "fetchd")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "fetchd")
}
