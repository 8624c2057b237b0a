package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/config"
	"fetchd/internal/deliver"
	"fetchd/internal/fetch"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// buildAccount turns a configured account into what a poll needs, opening
// its delivery targets.
func buildAccount(a *config.Account, cfg *config.Config) (*fetch.Account, error) {
	out := &fetch.Account{
		Name: a.Name,
		Key:  state.AccountKey{Server: a.Server, Port: a.Port, User: a.User},
		Server: pop3.Config{
			Addr:           net.JoinHostPort(a.Server, strconv.Itoa(a.Port)),
			TLS:            tlsMode(a.TLS),
			AllowInsecure:  a.AllowInsecure,
			Timeout:        a.Timeout,
			MaxMessageSize: a.MaxMessageSize,
		},
		User:           a.User,
		Secret:         a.Secret,
		Auth:           authMethod(a.Auth),
		Keep:           a.Keep,
		MaxMessageSize: a.MaxMessageSize,
		SpoolDir:       filepath.Join(filepath.Dir(cfg.State), "spool"),
	}
	if len(a.Deliver) > 1 {
		if err := os.MkdirAll(out.SpoolDir, 0o700); err != nil {
			return nil, fmt.Errorf("spool directory: %w", err)
		}
	}
	for _, d := range a.Deliver {
		switch d.Kind() {
		case "maildir":
			m, err := deliver.NewMaildir(d.Target())
			if err != nil {
				closeTargets(out)
				return nil, err
			}
			out.Targets = append(out.Targets, m)
		default:
			closeTargets(out)
			return nil, fmt.Errorf("delivery target %q is not supported yet", d.Kind())
		}
	}
	return out, nil
}

func closeTargets(a *fetch.Account) {
	for _, t := range a.Targets {
		t.Close()
	}
}

func tlsMode(s string) pop3.TLSMode {
	switch s {
	case "starttls":
		return pop3.TLSStartTLS
	case "none":
		return pop3.TLSNone
	default:
		return pop3.TLSImplicit
	}
}

func authMethod(s string) pop3.AuthMethod {
	switch s {
	case "user":
		return pop3.AuthUser
	case "apop":
		return pop3.AuthAPOP
	default:
		return pop3.AuthAuto
	}
}

// newLogger builds the logger the configuration asks for. "auto" is the
// console format, coloured only on a terminal.
func newLogger(cfg *config.Config, stderr io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || cfg.LogLevel == "" {
		level = zerolog.InfoLevel
	}
	var w io.Writer = stderr
	if cfg.LogFormat != "json" {
		w = zerolog.ConsoleWriter{Out: stderr, NoColor: !isTerminal(stderr), TimeFormat: time.DateTime}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
