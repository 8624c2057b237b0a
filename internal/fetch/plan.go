package fetch

import (
	"time"

	"fetchd/internal/pop3"
	"fetchd/internal/state"
)

// verdict is what one poll does with one listed message. A poll decides
// every message's verdict once, after the listing, so that the RETRs sent
// ahead, the progress line, a dry run and the poll itself agree.
type verdict uint8

const (
	// keepIt: delivered before and kept on the server (keep mode).
	keepIt verdict = iota
	// fetchIt: retrieve and deliver (new, or a delivery to finish).
	fetchIt
	// redeleteIt: delivered before; its DELE did not commit: DELE again.
	redeleteIt
	// expireIt: keep mode, delivered longer ago than delete_after: DELE.
	expireIt
	// oversizeSkip: over max_message_size; left on the server.
	oversizeSkip
	// oversizeDelete: over max_message_size with oversize = "delete":
	// DELE without delivery.
	oversizeDelete
	// heldIt: refused permanently before; held until failed_retry_after.
	heldIt
	// limitedIt: new, beyond this poll's max_messages_per_poll or
	// max_bytes_per_poll; the next poll fetches it.
	limitedIt
	// untrackable: its UIDL is listed more than once, in keep mode.
	untrackable
	// sizeUnknown: keep mode, past delete_after, but its record has no
	// size (a state import): the size is recorded now, the DELE waits for
	// the next poll.
	sizeUnknown
)

// step is one listed message and its verdict.
type step struct {
	m pop3.MessageInfo
	v verdict
	// tracked: the UIDL names this message alone, so the store's records
	// decide about it.
	tracked bool
	dup     bool           // its UIDL is listed more than once
	rec     state.Record   // its record, when delivered before
	prog    state.Progress // what earlier polls achieved, for a new message
	// resized: delivered before, but listed with another size: delivered
	// again rather than deleted unseen.
	resized bool
}

// plan is a poll's verdicts, in listing order.
type plan struct {
	steps        []step
	toFetch      int
	toFetchBytes int64
	limited      int
	learn        map[string]int64 // sizeUnknown: UIDL → listed size
}

// plan decides every listed message's verdict.
func (s *session) plan(msgs []pop3.MessageInfo, dup map[string]bool) *plan {
	now := s.poller.now()
	p := &plan{steps: make([]step, 0, len(msgs))}
	b := budget{maxMsgs: s.account.MaxMessagesPerPoll, maxBytes: s.account.MaxBytesPerPoll}
	for _, m := range msgs {
		st := step{m: m, dup: dup[m.UID]}
		st.tracked = m.UID != "" && !st.dup
		st.v = s.decide(&st, now)
		switch st.v {
		case fetchIt:
			if !b.take(m.Size) {
				st.v = limitedIt
				p.limited++
				break
			}
			p.toFetch++
			p.toFetchBytes += max(m.Size, 0)
		case sizeUnknown:
			if p.learn == nil {
				p.learn = map[string]int64{}
			}
			p.learn[m.UID] = m.Size
		}
		p.steps = append(p.steps, st)
	}
	return p
}

// decide is one message's verdict, before the per-poll limits.
func (s *session) decide(st *step, now time.Time) verdict {
	a, m := s.account, st.m
	switch {
	case st.tracked:
		if rec, ok := s.seen[m.UID]; ok {
			st.rec = rec
			if a.Keep {
				return s.expiry(rec, m, now)
			}
			if mayDelete(rec, m) {
				return redeleteIt
			}
			// A DELE must never hit a message fetchd did not deliver: a
			// server that reuses or misreports UIDLs, a record made by
			// --mark-seen or a state import, or one of a message deleted
			// undelivered, gets a delivery (perhaps a duplicate) instead.
			st.resized = deliveredHere(rec) && rec.Size > 0 && m.Size >= 0
		}
		st.prog = s.progress[m.UID]
	case st.dup && a.Keep:
		// In keep mode fetchd could only tell copies apart by their UIDL.
		return untrackable
	}
	if a.MaxMessageSize > 0 && m.Size > a.MaxMessageSize {
		// A message some target already accepted is not undelivered: it
		// stays, whatever oversize says.
		if a.OversizeDelete && len(st.prog.Done) == 0 && len(st.prog.Planned) == 0 {
			return oversizeDelete
		}
		return oversizeSkip
	}
	if st.prog.Failed && now.Before(st.prog.FailedAt.Add(a.FailedRetryAfter)) {
		return heldIt
	}
	return fetchIt
}

// expiry decides about a message delivered before, in keep mode: it stays
// until delete_after has passed since its delivery, and then goes only while
// the server lists it with the size it had when delivered. A record without
// a delivery time (--mark-seen: seen, never delivered) never expires.
func (s *session) expiry(rec state.Record, m pop3.MessageInfo, now time.Time) verdict {
	a := s.account
	if a.DeleteAfter <= 0 || !deliveredHere(rec) || !now.After(rec.Delivered.Add(a.DeleteAfter)) {
		return keepIt
	}
	if rec.Size == 0 && m.Size > 0 {
		return sizeUnknown
	}
	if !mayDelete(rec, m) {
		return keepIt
	}
	return expireIt
}

// deliveredHere reports a record of a message delivered, not merely seen
// (--mark-seen leaves the delivery time zero) or deleted undelivered.
func deliveredHere(rec state.Record) bool {
	return !rec.Delivered.IsZero()
}

// mayDelete reports whether a DELE of listed message m may rest on rec: it
// must record a delivery, and a size the listing confirms. A size of 0 is
// unknown (a state import), and so is a listed size of -1 (LIST did not
// name the message): neither confirms anything.
func mayDelete(rec state.Record, m pop3.MessageInfo) bool {
	return deliveredHere(rec) && rec.Size > 0 && m.Size == rec.Size
}

// budget is what max_messages_per_poll and max_bytes_per_poll leave of a
// poll. Its first message is always taken, so a message larger than
// max_bytes_per_poll still comes (max_message_size is what leaves a message
// out); after the first refusal nothing more is, so messages come in the
// server's order.
type budget struct {
	maxMsgs  int
	maxBytes int64
	msgs     int
	bytes    int64
	full     bool
}

func (b *budget) take(size int64) bool {
	size = max(size, 0)
	if b.full || b.msgs > 0 && (b.maxMsgs > 0 && b.msgs >= b.maxMsgs || b.maxBytes > 0 && b.bytes+size > b.maxBytes) {
		b.full = true
		return false
	}
	b.msgs++
	b.bytes += size
	return true
}
