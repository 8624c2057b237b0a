package importconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultPaths returns the files program reads when run without options,
// as each documents it:
//
//   - fetchmail: $FETCHMAILHOME/fetchmailrc, else $HOME_ETC/.fetchmailrc,
//     else ~/.fetchmailrc;
//   - mpop: ~/.mpoprc, else $XDG_CONFIG_HOME/mpop/config (~/.config/mpop/config);
//   - getmail: in $XDG_CONFIG_HOME/getmail (~/.config/getmail), else in
//     ~/.getmail, the file getmailrc, or when there is none every file but
//     oldmail-*, *.json and dot files.
func DefaultPaths(program string, getenv func(string) string, home string) ([]string, error) {
	xdg := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(xdg) {
		xdg = filepath.Join(home, ".config")
	}
	switch program {
	case Fetchmail:
		if d := getenv("FETCHMAILHOME"); d != "" && isDir(d) {
			return []string{filepath.Join(d, "fetchmailrc")}, nil
		}
		if d := getenv("HOME_ETC"); d != "" {
			return []string{filepath.Join(d, ".fetchmailrc")}, nil
		}
		return []string{filepath.Join(home, ".fetchmailrc")}, nil
	case Mpop:
		if p := filepath.Join(home, ".mpoprc"); exists(p) {
			return []string{p}, nil
		}
		return []string{filepath.Join(xdg, "mpop", "config")}, nil
	case Getmail:
		return getmailFiles(filepath.Join(xdg, "getmail"), filepath.Join(home, ".getmail"))
	}
	return nil, fmt.Errorf("unknown program %q: give %s", program, Programs())
}

func getmailFiles(dirs ...string) ([]string, error) {
	var dir string
	for _, d := range dirs {
		if isDir(d) {
			dir = d
			break
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("no getmail directory (%s): give the rc files' paths", strings.Join(dirs, " or "))
	}
	if p := filepath.Join(dir, "getmailrc"); exists(p) {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("getmail directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, "oldmail-") || strings.HasSuffix(n, ".json") || strings.HasPrefix(n, ".") {
			continue
		}
		out = append(out, filepath.Join(dir, n))
	}
	if len(out) == 0 {
		return nil, errors.New(dir + " holds no getmail rc file: give the rc files' paths")
	}
	slices.Sort(out)
	return out, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
