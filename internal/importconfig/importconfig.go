// Package importconfig translates the configuration files of fetchmail
// (~/.fetchmailrc), mpop (~/.mpoprc) and getmail (getmailrc files) into a
// fetchd TOML configuration, for `fetchd import-config`.
//
// Each program has a parser for its own grammar, as its manual and Debian's
// package document it (fetchmail's token grammar with noise words, mpop's
// line-based accounts with inheritance, getmail's INI files with Python
// tuples), and a translation from what it read to fetchd's keys. Every
// option the source sets is either translated or listed, with the reason,
// in a comment block at the top of the output: fetchd has no multidrop
// mode, no IMAP yet, no header filters, and verifies every certificate.
//
// Passwords found inline never reach the TOML: Result.WriteSecrets puts each
// in a file of its own (mode 0600), and the TOML names the file.
package importconfig

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strings"
	"time"
)

// Programs whose configuration can be imported.
const (
	Fetchmail = "fetchmail"
	Mpop      = "mpop"
	Getmail   = "getmail"
)

// maxFileSize bounds a source file: no real rc file comes near it, and the
// parsers then need no limits of their own.
const maxFileSize = 4 << 20

// Options are the facts about the machine a translation depends on. The
// zero value works: each nil function falls back to the real one.
type Options struct {
	// Home is the user's home directory: "~" in mpop and getmail paths,
	// and how paths under it are written in the output ("~/…").
	Home string
	// LocalUser is the login name fetchmail uses when a poll entry names
	// no user.
	LocalUser string
	// Getenv expands $VAR in getmail paths.
	Getenv func(string) string
	// HomeOf returns the home directory of another user, for "~user/".
	HomeOf func(name string) (string, bool)
	// UserExists reports whether a local user exists, for run_as.
	UserExists func(name string) bool
	// Now is the date written in the header.
	Now time.Time
}

// DefaultOptions are the options of the running user.
func DefaultOptions() Options {
	o := Options{Getenv: os.Getenv, Now: time.Now()}
	o.Home, _ = os.UserHomeDir()
	if u, err := user.Current(); err == nil {
		o.LocalUser = u.Username
	}
	return o
}

func (o *Options) fill() {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.HomeOf == nil {
		o.HomeOf = func(name string) (string, bool) {
			u, err := user.Lookup(name)
			if err != nil || u.HomeDir == "" {
				return "", false
			}
			return u.HomeDir, true
		}
	}
	if o.UserExists == nil {
		o.UserExists = func(name string) bool { _, err := user.Lookup(name); return err == nil }
	}
	if o.LocalUser == "" {
		o.LocalUser = "me"
	}
}

// source is one configuration file.
type source struct {
	path string
	data []byte
}

// Import reads the files of program and translates them into one Result.
// A file that cannot be read or parsed is an error naming the file (and
// line); options that cannot be translated are not errors but Notes.
func Import(program string, paths []string, opts Options) (*Result, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no %s configuration file given", program)
	}
	var srcs []source
	for _, p := range paths {
		data, err := readSource(p)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{path: p, data: data})
	}
	return translate(program, srcs, opts)
}

func readSource(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// errors.Unwrap: the bare "no such file or directory", without the
		// path a second time.
		return nil, fmt.Errorf("%s: %w: give the path of the configuration to import", path, errors.Unwrap(err))
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a configuration file", path, maxFileSize>>20)
	}
	return data, nil
}

// translate runs the program's translator on every source, then makes the
// account names unique and sets aside accounts that repeat a mailbox.
func translate(program string, srcs []source, opts Options) (*Result, error) {
	opts.fill()
	r := &Result{Program: program, opts: opts}
	for _, s := range srcs {
		r.Files = append(r.Files, s.path)
	}
	var err error
	switch program {
	case Fetchmail:
		err = translateFetchmail(r, srcs)
	case Mpop:
		err = translateMpop(r, srcs)
	case Getmail:
		err = translateGetmail(r, srcs)
	default:
		return nil, fmt.Errorf("unknown program %q: give fetchmail, mpop or getmail", program)
	}
	if err != nil {
		return nil, err
	}
	r.finish()
	return r, nil
}

// Programs lists the programs Import knows, for usage messages.
func Programs() string { return strings.Join([]string{Fetchmail, Mpop, Getmail}, ", ") }
