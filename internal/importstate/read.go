package importstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Read reads program's state at path: a file, or a directory of them
// (fetchmail: DIR/.fetchids, as with $FETCHMAILHOME; mpop: every file in
// it; getmail: every oldmail-* file in it). A file that cannot be read or
// parsed is one of problems, and the others are still read; err is for
// what stops the whole read (an unknown program, a path that is not
// there, more than MaxFiles files or MaxUIDLs UIDLs).
func Read(ctx context.Context, program, path string) (files []*File, problems []error, err error) {
	return read(ctx, program, path, MaxFiles, MaxUIDLs)
}

// read is Read with the caps as arguments, for tests.
func read(ctx context.Context, program, path string, maxFiles, maxUIDLs int) (files []*File, problems []error, err error) {
	parse, err := parser(program)
	if err != nil {
		return nil, nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s state: %w", program, err)
	}
	paths := []string{path}
	if fi.IsDir() {
		if paths, err = dirFiles(program, path, maxFiles); err != nil {
			return nil, nil, err
		}
	}
	b := &budget{maxUIDLs}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		f, err := readFile(p, parse, b)
		switch {
		case errors.Is(err, ErrTooMany):
			return nil, nil, err
		case err != nil:
			problems = append(problems, err)
		default:
			files = append(files, f)
		}
	}
	return files, problems, nil
}

type parseFunc func(r io.Reader, name string, b *budget) (*File, error)

func parser(program string) (parseFunc, error) {
	switch program {
	case Fetchmail:
		return parseFetchids, nil
	case Mpop:
		return parseMpop, nil
	case Getmail:
		return parseGetmail, nil
	}
	return nil, fmt.Errorf("unknown program %q: want %s, %s or %s", program, Fetchmail, Mpop, Getmail)
}

func readFile(path string, parse parseFunc, b *budget) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return parse(fh, path, b)
}

// dirFiles lists the state files of program in dir, sorted by name.
func dirFiles(program, dir string, maxFiles int) ([]string, error) {
	if program == Fetchmail {
		return []string{filepath.Join(dir, ".fetchids")}, nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("%s state: %w", program, err)
	}
	defer d.Close()
	var out []string
	for {
		// Read in batches: a directory of a million entries must not be
		// listed whole before the cap applies.
		es, err := d.ReadDir(1024)
		for _, e := range es {
			if program == Getmail && !isGetmailFile(e.Name()) {
				continue // getmail keeps its rc files there too
			}
			p := filepath.Join(dir, e.Name())
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				continue // a subdirectory, or a dangling link
			}
			if len(out) == maxFiles {
				return nil, fmt.Errorf("%s state: %w: more than %d files in %s", program, ErrTooMany, maxFiles, dir)
			}
			out = append(out, p)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s state: %w", program, err)
		}
	}
	if len(out) == 0 {
		what := "files"
		if program == Getmail {
			what = "oldmail-* files"
		}
		return nil, fmt.Errorf("%s state: no %s in %s", program, what, dir)
	}
	slices.Sort(out)
	return out, nil
}

// DefaultPath is where program keeps its state when its configuration
// does not say otherwise, as its manual page tells:
//
//	fetchmail  $FETCHMAILHOME/.fetchids, else $HOME_ETC/.fetchids, else ~/.fetchids
//	mpop       ~/.mpop_uidls (uidls_file "~/.mpop_uidls/%U_at_%H")
//	getmail    $XDG_CONFIG_HOME/getmail (default ~/.config/getmail) if it
//	           exists, else ~/.getmail
func DefaultPath(program string, getenv func(string) string) (string, error) {
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("where %s keeps its state depends on $HOME, which is not set: name the path", program)
	}
	switch program {
	case Fetchmail:
		if d := getenv("FETCHMAILHOME"); d != "" {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				return filepath.Join(d, ".fetchids"), nil
			}
		}
		if d := getenv("HOME_ETC"); d != "" {
			return filepath.Join(d, ".fetchids"), nil
		}
		return filepath.Join(home, ".fetchids"), nil
	case Mpop:
		return filepath.Join(home, ".mpop_uidls"), nil
	case Getmail:
		xdg := getenv("XDG_CONFIG_HOME")
		if xdg == "" {
			xdg = filepath.Join(home, ".config")
		}
		if d := filepath.Join(xdg, "getmail"); dirExists(d) {
			return d, nil
		}
		return filepath.Join(home, ".getmail"), nil
	}
	_, err := parser(program)
	return "", err
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
