package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// Account is what one poll needs to know about an account, already resolved
// from the configuration.
type Account struct {
	Name       string
	Key        state.AccountKey
	Server     pop3.Config
	ServerName string // the configured server, for the Received field
	User       string
	// Secret returns the password (or OAuth2 access token). It is called
	// before each connection is made, so a failing password command costs
	// no login attempt.
	Secret func(ctx context.Context) (string, error)
	// InvalidateSecret, when set (OAuth2), forgets the secret Secret
	// returned: a login it failed is retried once with a fresh one.
	InvalidateSecret func()
	Auth             pop3.AuthMethod
	Keep             bool
	MaxMessageSize   int64 // messages LIST reports as larger stay on the server; 0: no limit
	// OversizeDelete deletes the messages over MaxMessageSize without
	// delivering them (oversize = "delete"); without it they stay on the
	// server, reported once.
	OversizeDelete bool
	// DeleteAfter, in keep mode, deletes a message on the server once its
	// delivery is this long ago (0: never).
	DeleteAfter time.Duration
	// A poll fetches at most MaxMessagesPerPoll new messages and, past its
	// first, no message that would take it over MaxBytesPerPoll; the rest
	// waits for the next poll (0: no limit).
	MaxMessagesPerPoll int
	MaxBytesPerPoll    int64
	// DryRun logs in, lists and decides, then QUITs: nothing is retrieved,
	// deleted or written to the store; Result.Preview says what a poll
	// would do. It needs no Targets.
	DryRun   bool
	Targets  []Target
	SpoolDir string // where a message is spooled when it goes to several targets

	// Quarantine, when set, receives a copy of a message refused permanently.
	Quarantine deliver.Deliverer
	// FailedRetryAfter holds a permanently refused message this long before
	// it is tried again.
	FailedRetryAfter time.Duration
	TraceHeaders     bool
	LocalUser        string // the default recipient
	// InitialSyncLimit arms the lost-state guard: a keep-mode account the
	// store knows nothing of, with more messages than this on the server,
	// is not fetched until the user says how (0: no guard).
	InitialSyncLimit int
	Sync             Sync
	// SessionTimeout bounds a whole poll (0: none): a server that answers
	// just fast enough never to time out still costs a bounded time.
	SessionTimeout time.Duration
	Hostname       string // this machine, for the Received field
	// OnProgress, when set, is told how the poll advances (progress.go).
	OnProgress func(Progress)
	Version    string // fetchd's version, for the Received field
}

// Result is the outcome of one poll.
type Result struct {
	Account string
	Listed  int // messages on the server
	New     int // messages not delivered before
	Fetched int // delivered and recorded in this poll
	Deleted int // DELE sent and committed by QUIT
	// Of Deleted: kept for delete_after and then deleted; over
	// max_message_size and deleted undelivered (oversize = "delete").
	Expired            int
	DeletedUndelivered int
	Skipped            int // left on the server on purpose (too large, UIDL not usable)
	// Limited: new messages left for the next poll by max_messages_per_poll
	// or max_bytes_per_poll (not in Skipped).
	Limited int
	Failed  int // left on the server after a failure
	// FailedPermanent counts the failures that are held until
	// failed_retry_after or `fetchd retry`; the rest are retried next poll.
	FailedPermanent int
	Held            int   // refused permanently before and still held
	TooLarge        int   // of Skipped: over max_message_size
	MarkedSeen      int   // recorded as seen without fetching (--mark-seen)
	Bytes           int64 // message bytes received
	Start           time.Time
	Duration        time.Duration
	// Pipelining: the server announced PIPELINING (RFC 2449 §6.6).
	Pipelining bool
	// LoginDelay is the server's LOGIN-DELAY capability (RFC 2449 §6.5)
	// as it stood after login: the least time it allows between logins.
	LoginDelay time.Duration
	// Err says why the poll stopped before a clean QUIT; nil when it reached one.
	Err error
	// Preview is what a dry run found; nil for a real poll.
	Preview *Preview
}

// OK reports whether the poll reached QUIT and every new message was handled.
func (r *Result) OK() bool { return r.Err == nil && r.Failed == 0 }

// Poller polls accounts against one state store.
type Poller struct {
	Store *state.Store
	Log   zerolog.Logger
	Now   func() time.Time // nil: time.Now
	// Drain, once closed, ends each poll after the message in flight has
	// been delivered and recorded: the session QUITs (committing its
	// deletions) and the poll returns ErrDrained. A daemon closes it on
	// SIGTERM and cancels the context only if draining takes too long.
	Drain <-chan struct{}
	// Notify, when set, sends an event to notify_command (a message over
	// max_message_size left on the server, once per message).
	Notify func(event, account, message string, details map[string]any)
	// Servers, when set, is shared by the polls of one process (servers.go).
	Servers *Servers
}

func (p *Poller) draining() bool {
	if p.Drain == nil {
		return false
	}
	select {
	case <-p.Drain:
		return true
	default:
		return false
	}
}

// quitTimeout bounds the QUIT at the end of a poll that was cancelled: the
// deletions it commits are worth a short wait, not a hang.
const quitTimeout = 10 * time.Second

// Poll runs one poll of one account and returns its outcome; it never panics
// on what a server sends. Errors are logged here, once.
func (p *Poller) Poll(ctx context.Context, a *Account) (res Result) {
	res = Result{Account: a.Name, Start: p.now()}
	log := p.Log.With().Str("account", a.Name).Logger()
	defer func() {
		res.Duration = p.now().Sub(res.Start)
		p.finish(a, &res, log)
	}()
	// A relay's session serves one poll; between polls it would only idle
	// into the server's timeout. Closing does not end a target's use.
	defer a.closeSessions(log)
	if a.DryRun && a.Sync == SyncMarkSeen {
		res.Err = configError{errors.New("a dry run cannot mark messages seen: that writes the store")}
		return res
	}
	if a.Sync == SyncMarkSeen && !a.Keep {
		// In delete mode a message still on the server is one nobody
		// fetched: marked seen, the next poll would delete it undelivered.
		res.Err = configError{errors.New("--mark-seen is for keep-mode accounts (keep = true): this account deletes what it has seen, so marking its messages seen would delete them on the next poll without delivering them")}
		return res
	}

	if a.SessionTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, a.SessionTimeout,
			fmt.Errorf("poll took longer than session_timeout (%s)", a.SessionTimeout))
		defer cancel()
	}
	cfg := a.Server
	// A server that pipelined last poll, or in another account's session
	// of this process, gets its first commands pipelined.
	if last, err := p.Store.LastPolls(a.Key, 1); err == nil && len(last) == 1 && last[0].Pipelining {
		cfg.ExpectPipelining = true
	}
	if p.Servers.expectPipelining(cfg) {
		cfg.ExpectPipelining = true
	}
	if log.GetLevel() <= zerolog.TraceLevel {
		cfg.Trace = func(dir, line string) { log.Trace().Str("dir", dir).Msg(line) }
	}
	for attempt := 0; ; attempt++ {
		password, err := a.Secret(ctx)
		if err != nil {
			res.Err = configError{err}
			return res
		}
		c, err := pop3.Dial(ctx, cfg)
		if err != nil {
			res.Err = withHint(err)
			return res
		}
		s := &session{poller: p, account: a, client: c, log: log, res: &res}
		err = s.run(ctx, password)
		if attempt == 0 && a.InvalidateSecret != nil && res.Listed == 0 && Classify(err) == FailureAuth {
			// An access token can expire between the refresh and the
			// login, or be revoked early: a fresh one and a new session,
			// once, before the poll counts as failed.
			log.Info().Err(err).Msg("the server refused the access token: refreshing it and logging in again")
			a.InvalidateSecret()
			continue
		}
		res.Err = withHint(err)
		return res
	}
}

func (a *Account) closeSessions(log zerolog.Logger) {
	for _, t := range a.Targets {
		if err := t.Deliverer.Close(); err != nil {
			log.Debug().Err(err).Str("target", t.Deliverer.String()).Msg("closing the target's session")
		}
	}
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// finish logs the outcome and records it in the poll history.
func (p *Poller) finish(a *Account, res *Result, log zerolog.Logger) {
	if a.DryRun {
		// A dry run leaves no trace in the store, its history included.
		ev := log.Info()
		if res.Err != nil {
			ev = log.Error().Err(res.Err)
		}
		if pv := res.Preview; pv != nil {
			ev = ev.Int("would_fetch", len(pv.Fetch)).Int("would_delete", len(pv.Delete)).Int("would_skip", len(pv.Skip))
		}
		ev.Int("listed", res.Listed).Dur("duration", res.Duration).Msg("dry run finished: nothing retrieved, deleted or recorded")
		return
	}
	ev := log.Info()
	if res.Fetched == 0 && res.Deleted == 0 && res.Skipped == 0 && res.MarkedSeen == 0 && res.Held == 0 && res.Limited == 0 {
		// A daemon polls every few minutes for years: a poll that found
		// nothing to do is not worth a line at info.
		ev = log.Debug()
	}
	drained := errors.Is(res.Err, ErrDrained)
	if res.Err != nil && !drained {
		ev = log.Error().Err(res.Err).Bool("temporary", IsTemporary(res.Err))
	} else if drained {
		ev = log.Info().Str("stopped", res.Err.Error())
	} else if res.Failed > 0 {
		ev = log.Warn()
	}
	ev.Int("listed", res.Listed).Int("new", res.New).Int("fetched", res.Fetched).
		Int("deleted", res.Deleted).Int("skipped", res.Skipped).Int("limited", res.Limited).Int("failed", res.Failed).
		Int("failed_permanently", res.FailedPermanent).Int("held", res.Held).
		Int64("bytes", res.Bytes).Dur("duration", res.Duration).Msg("poll finished")

	poll := state.Poll{Start: res.Start, End: res.Start.Add(res.Duration),
		Fetched: res.Fetched, Deleted: res.Deleted, Failed: res.Failed, Pipelining: res.Pipelining}
	if res.Err != nil && !drained {
		poll.Err = res.Err.Error()
	}
	if err := p.Store.RecordPoll(a.Key, poll); err != nil {
		log.Warn().Err(err).Msg("could not record the poll in the history")
	}
}

// countingReader counts the bytes a target read from the message.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
