package fetch

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"fetchd/internal/crashpoint"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// session is one connection's worth of a poll.
type session struct {
	poller  *Poller
	account *Account
	client  *pop3.Client
	log     zerolog.Logger
	res     *Result
	batch   *batcher // nil: every message goes one at a time

	seen      map[string]state.Record
	progress  map[string]state.Progress
	oversize  map[string]state.OversizeNote // messages over max_message_size reported before
	deleted   []string                      // UIDLs DELEd in this session, committed by QUIT
	untracked int                           // messages without a usable UIDL DELEd in this session
	acked     [deleKinds]int                // DELEs the server acknowledged, by why they went out
	// retrievedUndelivered: a message was retrieved and not delivered. On a
	// server that expires retrieved messages (EXPIRE 0) a QUIT would delete it.
	retrievedUndelivered bool
	planned              Progress // what reportListed announced
}

// stopError wraps an error after which the connection is unusable: the
// session ends without QUIT.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

func stop(err error) error { return &stopError{err} }

func (s *session) run(ctx context.Context, password string) error {
	a := s.account
	// Login and listing go together when the server pipelines.
	uidl, uerr, list, lerr := s.client.LoginAndList(ctx, a.User, password, a.Auth)
	if lerr != nil && uerr == lerr {
		s.client.Close() // the login failed
		return lerr
	}
	s.res.LoginDelay = s.client.Capabilities().LoginDelay()
	s.res.Pipelining = s.client.Pipelining()
	s.poller.Servers.note(a.Server, s.res.Pipelining)
	msgs, err := s.listing(uidl, uerr, list, lerr)
	if err == nil {
		err = s.loadState(msgs)
	}
	if err == nil {
		err = s.guard(msgs)
	}
	if err != nil {
		s.client.Close()
		return err
	}
	if a.Sync == SyncMarkSeen {
		return errors.Join(s.markSeen(msgs), s.quit(ctx))
	}
	dup := duplicateUIDs(msgs)
	if len(dup) > 0 {
		s.log.Warn().Int("count", len(dup)).Msg("server lists the same UIDL for several messages; fetchd cannot tell them apart in its records, so it delivers and deletes them without recording (delete mode) or leaves them on the server (keep mode)")
	}
	p := s.plan(msgs, dup)
	if a.DryRun {
		// Nothing was sent but the login and the listing: QUIT without
		// waiting, as after any poll that deleted nothing.
		s.res.Preview = s.preview(p)
		return s.client.QuitNoWait(ctx)
	}
	s.learnSizes(p)
	if p.limited > 0 {
		s.log.Info().Int("fetching", p.toFetch).Int("left", p.limited).
			Int("max_messages_per_poll", a.MaxMessagesPerPoll).Int64("max_bytes_per_poll", a.MaxBytesPerPoll).
			Msgf("per-poll limit reached: %d new message(s) wait for the next poll", p.limited)
	}
	s.reportListed(p)

	if !s.client.ExpiresRetrieved() {
		// With EXPIRE 0 a RETR sent ahead and not delivered (the poll
		// ended early) would delete its message at QUIT: no plan there.
		s.client.PlanRetr(s.retrPlan(p))
	}
	s.batch = s.newBatcher(ctx)
	var endErr error
	for i := range p.steps {
		if ctx.Err() != nil {
			endErr = fmt.Errorf("poll interrupted: %w", context.Cause(ctx))
			break
		}
		if s.poller.draining() {
			endErr = ErrDrained
			break
		}
		err := s.batch.collect(ctx)
		if err == nil {
			err = s.handle(ctx, &p.steps[i])
		}
		if err != nil {
			var se *stopError
			if errors.As(err, &se) {
				// The connection is unusable: drop it. DELEs sent so far roll
				// back on the server; their UIDLs are recorded, so the next
				// poll deletes them instead of delivering them again. What
				// was received whole is still delivered and recorded.
				s.client.Close()
				return errors.Join(se.err, s.batch.finish(ctx, false))
			}
			endErr = err
			break
		}
	}
	if err := s.batch.finish(ctx, true); err != nil {
		var se *stopError
		if errors.As(err, &se) {
			s.client.Close()
			return errors.Join(endErr, se.err)
		}
		endErr = errors.Join(endErr, err)
	}
	if s.retrievedUndelivered && s.client.ExpiresRetrieved() {
		// RFC 2449 §6.7: with EXPIRE 0 the server deletes what was retrieved
		// when the session ends with QUIT. Dropping the connection rolls
		// everything back; the DELEs of this session are recorded and are
		// sent again next poll.
		s.client.Close()
		return errors.Join(endErr, errors.New("server deletes retrieved messages (EXPIRE 0) and one could not be delivered: connection dropped without QUIT so the server keeps it"))
	}
	return errors.Join(endErr, s.quit(ctx))
}

// loadState reads what the store knows of the account and tidies what the
// server no longer lists.
func (s *session) loadState(msgs []pop3.MessageInfo) error {
	a, store := s.account, s.poller.Store
	var err error
	if s.seen, err = store.Seen(a.Key); err == nil {
		s.progress, err = store.Progress(a.Key)
	}
	if err == nil {
		s.oversize, err = store.Oversize(a.Key)
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if a.DryRun || !s.complete(msgs) {
		return nil // a dry run writes nothing, tidying included
	}
	listed := make([]string, 0, len(msgs))
	isListed := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		listed = append(listed, m.UID)
		isListed[m.UID] = true
	}
	var gone []string
	for uid, p := range s.progress {
		if !isListed[uid] {
			gone = append(gone, uid)
			if p.Spool != "" {
				removeFile(p.Spool, s.log)
			}
		}
	}
	if len(gone) > 0 {
		s.log.Info().Int("count", len(gone)).Msg("forgetting delivery progress of messages the server no longer lists")
		if err := store.ClearProgress(a.Key, gone); err != nil {
			s.log.Warn().Err(err).Msg("could not clear stale delivery progress")
		}
	}
	s.tidyOversize(isListed)
	pruned, err := store.NoteListing(a.Key, listed, s.poller.now(), PruneAfterPolls, PruneAfterAge)
	if err != nil {
		s.log.Warn().Err(err).Msg("could not note the listing in the state store")
	} else if pruned > 0 {
		s.log.Debug().Int("count", pruned).Msg("pruned records of messages long gone from the server")
	}
	return nil
}

// complete reports whether every listed message has a UIDL: only then can
// records of unlisted UIDLs be tidied.
func (s *session) complete(msgs []pop3.MessageInfo) bool {
	for _, m := range msgs {
		if m.UID == "" {
			return false
		}
	}
	return true
}

// markSeen records every listed message as delivered without fetching it:
// `fetchd once --mark-seen` after switching from another program.
func (s *session) markSeen(msgs []pop3.MessageInfo) error {
	recs := make(map[string]state.Record, len(msgs))
	for _, m := range msgs {
		if _, ok := s.seen[m.UID]; !ok && m.UID != "" {
			// No delivery time: seen, never delivered, so nothing may
			// delete it on this record's word (mayDelete).
			recs[m.UID] = state.Record{State: state.Delivered, Size: max(m.Size, 0)}
		}
	}
	if err := s.poller.Store.MarkDeliveredBatch(s.account.Key, recs); err != nil {
		return fmt.Errorf("record messages as seen: %w", err)
	}
	s.res.MarkedSeen = len(recs)
	s.log.Info().Int("count", len(recs)).Msg("recorded the messages on the server as seen, without fetching them")
	return nil
}

// quit ends the session; on the server's +OK the deletions are committed.
func (s *session) quit(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quitTimeout)
	defer cancel()
	// Without a DELE the answer to QUIT could confirm nothing: it is not
	// waited for (QuitNoWait is Quit once a DELE went out).
	if err := s.client.QuitNoWait(qctx); err != nil {
		// The deletions may have been rolled back; the store still knows the
		// messages were delivered, so the next poll deletes them again.
		return err
	}
	s.res.Deleted += len(s.deleted) + s.untracked
	s.res.Expired += s.acked[deleExpired]
	s.res.DeletedUndelivered += s.acked[deleOversize]
	if len(s.deleted) > 0 {
		if err := s.poller.Store.MarkDeleted(s.account.Key, s.deleted, s.poller.now()); err != nil {
			// Harmless for the mail: the records still say delivered.
			s.log.Warn().Err(err).Msg("could not mark deleted messages in the state store")
		}
		crashpoint.Hit(ctx, "store.deleted")
	}
	return nil
}

// listing merges the server's listings into its messages with their UIDLs
// and sizes.
func (s *session) listing(uidl []pop3.MessageInfo, uerr error, list []pop3.MessageInfo, err error) ([]pop3.MessageInfo, error) {
	noUIDL := errors.Is(uerr, pop3.ErrNoUIDL)
	if uerr != nil && !noUIDL {
		return nil, uerr
	}
	if noUIDL && s.account.Keep {
		return nil, configError{fmt.Errorf("server %s does not support UIDL, so fetchd cannot tell which messages it already fetched: keep mode needs UIDL; set keep = false for this account", s.account.Server.Addr)}
	}
	if err != nil {
		return nil, err
	}
	s.res.Listed = len(list)
	if noUIDL {
		s.log.Warn().Msg("server does not support UIDL: delivering and deleting every message")
		return s.dropRepeatedNumbers(list), nil
	}
	sizes := make(map[int]int64, len(list))
	for _, m := range list {
		sizes[m.Num] = m.Size
	}
	for i := range uidl {
		if size, ok := sizes[uidl[i].Num]; ok {
			uidl[i].Size = size
		}
	}
	return s.dropRepeatedNumbers(uidl), nil
}

// dropRepeatedNumbers leaves out the messages whose number the listing names
// more than once: which UIDL is theirs is unknown, and with RETRs
// sent ahead each entry would be fetched, one message delivered under two
// names. They stay on the server untouched this poll.
func (s *session) dropRepeatedNumbers(msgs []pop3.MessageInfo) []pop3.MessageInfo {
	count := make(map[int]int, len(msgs))
	for _, m := range msgs {
		count[m.Num]++
	}
	out := msgs[:0]
	for _, m := range msgs {
		if count[m.Num] > 1 {
			s.log.Warn().Int("msg", m.Num).Str("uidl", m.UID).Msg("server lists this message number more than once: left on the server untouched this poll")
			continue
		}
		out = append(out, m)
	}
	return out
}

func duplicateUIDs(msgs []pop3.MessageInfo) map[string]bool {
	count := make(map[string]int, len(msgs))
	for _, m := range msgs {
		if m.UID != "" {
			count[m.UID]++
		}
	}
	dup := map[string]bool{}
	for uid, n := range count {
		if n > 1 {
			dup[uid] = true
		}
	}
	return dup
}

// retrPlan lists the messages handle will retrieve, in order, so that with
// PIPELINING their RETRs go out ahead: the poll's messages to fetch (none
// beyond the per-poll limits), less those whose earlier progress needs no
// RETR. A message it gets wrong costs a discarded body or a round trip. A
// poll that ends early (drain, an error) reads and discards the bodies
// still owed (at most the pipelining window) before QUIT's answer.
func (s *session) retrPlan(p *plan) []pop3.MessageInfo {
	var out []pop3.MessageInfo
	for _, st := range p.steps {
		if st.v == fetchIt && (!st.tracked || s.needsRetr(st.prog)) {
			out = append(out, st.m)
		}
	}
	return out
}

// needsRetr reports whether a message with this progress from earlier polls
// is retrieved again: not when a spooled copy serves it, nor when every
// target has it (or will be found to: a planned maildir file that exists).
func (s *session) needsRetr(prog state.Progress) bool {
	if prog.Spool != "" {
		return false
	}
	if len(prog.Done) == 0 && len(prog.Planned) == 0 {
		return true // a new message: the common case, without a map
	}
	done := map[string]bool{}
	for id := range prog.Done {
		done[id] = true
	}
	for id, path := range prog.Planned {
		if _, found := maildirFind(path); found {
			done[id] = true
		}
	}
	for i := range s.account.Targets {
		if len(s.account.Targets[i].remaining(done)) > 0 {
			return true
		}
	}
	return false
}
