package fetch

import (
	"fmt"

	"github.com/rs/zerolog"

	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// The retention policies act through the plan (plan.go): delete_after as
// expireIt, the per-poll limits as limitedIt, max_message_size as
// oversizeSkip or oversizeDelete. What they need of the store is here.

// reportOversize tells the user, once per message, that a message over
// max_message_size stays on the server: a warning in the log and an
// "oversize" event for notify_command. The store remembers the report, so
// later polls only log it at debug. A message without a UIDL of its own
// cannot be remembered: it is logged every poll, and not sent to
// notify_command, which would hear of it every poll.
func (s *session) reportOversize(m pop3.MessageInfo, tracked bool, log zerolog.Logger) {
	a := s.account
	if !tracked {
		log.Warn().Int64("size", m.Size).Int64("max_message_size", a.MaxMessageSize).
			Msg("message larger than max_message_size: left on the server, not fetched (without a UIDL of its own fetchd cannot remember it, so it says so every poll)")
		return
	}
	if n, ok := s.oversize[m.UID]; ok && n.Size == m.Size {
		log.Debug().Int64("size", m.Size).Time("reported", n.Reported).Msg("larger than max_message_size; left on the server (reported before)")
		return
	}
	note := state.OversizeNote{Size: m.Size, Reported: s.poller.now()}
	if err := s.poller.Store.NoteOversize(a.Key, m.UID, note); err != nil {
		log.Warn().Err(err).Msg("could not remember that this message was reported; it is reported again next poll")
	} else {
		s.oversize[m.UID] = note
	}
	log.Warn().Int64("size", m.Size).Int64("max_message_size", a.MaxMessageSize).
		Msg("message larger than max_message_size: left on the server, not fetched; raise max_message_size to fetch it (reported once)")
	s.poller.notify("oversize", a.Name,
		fmt.Sprintf("a message of account %s (%d bytes) is larger than max_message_size (%d bytes) and stays on the server: raise max_message_size to fetch it, or read it with another client", a.Name, m.Size, a.MaxMessageSize),
		map[string]any{"uidl": m.UID, "size": m.Size, "limit": a.MaxMessageSize, "msg": m.Num})
}

// tidyOversize forgets the reports of messages the server no longer lists
// or that were delivered after all (max_message_size was raised).
func (s *session) tidyOversize(isListed map[string]bool) {
	var stale []string
	for uid := range s.oversize {
		if _, delivered := s.seen[uid]; delivered || !isListed[uid] {
			stale = append(stale, uid)
		}
	}
	if len(stale) == 0 {
		return
	}
	if err := s.poller.Store.ClearOversize(s.account.Key, stale); err != nil {
		s.log.Warn().Err(err).Msg("could not forget reports of oversized messages that are gone")
		return
	}
	for _, uid := range stale {
		delete(s.oversize, uid)
	}
}

// learnSizes records the listed size of records that have none (a state
// import: other programs keep no sizes) and are due for deletion: from the
// next poll on, delete_after deletes them while the server lists that size,
// as it does for messages fetchd delivered itself.
func (s *session) learnSizes(p *plan) {
	if len(p.learn) == 0 {
		return
	}
	n, err := s.poller.Store.LearnSizes(s.account.Key, p.learn)
	if err != nil {
		s.log.Warn().Err(err).Msg("could not record the sizes of messages known from an imported state; delete_after leaves them on the server until it can")
		return
	}
	s.log.Info().Int("count", n).Msg("recorded the listed size of messages known from an imported state, past delete_after: they are deleted from the next poll on")
}

// notify sends an event to notify_command, when the poller has one.
func (p *Poller) notify(event, account, message string, details map[string]any) {
	if p.Notify != nil {
		p.Notify(event, account, message, details)
	}
}
