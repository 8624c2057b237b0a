package fetch

import (
	"strconv"
	"sync"

	"fetchd/internal/pop3"
)

// Servers remembers, across the polls of one process, what each server said
// of itself: a server that announced PIPELINING to one account's session
// gets the first commands of the next account's session pipelined too, as
// an account's own last poll already does (pop3.Config.ExpectPipelining).
// With many accounts at one provider, that is a round trip saved on every
// account's first poll. The zero value is ready; a nil *Servers remembers
// nothing.
type Servers struct {
	pipelining sync.Map // serverKey → true
}

// serverKey names a server as a session reaches it: address and TLS mode.
func serverKey(cfg pop3.Config) string {
	return cfg.Addr + "/" + strconv.Itoa(int(cfg.TLS))
}

func (s *Servers) expectPipelining(cfg pop3.Config) bool {
	if s == nil {
		return false
	}
	_, ok := s.pipelining.Load(serverKey(cfg))
	return ok
}

// note records what a session that logged in saw.
func (s *Servers) note(cfg pop3.Config, pipelining bool) {
	if s == nil {
		return
	}
	if pipelining {
		s.pipelining.Store(serverKey(cfg), true)
	} else {
		s.pipelining.Delete(serverKey(cfg))
	}
}
