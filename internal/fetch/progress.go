package fetch

import "fetchd/internal/pop3"

// Progress is how far one poll has come, for a watcher such as the live
// progress line of `fetchd once` on a terminal. Account.OnProgress receives
// it from the poll's own goroutine, so it must return quickly.
type Progress struct {
	Phase ProgressPhase
	// ToFetch and ToFetchBytes are what this poll plans to fetch, as the
	// listing and the store tell it before the first RETR: new messages
	// that are not held and not over max_message_size. A message can
	// still fail or be skipped, so Fetched may end below ToFetch.
	ToFetch      int
	ToFetchBytes int64
	Fetched      int   // delivered and recorded so far
	Bytes        int64 // message bytes received for those
}

// ProgressPhase says what a Progress reports.
type ProgressPhase int

const (
	// ProgressListed: logged in and listed; ToFetch is known.
	ProgressListed ProgressPhase = iota
	// ProgressMessage: one more message was delivered and recorded.
	ProgressMessage
)

// reportListed tells the watcher what the poll plans to fetch.
func (s *session) reportListed(msgs []pop3.MessageInfo, dup map[string]bool) {
	if s.account.OnProgress == nil {
		return
	}
	p := Progress{Phase: ProgressListed}
	a := s.account
	for _, m := range msgs {
		tracked := m.UID != "" && !dup[m.UID]
		if tracked {
			if _, ok := s.seen[m.UID]; ok {
				continue
			}
			if prog := s.progress[m.UID]; prog.Failed && s.poller.now().Before(prog.FailedAt.Add(a.FailedRetryAfter)) {
				continue
			}
		} else if dup[m.UID] && a.Keep {
			continue
		}
		if a.MaxMessageSize > 0 && m.Size > a.MaxMessageSize {
			continue
		}
		p.ToFetch++
		p.ToFetchBytes += m.Size
	}
	s.planned = p
	a.OnProgress(p)
}

// reportFetched tells the watcher that one more message is delivered and
// recorded.
func (s *session) reportFetched() {
	if s.account.OnProgress == nil {
		return
	}
	p := s.planned
	p.Phase = ProgressMessage
	p.Fetched, p.Bytes = s.res.Fetched, s.res.Bytes
	s.account.OnProgress(p)
}
