package fetch

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"fetchd/internal/crashpoint"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// handle carries out one message's verdict: for a message to fetch,
// retrieve → deliver → record → DELE. It returns nil when the poll can go
// on with the next message (the message may have failed and stays on the
// server), a stopError when the connection is unusable, and another error
// when the poll must end with QUIT.
func (s *session) handle(ctx context.Context, st *step) error {
	a, m, tracked := s.account, st.m, st.tracked
	log := s.log.With().Int("msg", m.Num).Str("uidl", m.UID).Logger()
	switch st.v {
	case keepIt, sizeUnknown:
		return nil
	case redeleteIt:
		// Delivered in an earlier poll whose DELE did not commit.
		log.Debug().Msg("already delivered; deleting it again")
		return s.dele(ctx, m, true, deleDelivered, log)
	case expireIt:
		log.Debug().Time("delivered", st.rec.Delivered).Dur("delete_after", a.DeleteAfter).
			Msg("delivered longer ago than delete_after; deleting it on the server")
		return s.dele(ctx, m, true, deleExpired, log)
	case untrackable:
		s.res.Skipped++
		log.Warn().Msg("UIDL listed more than once: left on the server, not fetched (keep mode cannot track it)")
		return nil
	}
	if st.resized {
		log.Warn().Int64("recorded_size", st.rec.Size).Int64("listed_size", m.Size).
			Msg("UIDL delivered before, but the message's size differs: delivering it rather than deleting it unseen")
	}
	s.res.New++
	switch st.v {
	case oversizeSkip:
		s.res.Skipped++
		s.res.TooLarge++
		s.reportOversize(m, tracked, log)
		return nil
	case oversizeDelete:
		return s.dele(ctx, m, tracked, deleOversize, log)
	case heldIt:
		s.res.Held++
		log.Debug().Str("reason", st.prog.Reason).Msg("refused permanently before; held")
		return nil
	case limitedIt:
		s.res.Limited++
		return nil
	}
	prog := st.prog
	if tracked && s.batch.eligible(prog) {
		return s.batch.stage(ctx, m, prog, log)
	}
	ok, n, err := s.deliverMessage(ctx, m, prog, tracked, log)
	if err != nil || !ok {
		return err
	}
	s.res.Fetched++
	s.res.Bytes += n
	s.reportFetched()
	if tracked {
		now := s.poller.now()
		size := recordSize(m, n)
		if err := s.poller.Store.MarkDelivered(a.Key, m.UID, size, now); err != nil {
			// Delivered but not recorded: it must not be deleted, or a crash
			// now would leave no trace of the delivery. The poll ends with
			// QUIT, committing the deletions already recorded; this message
			// is delivered again next poll.
			return fmt.Errorf("record delivery of message %d (UIDL %s): %w", m.Num, m.UID, err)
		}
		crashpoint.Hit(ctx, "store.delivered")
		s.seen[m.UID] = state.Record{State: state.Delivered, Delivered: now, Size: size}
	}
	log.Debug().Int64("size", n).Msg("delivered")
	if a.Keep {
		return nil // delete_after, if set, deletes it in a later poll
	}
	return s.dele(ctx, m, tracked, deleDelivered, log)
}

// deleKind says why a DELE went out, for the poll's counts and log.
type deleKind int

const (
	deleDelivered deleKind = iota // delivered (now or before)
	deleExpired                   // kept for delete_after, now past it
	deleOversize                  // over max_message_size, oversize = "delete"
	deleKinds
)

// dele deletes m on the server. With PIPELINING the DELE goes out without
// waiting, and its +OK is noted when read (by Quit at the latest): only
// DELEs the server acknowledged count, and QUIT commits them.
func (s *session) dele(ctx context.Context, m pop3.MessageInfo, tracked bool, kind deleKind, log zerolog.Logger) error {
	err := s.client.DeleAsync(ctx, m.Num, func(err error) {
		if err != nil {
			log.Warn().Err(err).Msg("server refused DELE; the message stays and is deleted next poll")
			return
		}
		crashpoint.Hit(ctx, "dele.acked")
		s.acked[kind]++
		if kind == deleOversize {
			// The one deletion of mail fetchd did not deliver: only
			// because the user wrote oversize = "delete".
			log.Warn().Int64("size", m.Size).Int64("max_message_size", s.account.MaxMessageSize).
				Msg("deleted without delivery (oversize = delete): larger than max_message_size")
		}
		if tracked {
			s.deleted = append(s.deleted, m.UID)
		} else {
			s.untracked++
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return err // this DELE was not sent: end with QUIT
		}
		return stop(err)
	}
	return nil
}
