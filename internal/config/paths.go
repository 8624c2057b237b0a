package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// SystemPath is the configuration file used when the user has none.
const SystemPath = "/etc/fetchd/config.toml"

// DefaultPath is the configuration file to use when none is given:
// $XDG_CONFIG_HOME/fetchd/config.toml (default ~/.config/fetchd/config.toml)
// if it exists, else /etc/fetchd/config.toml if that exists, else the first
// candidate, so that the "not found" error names the file a user would create.
func DefaultPath() string {
	candidates := configCandidates(os.Getenv, os.UserHomeDir)
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return candidates[0]
}

func configCandidates(getenv func(string) string, home func() (string, error)) []string {
	var out []string
	if dir := xdgDir(getenv, home, "XDG_CONFIG_HOME", ".config"); dir != "" {
		out = append(out, filepath.Join(dir, "fetchd", "config.toml"))
	}
	return append(out, SystemPath)
}

// DefaultStatePath is where the state database lives when the configuration
// does not say: $STATE_DIRECTORY/fetchd.db when systemd provides one (the
// first, if it lists several separated by colons), else
// /var/lib/fetchd/fetchd.db for root, else
// $XDG_STATE_HOME/fetchd/fetchd.db (default ~/.local/state/fetchd/fetchd.db).
func DefaultStatePath() string {
	return defaultStatePath(os.Getenv, os.Geteuid(), os.UserHomeDir)
}

func defaultStatePath(getenv func(string) string, euid int, home func() (string, error)) string {
	if dirs := getenv("STATE_DIRECTORY"); dirs != "" {
		first, _, _ := strings.Cut(dirs, ":")
		if first != "" {
			return filepath.Join(first, "fetchd.db")
		}
	}
	if euid == 0 {
		return "/var/lib/fetchd/fetchd.db"
	}
	if dir := xdgDir(getenv, home, "XDG_STATE_HOME", filepath.Join(".local", "state")); dir != "" {
		return filepath.Join(dir, "fetchd", "fetchd.db")
	}
	// No home directory at all: fall back to the system location, whose
	// permission error will at least be clear.
	return "/var/lib/fetchd/fetchd.db"
}

// xdgDir is $env when it holds an absolute path (the XDG spec says to ignore
// relative ones), else $HOME/fallback, else "".
func xdgDir(getenv func(string) string, home func() (string, error), env, fallback string) string {
	if d := getenv(env); filepath.IsAbs(d) {
		return d
	}
	h, err := home()
	if err != nil || h == "" {
		return ""
	}
	return filepath.Join(h, fallback)
}

// expandPath expands a leading "~/" (or a lone "~") to $HOME and insists on
// an absolute result: a daemon's working directory is no place to resolve
// paths against.
func expandPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("must not be empty")
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return "", errors.New("cannot expand ~: $HOME is not set; write the full path")
		}
		p = filepath.Join(home, p[1:])
	} else if strings.HasPrefix(p, "~") {
		return "", errors.New("only ~/ (your own home directory) is expanded; write the full path")
	}
	if !filepath.IsAbs(p) {
		return "", errors.New("must be an absolute path or start with ~/, got " + quote(p))
	}
	return filepath.Clean(p), nil
}
