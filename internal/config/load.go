package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the configuration file at path, decodes and validates it, and
// refuses it if it holds an inline password but other users may read it.
//
// If the file cannot be read the error wraps the os error (so
// errors.Is(err, fs.ErrNotExist) works); any problem with its content is an
// *Errors listing every problem.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode of
	// the bytes read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	cfg, problems, inline := parse(path, data)
	if inline != "" {
		if msg := exposedSecret(path, fi.Mode(), inline); msg != "" {
			problems = append(problems, &Problem{File: path, Msg: msg})
		}
	}
	if len(problems) > 0 {
		return nil, &Errors{Problems: problems}
	}
	return cfg, nil
}

// Parse decodes and validates data, the contents of the file at path (used
// only in messages and as Config.Path). It does not check permissions.
func Parse(path string, data []byte) (*Config, error) {
	cfg, problems, _ := parse(path, data)
	if len(problems) > 0 {
		return nil, &Errors{Problems: problems}
	}
	return cfg, nil
}

// exposedSecret says what to do when a file holding a secret (what: "a
// password", "a private key") has mode bits for group or others, or returns
// "".
func exposedSecret(path string, mode os.FileMode, what string) string {
	if runtime.GOOS == "windows" || mode.Perm()&0o077 == 0 {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return fmt.Sprintf("holds %s but is readable by others (mode %04o): run chmod 600 %s", what, mode.Perm(), abs)
}

// parse returns the configuration, every problem found, and what inline
// secret the file holds (in an account or in [defaults]), as holdsSecret
// names it.
func parse(path string, data []byte) (*Config, []*Problem, string) {
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, []*Problem{syntaxProblem(path, data, err)}, ""
	}
	d := &decoder{file: path, pos: locate(data), order: map[string]int{}}
	for i, k := range md.Keys() {
		s := strings.Join(k, ".")
		if _, ok := d.order[s]; !ok {
			d.order[s] = i
		}
	}

	cfg := &Config{Path: path}
	vals, _ := decodeTable(d, where{}, configFields, raw, []string{keyDefaults, keyAccount}, hintTop)
	apply(cfg, configFields, vals)
	if cfg.State == "" {
		cfg.State = DefaultStatePath()
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = DefaultLogLevel
	}
	if cfg.LogFormat == "" {
		cfg.LogFormat = DefaultLogFmt
	}
	if cfg.MaxParallel == 0 {
		cfg.MaxParallel = DefaultMaxParallel
	}
	if cfg.MaxPerServer == 0 {
		cfg.MaxPerServer = DefaultMaxPerServer
	}

	inh := d.defaults(raw[keyDefaults])
	cfg.Accounts = d.accounts(raw[keyAccount], inh)
	return cfg, d.problems, holdsSecret(raw)
}

// holdsSecret returns "a password" when [defaults] or any account sets
// password, or any of their deliver entries sets smtp_password; else "a
// client secret" when one of their oauth2 tables sets client_secret; else "".
func holdsSecret(raw map[string]any) string {
	var tables []map[string]any
	if m, ok := raw[keyDefaults].(map[string]any); ok {
		tables = append(tables, m)
	}
	accounts, _ := asTables(raw[keyAccount])
	what := ""
	for _, t := range append(tables, accounts...) {
		if _, ok := t["password"]; ok {
			return "a password"
		}
		if o, ok := t[keyOAuth2].(map[string]any); ok {
			if _, ok := o["client_secret"]; ok {
				what = "a client secret"
			}
		}
		entries, _ := asTables(t[keyDeliver])
		for _, e := range entries {
			if _, ok := e["smtp_password"]; ok {
				return "a password"
			}
		}
	}
	return what
}

// asTables accepts an array of tables in either form the TOML decoder
// produces: [[x]] headers, or an inline array of inline tables.
func asTables(raw any) ([]map[string]any, bool) {
	switch v := raw.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out[i] = m
		}
		return out, true
	}
	return nil, false
}
