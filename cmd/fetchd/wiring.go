package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/config"
	"fetchd/internal/deliver"
	"fetchd/internal/fetch"
	"fetchd/internal/logging"
	"fetchd/internal/notify"
	"fetchd/internal/oauth"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// buildAccount turns a configured account into what a poll needs, opening
// its delivery targets.
func buildAccount(a *config.Account, cfg *config.Config, log zerolog.Logger) (*fetch.Account, error) {
	out, owner, err := baseAccount(a, cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory: %w", err)
	}
	for i := range a.Deliver {
		t, err := buildTarget(&a.Deliver[i], owner, out.LocalUser, out.SpoolDir, log.With().Str("account", a.Name).Logger())
		if err != nil {
			closeTargets(out)
			return nil, fmt.Errorf("deliver #%d (%s): %w", i+1, a.Deliver[i].Kind(), err)
		}
		out.Targets = append(out.Targets, t)
	}
	if a.OnPermanentFailure == "quarantine" {
		q, err := deliver.NewMaildirOwned(a.QuarantineMaildir, owner)
		if err != nil {
			closeTargets(out)
			return nil, fmt.Errorf("quarantine_maildir: %w", err)
		}
		out.Quarantine = q
	}
	return out, nil
}

// buildDryRunAccount is buildAccount for a dry run: no delivery target is
// opened (opening a maildir creates it and cleans its tmp/), nor the spool
// directory created.
func buildDryRunAccount(a *config.Account, cfg *config.Config) (*fetch.Account, error) {
	out, _, err := baseAccount(a, cfg)
	if err != nil {
		return nil, err
	}
	out.DryRun = true
	if a.OAuth2 != nil {
		// A refresh writes the token store: a dry run uses the stored
		// access token or says it would refresh it.
		client, err := oauthClient(a.OAuth2)
		if err != nil {
			return nil, fmt.Errorf("oauth2: %w", err)
		}
		src := oauth.NewSource(tokenStore(cfg), accountKey(a).String(), client, nil)
		out.Secret, out.InvalidateSecret = src.StoredToken, nil
	}
	return out, nil
}

// baseAccount is what buildAccount and buildDryRunAccount share: the
// account without its targets, and who delivers for it.
func baseAccount(a *config.Account, cfg *config.Config) (*fetch.Account, *deliver.Owner, error) {
	owner, localUser, err := runAs(a.RunAs)
	if err != nil {
		return nil, nil, err
	}
	hostname, _ := os.Hostname()
	tlsCfg, err := a.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	out := &fetch.Account{
		Name: a.Name,
		Key:  accountKey(a),
		Server: pop3.Config{
			Addr:             a.Addr(),
			TLS:              tlsMode(a.TLS),
			AllowInsecure:    a.AllowInsecure,
			Timeout:          a.Timeout,
			MaxMessageSize:   a.MaxMessageSize,
			TLSConfig:        tlsCfg,
			CertFingerprints: a.TLSFingerprints,
			SPKIPins:         a.TLSPinsSPKI,
		},
		ServerName:         a.Server,
		User:               a.User,
		Secret:             a.Secret,
		Auth:               authMethod(a.Auth),
		Keep:               a.Keep,
		MaxMessageSize:     a.MaxMessageSize,
		OversizeDelete:     a.Oversize == "delete",
		DeleteAfter:        a.DeleteAfter,
		MaxMessagesPerPoll: a.MaxMessagesPerPoll,
		MaxBytesPerPoll:    a.MaxBytesPerPoll,
		SpoolDir:           filepath.Join(filepath.Dir(cfg.State), "spool"),
		FailedRetryAfter:   a.FailedRetryAfter,
		TraceHeaders:       a.TraceHeaders,
		LocalUser:          localUser,
		Hostname:           hostname,
		Version:            versionString(),
		InitialSyncLimit:   a.InitialSyncLimit,
		SessionTimeout:     a.SessionTimeout,
	}
	if a.OAuth2 != nil {
		// The token store, not the config, holds the account's secret.
		// Each poll gets its own Source: tokens live in the store, and one
		// account never polls twice at once.
		client, err := oauthClient(a.OAuth2)
		if err != nil {
			return nil, nil, fmt.Errorf("oauth2: %w", err)
		}
		src := oauth.NewSource(tokenStore(cfg), accountKey(a).String(), client, nil)
		name := a.Name
		out.Secret = func(ctx context.Context) (string, error) {
			tok, err := src.Token(ctx)
			if errors.Is(err, oauth.ErrConsentNeeded) {
				// What to do first: status output cuts long errors.
				err = fmt.Errorf("run `fetchd auth %s`: %w", name, err)
			}
			return tok, err
		}
		out.InvalidateSecret = src.Invalidate
	}
	return out, owner, nil
}

// buildTarget opens one delivery target.
func buildTarget(d *config.Deliver, owner *deliver.Owner, localUser, spoolDir string, log zerolog.Logger) (fetch.Target, error) {
	t := fetch.Target{Recipients: d.Recipients, From: d.From, FromSet: d.From != ""}
	if len(t.Recipients) == 0 {
		t.Recipients = []string{localUser}
	}
	var err error
	switch d.Kind() {
	case "maildir":
		var m *deliver.Maildir
		m, err = deliver.NewMaildirOwned(d.Maildir, owner)
		if err == nil {
			cleanTmp(m, log)
			t.Deliverer = m
		}
		t.Local = true
	case "mbox":
		t.Deliverer, err = deliver.NewMbox(d.Mbox, owner)
		t.Local = true
	case "mda", "mda_shell":
		t.Deliverer, err = deliver.NewMDA(deliver.MDAConfig{
			Argv: d.MDA, Shell: d.MDAShell, TempCodes: d.MDATempCodes, Timeout: d.MDATimeout,
			SpoolDir: spoolDir, Owner: owner,
			Log: func(line string) { log.Info().Str("target", d.Target()).Msg("mda: " + line) },
		})
		t.Local = true
	case "smtp":
		t.Deliverer, err = deliver.NewSMTP(deliver.SMTPConfig{
			Addr: d.SMTP, TLS: d.SMTPTLS, User: d.SMTPUser, Password: d.SMTPSecret,
		})
		t.PerRecipient = true
	case "lmtp":
		t.Deliverer, err = deliver.NewLMTP(deliver.LMTPConfig{Addr: d.LMTP})
		t.PerRecipient = true
	default:
		err = fmt.Errorf("delivery target %q is not supported", d.Kind())
	}
	return t, err
}

// accountKey is the account's identity in the state store.
func accountKey(a *config.Account) state.AccountKey {
	return state.AccountKey{Server: a.Server, Port: a.Port, User: a.User}
}

// cleanTmp removes what interrupted deliveries left in a maildir's tmp/.
func cleanTmp(m *deliver.Maildir, log zerolog.Logger) {
	if n, err := m.CleanTmp(time.Now(), deliver.TmpMaxAge); err != nil {
		log.Warn().Err(err).Msg("could not clean the maildir's tmp/")
	} else if n > 0 {
		log.Info().Int("count", n).Str("maildir", m.Path).Msg("removed files left in tmp/ by interrupted deliveries")
	}
}

// cleanSpool removes spool files that no account's delivery progress
// refers to: leftovers of a poll that was killed while spooling.
func cleanSpool(cfg *config.Config, store *state.Store, log zerolog.Logger) {
	keep := map[string]bool{}
	for _, a := range cfg.Accounts {
		progress, err := store.Progress(accountKey(a))
		if err != nil {
			log.Warn().Err(err).Msg("could not read delivery progress; spool left as it is")
			return
		}
		for _, p := range progress {
			keep[p.Spool] = true
		}
	}
	n, err := fetch.CleanSpool(filepath.Join(filepath.Dir(cfg.State), "spool"), keep, time.Now().Add(-time.Hour))
	if err != nil {
		log.Warn().Err(err).Msg("could not clean the spool")
	} else if n > 0 {
		log.Info().Int("count", n).Msg("removed spool files no delivery refers to")
	}
}

// runAs resolves the account's run_as user; without one, deliveries run as
// the user running fetchd, who is also the default recipient.
func runAs(name string) (*deliver.Owner, string, error) {
	if name == "" {
		u, err := user.Current()
		if err != nil {
			return nil, "", fmt.Errorf("who am I: %w", err)
		}
		return nil, u.Username, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", fmt.Errorf("run_as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Geteuid() != 0 && os.Geteuid() != uid {
		return nil, "", fmt.Errorf("run_as = %q needs fetchd to run as root or as %s", name, name)
	}
	return &deliver.Owner{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir}, u.Username, nil
}

func closeTargets(a *fetch.Account) {
	for _, t := range a.Targets {
		t.Deliverer.Close()
	}
	if a.Quarantine != nil {
		a.Quarantine.Close()
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
	if m, ok := pop3.ParseAuthMethod(s); ok {
		return m
	}
	return pop3.AuthAuto // config validated it
}

// newLogger builds the logger the configuration asks for; see
// logging.New for what "auto" means.
func newLogger(cfg *config.Config, stderr io.Writer) zerolog.Logger {
	return logging.New(cfg.LogLevel, cfg.LogFormat, stderr, os.Getenv)
}

// onceNotifier is notify_command for `fetchd once`: a poll reports a
// message over max_message_size once, and the store remembers it, so once
// must run the command as the daemon would. Without notify_command it is
// nil. done waits (a little) for the events queued.
func onceNotifier(cfg *config.Config, log zerolog.Logger) (send func(event, account, message string, details map[string]any), done func()) {
	if len(cfg.NotifyCommand) == 0 {
		return nil, func() {}
	}
	n := notify.New(cfg.NotifyCommand, log)
	send = func(event, account, message string, details map[string]any) {
		n.Send(notify.Event{Event: event, Account: account, Message: message, Details: details})
	}
	return send, func() {
		ctx, cancel := context.WithTimeout(context.Background(), notify.Timeout)
		defer cancel()
		n.Close(ctx)
	}
}
