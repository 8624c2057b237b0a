package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// maxReason bounds the failure reason kept in the store.
const maxReason = 1000

// delivery is one message on its way through the account's targets.
type delivery struct {
	s    *session
	m    pop3.MessageInfo
	log  zerolog.Logger
	prog state.Progress // what earlier polls achieved; updated as targets accept
	done map[string]bool
	// tracked: the message has a usable UIDL, so progress can be stored.
	tracked bool

	spool *spoolFile // the local copy, when the message goes to several targets
	size  int64
	rp    string // the message's Return-Path address
	rpOK  bool
}

// outcome of a delivery attempt.
type outcome int

const (
	delivered outcome = iota // every target accepted: record, then DELE
	failed                   // left on the server; progress recorded
)

// deliverMessage takes message m to every target that does not have it yet.
// It returns a stopError when the session cannot go on.
// It returns the size received.
func (s *session) deliverMessage(ctx context.Context, m pop3.MessageInfo, prog state.Progress, tracked bool, log zerolog.Logger) (outcome, int64, error) {
	d := &delivery{s: s, m: m, log: log, prog: prog, tracked: tracked, done: map[string]bool{}}
	for id := range prog.Done {
		d.done[id] = true
	}
	var pending []*Target
	for i := range s.account.Targets {
		if t := &s.account.Targets[i]; len(t.remaining(d.done)) > 0 {
			pending = append(pending, t)
		}
	}
	if len(pending) == 0 { // every target accepted before; only the record was missing
		return delivered, max(m.Size, 0), nil
	}
	defer d.closeSpool()

	failures, err := d.run(ctx, pending)
	if err != nil {
		return failed, d.size, err
	}
	if len(failures) == 0 {
		d.removeSpool()
		return delivered, d.size, nil
	}
	return failed, d.size, d.fail(ctx, failures)
}

// run delivers to the pending targets, from a spooled copy when there are
// several, streaming straight from the server when there is one. It returns
// the targets' failures, and a stopError when the session broke.
func (d *delivery) run(ctx context.Context, pending []*Target) ([]error, error) {
	s := d.s
	if d.prog.Spool != "" {
		if sp, err := openSpool(d.prog.Spool); err == nil {
			d.spool = sp
		} else {
			d.log.Warn().Err(err).Msg("spooled copy unreadable; fetching the message again")
		}
	}
	if d.spool != nil {
		d.size = d.spool.size
		return d.toTargets(ctx, pending, nil), nil
	}

	body, err := s.client.Retr(ctx, d.m.Num)
	if err != nil {
		var perr *pop3.Error
		if errors.As(err, &perr) {
			return []error{fmt.Errorf("server refused to send it: %w", err)}, nil
		}
		return nil, stop(err)
	}
	counted := &countingReader{r: body}
	var failures []error
	if len(pending) > 1 {
		d.spool, err = writeSpool(s.account.SpoolDir, s.account.Key, d.m.UID, counted)
		if err == nil {
			d.prog.Spool = d.spool.path
		} else {
			failures = []error{err}
		}
	} else {
		failures = d.toTargets(ctx, pending, bufio.NewReaderSize(counted, headerPeek))
	}
	// Close drains what a failed target did not read, so the session stays
	// in step; if it cannot, the connection is of no further use.
	if cerr := body.Close(); cerr != nil {
		d.record(ctx) // keep what targets accepted before the break
		return nil, stop(cerr)
	}
	d.size = counted.n
	if d.spool != nil && len(failures) == 0 {
		failures = d.toTargets(ctx, pending, nil)
	}
	return failures, nil
}

// toTargets hands the message to each pending target, from stream when it
// is not nil, else from the spool. Each acceptance is recorded in the store
// before the next target starts, so a crash or a later failure never makes
// a retry deliver twice to a target that has the message.
func (d *delivery) toTargets(ctx context.Context, pending []*Target, stream *bufio.Reader) []error {
	var head []byte
	if stream != nil {
		head, _ = stream.Peek(headerPeek) // an error shows again when the target reads
	} else {
		head = d.spool.head()
	}
	d.rp, d.rpOK = returnPath(head)

	var failures []error
	for i, t := range pending {
		rcpts := t.remaining(d.done)
		var body io.Reader = stream
		if stream == nil {
			r, err := d.spool.reader()
			if err != nil {
				failures = append(failures, err)
				continue
			}
			body = r
		}
		err := stageAndCommit(ctx, t.Deliverer, d.s.envelope(t, d.m, rcpts, d.rp, d.rpOK), body)
		var rerr *deliver.RecipientsError
		switch {
		case err == nil:
			d.accept(t.id())
		case errors.As(err, &rerr):
			for _, r := range rerr.Accepted {
				d.accept(t.recipientID(r))
			}
			failures = append(failures, err)
		default:
			failures = append(failures, err)
		}
		if err == nil && i < len(pending)-1 {
			d.record(ctx)
		}
	}
	return failures
}

func (d *delivery) accept(id string) {
	d.done[id] = true
	if d.prog.Done == nil {
		d.prog.Done = map[string]time.Time{}
	}
	d.prog.Done[id] = d.s.poller.now()
}

// record commits the progress so far; a failure to do so costs at most a
// duplicate later, so it is logged and the delivery goes on.
func (d *delivery) record(context.Context) {
	if !d.tracked {
		return
	}
	if err := d.s.poller.Store.SetProgress(d.s.account.Key, d.m.UID, d.prog); err != nil {
		d.log.Warn().Err(err).Msg("could not record delivery progress; a retry may deliver a duplicate")
	}
}

// fail records a failed attempt. A permanent failure holds the message until
// failed_retry_after or `fetchd retry`, and quarantines a copy when asked.
func (d *delivery) fail(ctx context.Context, failures []error) error {
	s, a := d.s, d.s.account
	err := errors.Join(failures...)
	permanent := true
	for _, f := range failures {
		if !deliver.IsPermanent(f) {
			permanent = false
		}
	}
	now := s.poller.now()
	d.prog.Attempts++
	d.prog.FailedAt = now
	d.prog.Failed = permanent
	d.prog.Reason = truncate(strings.ReplaceAll(err.Error(), "\n", "; "), maxReason)
	s.res.Failed++
	if permanent {
		s.res.FailedPermanent++
		if a.Quarantine != nil && !d.prog.Quarantined {
			if qerr := d.quarantine(ctx); qerr != nil {
				var se *stopError
				if errors.As(qerr, &se) {
					d.record(ctx)
					return qerr
				}
				d.log.Error().Err(qerr).Msg("could not save a copy to the quarantine maildir")
			} else {
				d.prog.Quarantined = true
			}
		}
		d.log.Error().Err(err).Int("attempts", d.prog.Attempts).Bool("quarantined", d.prog.Quarantined).
			Msgf("message refused permanently; it stays on the server and is held until %s or `fetchd retry %s`",
				now.Add(a.FailedRetryAfter).Format(time.DateTime), a.Name)
	} else {
		d.log.Error().Err(err).Int("attempts", d.prog.Attempts).
			Msg("message not delivered; it stays on the server and is tried again next poll")
	}
	if len(d.prog.Done) == 0 {
		d.removeSpool() // the server's copy serves the retry
	}
	d.record(ctx)
	return nil
}

// quarantine saves a copy of the message into the quarantine maildir, from
// the spool or by retrieving it again.
func (d *delivery) quarantine(ctx context.Context) error {
	t := &Target{Deliverer: d.s.account.Quarantine, Recipients: []string{d.s.account.LocalUser}, Local: true}
	if d.spool != nil {
		r, err := d.spool.reader()
		if err != nil {
			return err
		}
		return stageAndCommit(ctx, t.Deliverer, d.s.envelope(t, d.m, t.Recipients, d.rp, d.rpOK), r)
	}
	body, err := d.s.client.Retr(ctx, d.m.Num)
	if err != nil {
		var perr *pop3.Error
		if errors.As(err, &perr) {
			return err
		}
		return stop(err)
	}
	qerr := stageAndCommit(ctx, t.Deliverer, d.s.envelope(t, d.m, t.Recipients, d.rp, d.rpOK), body)
	if cerr := body.Close(); cerr != nil {
		return stop(cerr)
	}
	return qerr
}

func (d *delivery) closeSpool() {
	if d.spool != nil {
		d.spool.close()
	}
}

func (d *delivery) removeSpool() {
	var err error
	if d.spool != nil {
		err = d.spool.remove()
		d.spool = nil
	} else if d.prog.Spool != "" {
		if rerr := os.Remove(d.prog.Spool); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if err != nil {
		d.log.Warn().Err(err).Msg("spool file left behind")
	}
	d.prog.Spool = ""
}

// stageAndCommit delivers one message to one target. The targets' errors
// name the target already.
func stageAndCommit(ctx context.Context, t deliver.Deliverer, env *deliver.Envelope, body io.Reader) error {
	st, err := t.Stage(ctx, env, body)
	if err != nil {
		return err
	}
	if err := st.Commit(ctx); err != nil {
		st.Abort()
		return err
	}
	return nil
}

// envelope is what target t gets for message m.
func (s *session) envelope(t *Target, m pop3.MessageInfo, rcpts []string, rp string, rpOK bool) *deliver.Envelope {
	a := s.account
	env := &deliver.Envelope{Account: a.Name, UIDL: m.UID, Recipients: rcpts, Size: m.Size, From: rp}
	if t.FromSet {
		env.From = t.From
	}
	if !a.TraceHeaders {
		return env
	}
	rcpt := ""
	if len(rcpts) > 0 {
		rcpt = rcpts[0]
	}
	env.Trace.Received = received(a.ServerName, a.Hostname, s.protocol(), a.Version, rcpt, s.poller.now())
	if t.Local {
		env.Trace.DeliveredTo = rcpt
		if !rpOK && t.FromSet && t.From != "" {
			env.Trace.ReturnPath = "<" + t.From + ">"
		}
	}
	return env
}

func (s *session) protocol() string {
	if _, ok := s.client.TLSState(); ok {
		return "POP3S"
	}
	return "POP3"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
