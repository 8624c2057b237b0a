package fetch

import (
	"errors"
	"strings"
	"testing"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3/pop3test"
)

// TestPoll_ExpireZeroSendsNoRETRAhead: on a server that deletes what was
// retrieved at QUIT (EXPIRE 0), a RETR sent ahead for a message the poll then
// does not deliver (it drains after the first) would lose that message at
// QUIT. No RETR may go out ahead there.
func TestPoll_ExpireZeroSendsNoRETRAhead(t *testing.T) {
	msgs := batchMsgs("x", 20)
	e := newBatchEnv(t, msgs, func(s *pop3test.Server) { s.ExtraCaps = []string{"EXPIRE 0"} })
	drain := make(chan struct{})
	md := e.account.Targets[0].Deliverer.(*deliver.Maildir)
	e.account.Targets[0].Deliverer = &drainAt{Maildir: md, at: 1, drain: drain}
	e.poller.Drain = drain
	res := e.poll()
	if !errors.Is(res.Err, ErrDrained) || res.Fetched != 1 {
		t.Fatalf("poll %+v, want 1 fetched, then drained", res)
	}
	var retrs []string
	for _, c := range e.srv.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), "RETR ") {
			retrs = append(retrs, c)
		}
	}
	if len(retrs) != 1 {
		t.Errorf("server got %d RETRs %q, want only the delivered message's", len(retrs), retrs)
	}
}
