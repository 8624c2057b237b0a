package fetch

import (
	"fmt"
	"strings"
	"time"
)

// Preview is what a poll would do, as a dry run (Account.DryRun) found it:
// it logged in and listed, and retrieved, deleted and recorded nothing.
type Preview struct {
	Fetch  []PreviewItem // would be retrieved and delivered, in order
	Delete []PreviewItem // would be deleted on the server
	Skip   []PreviewItem // would stay on the server this poll
	// Kept counts the messages delivered before and kept on the server
	// (keep mode) that the poll would not touch.
	Kept int
}

// PreviewItem is one listed message in a Preview.
type PreviewItem struct {
	Num    int    // message number in the session
	UIDL   string // "" when the server has no UIDL
	Size   int64  // octets as listed; -1 when the server did not say
	Reason string // why it is deleted or skipped; for a fetch, what is special, if anything
}

// preview describes the plan without carrying it out.
func (s *session) preview(p *plan) *Preview {
	a := s.account
	pv := &Preview{}
	for _, st := range p.steps {
		it := PreviewItem{Num: st.m.Num, UIDL: st.m.UID, Size: st.m.Size}
		switch st.v {
		case keepIt:
			pv.Kept++
			continue
		case fetchIt:
			switch {
			case st.resized:
				it.Reason = "delivered before with another size: delivered again rather than deleted"
			case len(st.prog.Done) > 0 || len(st.prog.Planned) > 0 || st.prog.Spool != "":
				it.Reason = "finishing a delivery an earlier poll began"
			case st.prog.Attempts > 0:
				it.Reason = fmt.Sprintf("retried after %d failed attempt(s)", st.prog.Attempts)
			}
			pv.Fetch = append(pv.Fetch, it)
			continue
		case redeleteIt:
			it.Reason = "delivered earlier and not yet deleted"
		case expireIt:
			it.Reason = fmt.Sprintf("delete_after (%s) expired: delivered %s", a.DeleteAfter, st.rec.Delivered.Local().Format(time.DateTime))
		case oversizeDelete:
			it.Reason = fmt.Sprintf("over max_message_size (%d bytes): deleted without delivery (oversize = delete)", a.MaxMessageSize)
		case oversizeSkip:
			it.Reason = fmt.Sprintf("over max_message_size (%d bytes): left on the server", a.MaxMessageSize)
		case heldIt:
			it.Reason = fmt.Sprintf("held after a permanent failure until %s or `fetchd retry %s`",
				st.prog.FailedAt.Add(a.FailedRetryAfter).Local().Format(time.DateTime), a.Name)
		case limitedIt:
			it.Reason = "beyond " + limits(a) + " for one poll: fetched by a later poll"
		case untrackable:
			it.Reason = "its UIDL is listed more than once: keep mode cannot track it"
		case sizeUnknown:
			it.Reason = "delete_after expired, but its size is not recorded (imported state): the next poll records it, the one after deletes it"
		}
		switch st.v {
		case redeleteIt, expireIt, oversizeDelete:
			pv.Delete = append(pv.Delete, it)
		default:
			pv.Skip = append(pv.Skip, it)
		}
	}
	return pv
}

// limits names the per-poll limits the account sets.
func limits(a *Account) string {
	var l []string
	if a.MaxMessagesPerPoll > 0 {
		l = append(l, fmt.Sprintf("max_messages_per_poll = %d", a.MaxMessagesPerPoll))
	}
	if a.MaxBytesPerPoll > 0 {
		l = append(l, fmt.Sprintf("max_bytes_per_poll = %d", a.MaxBytesPerPoll))
	}
	return strings.Join(l, " or ")
}
