// Package notify runs the user's notify_command once per event that needs a
// person's attention (an account paused, a delivery failing, a guard
// tripped, …), with the event as JSON on its standard input.
//
// Events are queued and run one at a time by a single worker, so that a slow
// or hanging command never holds up polling: Send never blocks, and a full
// queue drops the event with a warning. Each command runs without a shell,
// in its own process group, and is killed with everything it started after
// a timeout. Its environment is the daemon's, less systemd's notify,
// watchdog and socket variables, plus FETCHD_EVENT and FETCHD_ACCOUNT.
package notify

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Event is one thing that happened, as the command receives it on stdin.
// Events carry no secrets.
type Event struct {
	// Event is "account_paused", "delivery_failed", "guard_tripped",
	// "oauth_consent", or "oversize": one message
	// over max_message_size left on the server, sent once per message,
	// with details "uidl", "size", "limit" and "msg" (its number then).
	Event   string         `json:"event"`
	Account string         `json:"account"`
	Time    time.Time      `json:"time"`    // filled in by Send when zero
	Host    string         `json:"host"`    // filled in by Send when empty (os.Hostname)
	Message string         `json:"message"` // one human sentence saying what happened and what to do
	Details map[string]any `json:"details,omitempty"`
}

const (
	// QueueSize is how many events wait while a command runs.
	QueueSize = 64
	// Timeout bounds one run of the command.
	Timeout = 60 * time.Second
	// MaxOutput is how much of the command's output is kept and logged.
	MaxOutput = 4 << 10
	// waitDelay bounds how long a command that exited is waited for when
	// something it left behind still holds its output open.
	waitDelay = 5 * time.Second
)

// Notifier runs the notify command for each event sent to it.
type Notifier struct {
	argv    []string
	log     zerolog.Logger
	timeout time.Duration

	mu     sync.Mutex // guards closed and sending on queue
	closed bool
	queue  chan Event

	abort context.CancelFunc // ends the command running and what is queued
	ctx   context.Context    // the worker's; abort ends it
	done  chan struct{}      // closed when the worker returns

	hostname func() string
}

// New returns a Notifier running argv (no shell) for each event. With an
// empty argv, Send only logs the event at info. Close must be called to stop
// the worker.
func New(argv []string, log zerolog.Logger) *Notifier {
	return newNotifier(argv, log, Timeout, QueueSize)
}

func newNotifier(argv []string, log zerolog.Logger, timeout time.Duration, queue int) *Notifier {
	ctx, abort := context.WithCancel(context.Background())
	n := &Notifier{
		argv:    argv,
		log:     log,
		timeout: timeout,
		queue:   make(chan Event, queue),
		ctx:     ctx,
		abort:   abort,
		done:    make(chan struct{}),
		hostname: sync.OnceValue(func() string {
			h, _ := os.Hostname()
			return h
		}),
	}
	go n.work()
	return n
}

// Send queues ev to be run. It never blocks: when the queue is full, or the
// Notifier is closed, the event is dropped with a warning.
func (n *Notifier) Send(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if ev.Host == "" {
		ev.Host = n.hostname()
	}
	if len(n.argv) == 0 {
		n.logEvent(n.log.Info(), ev).Msg(ev.Message)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.logEvent(n.log.Warn(), ev).Msg("notify_command not run: fetchd is stopping: " + ev.Message)
		return
	}
	select {
	case n.queue <- ev:
	default:
		n.logEvent(n.log.Warn(), ev).Int("queued", cap(n.queue)).
			Msg("notify_command not run: too many events are waiting for it (is it hanging?): " + ev.Message)
	}
}

// logEvent adds ev's identity and details to a log event.
func (n *Notifier) logEvent(e *zerolog.Event, ev Event) *zerolog.Event {
	e = e.Str("event", ev.Event).Str("account", ev.Account)
	if len(ev.Details) > 0 {
		e = e.Interface("details", ev.Details)
	}
	return e
}

// Close stops accepting events, runs those queued unless ctx ends first (then
// it kills the command running and drops the rest), and waits for the
// worker. It returns ctx's error if ctx ended before the queue was done.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		select {
		case <-n.done: // finished just in time
			return nil
		default:
		}
	}
	n.abort()
	<-n.done
	return ctx.Err()
}

func (n *Notifier) work() {
	defer close(n.done)
	defer n.abort()
	dropped := 0
	for ev := range n.queue {
		if n.ctx.Err() != nil {
			dropped++
			continue
		}
		n.run(n.ctx, ev)
	}
	if dropped > 0 {
		n.log.Warn().Int("count", dropped).Msg("notify_command not run for events still queued when fetchd stopped")
	}
}
