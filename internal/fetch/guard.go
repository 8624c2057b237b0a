package fetch

import (
	"fmt"
	"time"

	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// Sync says how a poll treats messages the store does not know.
type Sync int

const (
	SyncNormal      Sync = iota // fetch what is new, behind the guards
	SyncMarkSeen                // record everything listed as seen, fetch nothing
	SyncInitialSync             // fetch everything new, past the lost-state guard
)

// Pruning: a record of a message the server no longer lists is kept until
// the message has been absent for this many polls and this long, because
// some servers (Gmail) list only a window of the mailbox and a message that
// drops out of it may come back.
const (
	PruneAfterPolls = 10
	PruneAfterAge   = 30 * 24 * time.Hour
)

// massChangeMinKnown is how many known messages the mass-UIDL-change guard
// needs before it judges: with a handful, "most vanished" means little.
const massChangeMinKnown = 10

// guard stops a keep-mode poll that would download a whole mailbox again
// because fetchd's memory of it is gone (lost state) or the server changed
// every UIDL (a migrated server): both look like "everything is new".
func (s *session) guard(msgs []pop3.MessageInfo) error {
	a := s.account
	if !a.Keep || a.Sync != SyncNormal {
		return nil
	}
	if len(s.seen) == 0 && len(s.progress) == 0 {
		if a.InitialSyncLimit > 0 && len(msgs) > a.InitialSyncLimit {
			return &GuardError{"lost_state", fmt.Errorf("fetchd has no record of this account, and the server keeps %d messages (more than initial_sync_limit = %d): "+
				"to fetch nothing old, run `fetchd once --mark-seen %s`; to fetch them all, run `fetchd once --initial-sync %s`",
				len(msgs), a.InitialSyncLimit, a.Name, a.Name)}
		}
		return nil
	}
	var known, vanished int
	listed := make(map[string]bool, len(msgs))
	unknown := 0
	for _, m := range msgs {
		listed[m.UID] = true
		if _, ok := s.seen[m.UID]; !ok {
			unknown++
		}
	}
	for uid, rec := range s.seen {
		if rec.State != state.Delivered { // deleted by us: its absence says nothing
			continue
		}
		known++
		if !listed[uid] {
			vanished++
		}
	}
	if known >= massChangeMinKnown && 2*unknown > len(msgs) && 2*vanished > known {
		return &GuardError{"uidl_change", fmt.Errorf("the server's message ids (UIDLs) changed: %d of %d listed messages are unknown and %d of %d known ones vanished; "+
			"fetchd stops rather than download the mailbox again. If the server was migrated, run `fetchd once --mark-seen %s` (skip what is there) or `fetchd once --initial-sync %s` (fetch it all)",
			unknown, len(msgs), vanished, known, a.Name, a.Name)}
	}
	return nil
}
