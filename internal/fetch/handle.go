package fetch

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"fetchd/internal/crashpoint"
	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// handle takes one listed message through retrieve → deliver → record → DELE.
// It returns nil when the poll can go on with the next message (the message
// may have failed and stays on the server), a stopError when the connection
// is unusable, and another error when the poll must end with QUIT.
func (s *session) handle(ctx context.Context, m pop3.MessageInfo, duplicated bool) error {
	a := s.account
	log := s.log.With().Int("msg", m.Num).Str("uidl", m.UID).Logger()
	// A message is tracked when its UIDL names it alone: only then may the
	// store's records decide anything about it.
	tracked := m.UID != "" && !duplicated

	switch {
	case tracked:
		if rec, ok := s.seen[m.UID]; ok {
			if a.Keep {
				return nil
			}
			if sizeDiffers(rec, m) {
				// A DELE must never hit a message fetchd did not deliver: a
				// server that reuses or misreports UIDLs gets a delivery
				// (perhaps a duplicate) instead of a deletion.
				log.Warn().Int64("recorded_size", rec.Size).Int64("listed_size", m.Size).
					Msg("UIDL delivered before, but the message's size differs: delivering it rather than deleting it unseen")
				break
			}
			// Delivered in an earlier poll whose DELE did not commit.
			log.Debug().Msg("already delivered; deleting it again")
			return s.dele(ctx, m, true, log)
		}
	case duplicated && a.Keep:
		// In keep mode fetchd could only tell copies apart by their UIDL;
		// it leaves them on the server rather than fetch them every poll.
		s.res.Skipped++
		log.Warn().Msg("UIDL listed more than once: left on the server, not fetched (keep mode cannot track it)")
		return nil
	}
	s.res.New++
	if a.MaxMessageSize > 0 && m.Size > a.MaxMessageSize {
		s.res.Skipped++
		s.res.TooLarge++
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
		// The record keeps the size LIST gave, not the bytes received: a
		// server may add a final CRLF the listed size does not count, and
		// sizeDiffers compares a later listing with this one.
		size := n
		if m.Size >= 0 {
			size = m.Size
		}
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
		return nil
	}
	return s.dele(ctx, m, tracked, log)
}

// dele deletes m on the server. With PIPELINING the DELE goes out without
// waiting, and its +OK is noted when read (by Quit at the latest): only
// DELEs the server acknowledged count, and QUIT commits them.
func (s *session) dele(ctx context.Context, m pop3.MessageInfo, tracked bool, log zerolog.Logger) error {
	err := s.client.DeleAsync(ctx, m.Num, func(err error) {
		if err != nil {
			log.Warn().Err(err).Msg("server refused DELE; the message stays and is deleted next poll")
			return
		}
		crashpoint.Hit(ctx, "dele.acked")
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

// sizeDiffers reports a listed message whose size is not the one the
// server listed when it was delivered: an honest server lists a message with
// the same size every time.
func sizeDiffers(rec state.Record, m pop3.MessageInfo) bool {
	return rec.Size > 0 && m.Size >= 0 && rec.Size != m.Size
}
