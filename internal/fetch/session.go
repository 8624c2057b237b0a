package fetch

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

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

	seen      map[string]state.Record
	progress  map[string]state.Progress
	deleted   []string // UIDLs DELEd in this session, committed by QUIT
	untracked int      // messages without a usable UIDL DELEd in this session
}

// stopError wraps an error after which the session cannot go on.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

func stop(err error) error { return &stopError{err} }

func (s *session) run(ctx context.Context, password string) error {
	a := s.account
	if err := s.client.Login(ctx, a.User, password, a.Auth); err != nil {
		s.client.Close()
		return err
	}
	msgs, err := s.listing(ctx)
	if err != nil {
		s.client.Close()
		return err
	}
	s.res.Listed = len(msgs)
	if s.seen, err = s.poller.Store.Seen(a.Key); err == nil {
		s.progress, err = s.poller.Store.Progress(a.Key)
	}
	if err != nil {
		s.client.Close()
		return fmt.Errorf("read state: %w", err)
	}
	dup := duplicateUIDs(msgs)
	if len(dup) > 0 {
		s.log.Warn().Int("count", len(dup)).Msg("server lists the same UIDL for several messages; those are handled without the seen-list")
	}

	var stopErr error
	for _, m := range msgs {
		if ctx.Err() != nil {
			stopErr = fmt.Errorf("poll interrupted: %w", context.Cause(ctx))
			break
		}
		if err := s.handle(ctx, m, dup[m.UID]); err != nil {
			var se *stopError
			if errors.As(err, &se) && se.err != nil && !isStoreError(se.err) {
				// The connection is unusable: drop it. DELEs sent so far roll
				// back on the server; their UIDLs are recorded, so the next
				// poll deletes them instead of delivering them again.
				s.client.Close()
				return se.err
			}
			stopErr = err
			break
		}
	}
	return errors.Join(stopErr, s.quit(ctx))
}

// quit ends the session; on the server's +OK the deletions are committed.
func (s *session) quit(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quitTimeout)
	defer cancel()
	if err := s.client.Quit(qctx); err != nil {
		// The deletions may have been rolled back; the store still knows the
		// messages were delivered, so the next poll deletes them again.
		return fmt.Errorf("quit: %w", err)
	}
	s.res.Deleted += len(s.deleted) + s.untracked
	if len(s.deleted) > 0 {
		if err := s.poller.Store.MarkDeleted(s.account.Key, s.deleted, s.poller.now()); err != nil {
			// Harmless for the mail: the records still say delivered.
			s.log.Warn().Err(err).Msg("could not mark deleted messages in the state store")
		}
	}
	return nil
}

// listing returns the server's messages with their UIDLs and sizes.
func (s *session) listing(ctx context.Context) ([]pop3.MessageInfo, error) {
	uidl, err := s.client.UIDL(ctx)
	noUIDL := errors.Is(err, pop3.ErrNoUIDL)
	if err != nil && !noUIDL {
		return nil, fmt.Errorf("uidl: %w", err)
	}
	if noUIDL && s.account.Keep {
		return nil, configError{fmt.Errorf("server %s does not support UIDL, so fetchd cannot tell which messages it already fetched: keep mode needs UIDL; set keep = false for this account", s.account.Server.Addr)}
	}
	list, err := s.client.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	if noUIDL {
		s.log.Warn().Msg("server does not support UIDL: delivering and deleting every message")
		return list, nil
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
	return uidl, nil
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

// handle takes one listed message through retrieve → deliver → record → DELE.
// It returns nil when the poll can go on with the next message (the message
// may have failed and stays on the server), and a stopError when it cannot.
func (s *session) handle(ctx context.Context, m pop3.MessageInfo, duplicated bool) error {
	a := s.account
	log := s.log.With().Int("msg", m.Num).Str("uidl", m.UID).Logger()
	tracked := m.UID != "" && !duplicated

	if tracked {
		if _, ok := s.seen[m.UID]; ok {
			if a.Keep {
				return nil
			}
			// Delivered in an earlier poll whose DELE did not commit.
			log.Debug().Msg("already delivered; deleting it again")
			return s.dele(ctx, m, log)
		}
	} else if duplicated && a.Keep {
		if _, ok := s.seen[m.UID]; ok {
			return nil
		}
	}
	s.res.New++
	if a.MaxMessageSize > 0 && m.Size > a.MaxMessageSize {
		s.res.Skipped++
		log.Warn().Int64("size", m.Size).Int64("max_message_size", a.MaxMessageSize).
			Msg("message larger than max_message_size: left on the server")
		return nil
	}

	var prog state.Progress
	if tracked {
		prog = s.progress[m.UID]
		if prog.Failed && s.poller.now().Before(prog.FailedAt.Add(a.FailedRetryAfter)) {
			s.res.Held++
			log.Debug().Str("reason", prog.Reason).Msg("refused permanently before; held")
			return nil
		}
	}
	result, n, err := s.deliverMessage(ctx, m, prog, tracked, log)
	if err != nil || result == failed {
		return err
	}
	s.res.Fetched++
	s.res.Bytes += n
	if m.UID != "" {
		now := s.poller.now()
		if err := s.poller.Store.MarkDelivered(a.Key, m.UID, n, now); err != nil {
			// Delivered but not recorded: it must not be deleted, or a crash
			// now would be the only trace. It will be delivered again.
			return stop(storeError{fmt.Errorf("record delivery of message %d (UIDL %s): %w", m.Num, m.UID, err)})
		}
		s.seen[m.UID] = state.Record{State: state.Delivered, Delivered: now, Size: n}
	}
	log.Debug().Int64("size", n).Msg("delivered")
	if a.Keep {
		return nil
	}
	return s.dele(ctx, m, log)
}

func (s *session) dele(ctx context.Context, m pop3.MessageInfo, log zerolog.Logger) error {
	if err := s.client.Dele(ctx, m.Num); err != nil {
		var perr *pop3.Error
		if errors.As(err, &perr) {
			log.Warn().Err(err).Msg("server refused DELE; the message stays and is deleted next poll")
			return nil
		}
		return stop(err)
	}
	if m.UID != "" {
		s.deleted = append(s.deleted, m.UID)
	} else {
		s.untracked++
	}
	return nil
}

// storeError marks a state-store failure: the session itself is healthy and
// ends with QUIT, so the deletions already recorded are committed.
type storeError struct{ error }

func (e storeError) Unwrap() error { return e.error }

func isStoreError(err error) bool {
	var se storeError
	return errors.As(err, &se)
}
