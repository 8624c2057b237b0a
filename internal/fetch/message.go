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

	"fetchd/internal/crashpoint"
	"fetchd/internal/deliver"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// delivery is one message on its way through the account's targets.
type delivery struct {
	s    *session
	m    pop3.MessageInfo
	log  zerolog.Logger
	prog state.Progress // what earlier polls achieved; updated as targets accept
	done map[string]bool
	// tracked: the message has a UIDL of its own, so progress can be stored.
	tracked bool

	spool *spoolFile // the local copy, when the message goes to several targets
	size  int64
	rp    string // the message's Return-Path address
	rpOK  bool
}

// deliverMessage takes message m to every target that does not have it yet.
// ok reports that every target has it; n is its size. A failed message is
// logged, counted and recorded here. err is a stopError when the connection
// is unusable.
func (s *session) deliverMessage(ctx context.Context, m pop3.MessageInfo, prog state.Progress, tracked bool, log zerolog.Logger) (ok bool, n int64, err error) {
	d := &delivery{s: s, m: m, log: log, prog: prog, tracked: tracked, done: map[string]bool{}}
	for id := range prog.Done {
		d.done[id] = true
	}
	d.recoverPlanned()
	var pending []*Target
	for i := range s.account.Targets {
		if t := &s.account.Targets[i]; len(t.remaining(d.done)) > 0 {
			pending = append(pending, t)
		}
	}
	if len(pending) == 0 { // every target has it; only the record was missing
		d.removeSpool()
		return true, max(m.Size, 0), nil
	}
	defer d.closeSpool()

	failures, err := d.run(ctx, pending)
	if err != nil {
		return false, d.size, err
	}
	if len(failures) == 0 {
		d.removeSpool()
		return true, d.size, nil
	}
	return false, d.size, d.fail(ctx, failures)
}

// recoverPlanned counts a maildir target as done when the file planned for
// it before a crash is in the maildir: the crash came after the link. The
// directory is fsynced first: the crash may have come before its fsync, and
// the message is about to be recorded and deleted on the server. If that
// fails, the message is delivered again (a duplicate, never a loss).
func (d *delivery) recoverPlanned() {
	for id, path := range d.prog.Planned {
		if d.done[id] {
			continue
		}
		dir, found := maildirFind(path)
		if !found {
			continue
		}
		if err := deliver.SyncDirectory(dir); err != nil {
			d.log.Warn().Err(err).Str("target", id).Str("file", path).Msg("found the message delivered before an interruption, but could not fsync its directory; delivering it again")
			continue
		}
		d.log.Info().Str("target", id).Str("file", path).Msg("found the message delivered before an interruption; not delivering it again")
		d.accept(id)
	}
}

// run delivers to the pending targets, from a spooled copy when there are
// several (or one survives from an earlier poll), streaming straight from the
// server otherwise. It returns the targets' failures, and a stopError when
// the session broke.
func (d *delivery) run(ctx context.Context, pending []*Target) ([]error, error) {
	s := d.s
	if d.prog.Spool != "" {
		sp, err := openSpool(d.prog.Spool, d.prog.SpoolSize)
		if err == nil {
			d.spool = sp
			d.size = sp.size
			return d.toTargets(ctx, pending, nil), nil
		}
		d.log.Warn().Err(err).Msg("spooled copy unusable; fetching the message again")
		d.removeSpool()
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
			d.prog.Spool, d.prog.SpoolSize = d.spool.path, d.spool.size
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
	crashpoint.Hit(ctx, "retr.received")
	d.size = counted.n
	if d.spool != nil && len(failures) == 0 {
		failures = d.toTargets(ctx, pending, nil)
	}
	if len(failures) > 0 {
		s.retrievedUndelivered = true
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
		var src io.Reader = stream
		if stream == nil {
			r, err := d.spool.reader()
			if err != nil {
				failures = append(failures, err)
				continue
			}
			src = r
		}
		err := d.toTarget(ctx, t, src)
		var rerr *deliver.RecipientsError
		accepted := err == nil
		switch {
		case err == nil:
			d.accept(t.id())
		case errors.As(err, &rerr):
			for _, r := range rerr.Accepted {
				d.accept(t.recipientID(r))
				accepted = true
			}
			failures = append(failures, err)
		default:
			failures = append(failures, err)
		}
		if accepted && i < len(pending)-1 {
			d.record(ctx)
			crashpoint.Hit(ctx, "store.progress")
		}
	}
	return failures
}

// toTarget delivers to one target. For a maildir, the planned file name is
// committed to the store between staging and linking (the intent record), so
// a crash after the link does not lead to a second copy.
func (d *delivery) toTarget(ctx context.Context, t *Target, src io.Reader) error {
	body := &eofReader{r: src}
	st, err := t.Deliverer.Stage(ctx, d.s.envelope(t, d.m, t.remaining(d.done), d.rp, d.rpOK), body)
	if err != nil {
		return err
	}
	if !body.eof {
		st.Abort()
		return deliver.Temporary(t.id(), "deliver", errors.New("target accepted the message without reading all of it"))
	}
	if ms, ok := st.(deliver.MaildirStaged); ok && d.tracked {
		if d.prog.Planned == nil {
			d.prog.Planned = map[string]string{}
		}
		d.prog.Planned[t.id()] = ms.FinalPath()
		if err := d.s.poller.Store.SetProgress(d.s.account.Key, d.m.UID, d.prog); err != nil {
			st.Abort()
			return deliver.Temporary(t.id(), "record intent", err)
		}
		crashpoint.Hit(ctx, "store.intent")
	}
	// The whole message is with the target now: cancelling the commit (a
	// daemon stopping) could kill an MDA, or drop an LMTP session after the
	// final dot, after it delivered but before it said so, and the message
	// would come again. The commit finishes; the target's own timeouts and
	// commitTimeout bound it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := st.Commit(cctx); err != nil {
		st.Abort()
		return err
	}
	return nil
}

// commitTimeout bounds a delivery's commit once the message was handed
// over whole, whatever the poll's context says.
const commitTimeout = 15 * time.Minute

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
	d.prog.Failed = permanent && d.tracked
	d.prog.Reason = strings.ReplaceAll(err.Error(), "\n", "; ")
	s.res.Failed++
	switch {
	case permanent && d.tracked:
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
	case permanent:
		d.log.Error().Err(err).Msg("message refused permanently; it stays on the server, and without a UIDL of its own fetchd cannot hold it: it is tried again every poll")
	default:
		d.log.Error().Err(err).Int("attempts", d.prog.Attempts).
			Msg("message not delivered; it stays on the server and is tried again next poll")
	}
	if len(d.prog.Done) == 0 || !d.tracked {
		d.removeSpool() // the server's copy serves the retry
	}
	d.record(ctx)
	return nil
}

// quarantine saves a copy of the message into the quarantine maildir, from
// the spool or by retrieving it again.
func (d *delivery) quarantine(ctx context.Context) error {
	t := &Target{Deliverer: d.s.account.Quarantine, Recipients: []string{d.s.account.LocalUser}, Local: true}
	env := d.s.envelope(t, d.m, t.Recipients, d.rp, d.rpOK)
	if d.spool != nil {
		r, err := d.spool.reader()
		if err != nil {
			return err
		}
		return stageAndCommit(ctx, t.Deliverer, env, r)
	}
	body, err := d.s.client.Retr(ctx, d.m.Num)
	if err != nil {
		var perr *pop3.Error
		if errors.As(err, &perr) {
			return err
		}
		return stop(err)
	}
	qerr := stageAndCommit(ctx, t.Deliverer, env, body)
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
	if d.spool != nil {
		if err := d.spool.remove(); err != nil {
			d.log.Warn().Err(err).Msg("spool file left behind")
		}
		d.spool = nil
	} else if d.prog.Spool != "" {
		removeFile(d.prog.Spool, d.log)
	}
	d.prog.Spool, d.prog.SpoolSize = "", 0
}

func removeFile(path string, log zerolog.Logger) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn().Err(err).Msg("spool file left behind")
	}
}

// stageAndCommit delivers one message to one target. The targets' errors
// name the target already.
func stageAndCommit(ctx context.Context, t deliver.Deliverer, env *deliver.Envelope, body io.Reader) error {
	st, err := t.Stage(ctx, env, body)
	if err != nil {
		return err
	}
	// The whole message is with the target now: cancelling the commit (a
	// daemon stopping) could kill an MDA, or drop an LMTP session after the
	// final dot, after it delivered but before it said so, and the message
	// would come again. The commit finishes; the target's own timeouts and
	// commitTimeout bound it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := st.Commit(cctx); err != nil {
		st.Abort()
		return err
	}
	return nil
}

// eofReader notes whether its reader reached the end: a target that
// succeeded without reading all of the message did not deliver all of it.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}
