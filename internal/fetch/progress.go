package fetch

// Progress is how far one poll has come, for a watcher such as the live
// progress line of `fetchd once` on a terminal. Account.OnProgress receives
// it from the poll's own goroutine, so it must return quickly.
type Progress struct {
	Phase ProgressPhase
	// ToFetch and ToFetchBytes are what this poll plans to fetch, as the
	// listing and the store tell it before the first RETR: new messages
	// that are not held, not over max_message_size and within
	// max_messages_per_poll and max_bytes_per_poll. A message can still
	// fail, so Fetched may end below ToFetch.
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

// reportListed tells the watcher what the poll plans to fetch: the
// messages of the plan to fetch, which leaves out those held, over
// max_message_size and beyond the per-poll limits.
func (s *session) reportListed(p *plan) {
	if s.account.OnProgress == nil {
		return
	}
	s.planned = Progress{Phase: ProgressListed, ToFetch: p.toFetch, ToFetchBytes: p.toFetchBytes}
	s.account.OnProgress(s.planned)
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
