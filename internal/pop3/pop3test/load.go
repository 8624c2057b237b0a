package pop3test

import (
	"errors"
	"maps"
	"os"
	"time"
)

// What a test of many accounts polling at once needs: per-user locks,
// pauses that Close ends, paced bodies, and counters it can assert limits on.

// maxBodyChunk is the largest write of a paced body.
const maxBodyChunk = 32 << 10

// ActiveSessions returns the number of sessions open now, counted from
// accept until QUIT, or until the server has closed the connection.
func (s *Server) ActiveSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// PeakSessions returns the highest ActiveSessions seen since Start.
func (s *Server) PeakSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// PeakLoggedIn returns the most sessions that were logged in at once since
// Start, counted from a successful login until QUIT or the end of the
// connection. Unlike PeakSessions it does not count the moments between
// connecting and logging in, when a client that did not wait for the answer
// to its last QUIT may already be opening its next session.
func (s *Server) PeakLoggedIn() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakTxn
}

// endTxnLocked ends the count of ss as logged in, once.
func (s *Server) endTxnLocked(ss *session) {
	if ss.inTxn {
		ss.inTxn = false
		s.inTxn--
	}
}

// Logins returns, per user name, how many logins succeeded (reached the
// TRANSACTION state). The map is a copy.
func (s *Server) Logins() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.logins)
}

// SetPassword changes the password for logins from now on, also for
// sessions already connected; sessions logged in stay logged in.
func (s *Server) SetPassword(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Password, s.password = p, p
}

// SetBodyRate changes BodyRate for RETRs begun from now; a body already
// being sent keeps its pace.
func (s *Server) SetBodyRate(bytesPerSecond int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.BodyRate, s.bodyRate = bytesPerSecond, bytesPerSecond
}

func (s *Server) currentPassword() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.password
}

// knownUser reports whether name may log in (the password aside).
func (s *Server) knownUser(name string) bool {
	if s.cfg.anyUser {
		return name != ""
	}
	return name == s.cfg.user
}

// lockLocked takes the mailbox lock for session id, logging in as user:
// the one lock, or with AnyUser that user's lock. It reports false if
// another session holds it.
func (s *Server) lockLocked(id int, user string) bool {
	if !s.cfg.anyUser {
		if s.lockHolder != 0 {
			return false
		}
		s.lockHolder = id
		return true
	}
	if s.userLocks[user] != 0 {
		return false
	}
	s.userLocks[user] = id
	return true
}

// unlockLocked releases whatever lock session id holds.
func (s *Server) unlockLocked(id int, user string) {
	if s.lockHolder == id {
		s.lockHolder = 0
	}
	if s.userLocks[user] == id {
		delete(s.userLocks, user)
	}
}

// pause sleeps for d, or less if Close is called or abort is closed; then
// it reports false. A nil abort never fires.
func (s *Server) pause(d time.Duration, abort <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	case <-abort:
		return false
	}
}

// loginPause sleeps for LoginPause and reports whether the session goes on:
// false if Close was called or the client hung up meanwhile. Watching for the
// hang-up keeps ActiveSessions true to what clients have open when a client
// gives up on a slow login. The watch only peeks, so commands the client
// pipelined after PASS stay buffered for the session.
func (ss *session) loginPause() bool {
	d := ss.srv.cfg.loginPause
	if d <= 0 {
		return true
	}
	gone := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if _, err := ss.r.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			close(gone)
		}
	}()
	ok := ss.srv.pause(d, gone)
	// End the Peek. A read deadline leaves a TLS connection usable: a
	// timeout is a temporary error there. run sets the next deadline.
	ss.conn.SetReadDeadline(time.Now())
	<-watched
	ss.conn.SetReadDeadline(time.Time{})
	return ok
}

// sendBody writes a RETR body, paced to BodyRate if set: before each chunk
// it sleeps until the chunk's last byte is due, so that no byte arrives
// before its time and the whole body takes about len(b)/BodyRate seconds. A
// client that hangs up is noticed at the next write (a reset connection);
// Close ends the sleep. beforeLast, if not nil, runs just before the write
// that completes b.
func (ss *session) sendBody(b []byte, beforeLast func()) error {
	if beforeLast == nil {
		beforeLast = func() {}
	}
	s := ss.srv
	s.mu.Lock()
	rate := s.bodyRate
	s.mu.Unlock()
	if rate <= 0 {
		beforeLast()
		return ss.write(b)
	}
	// About ten writes a second, so that a slow rate still trickles.
	chunk := int(min(maxBodyChunk, max(1, rate/10)))
	start := time.Now()
	for sent := 0; sent < len(b); {
		n := min(chunk, len(b)-sent)
		due := start.Add(time.Duration(float64(sent+n) / float64(rate) * float64(time.Second)))
		if !ss.srv.pause(time.Until(due), nil) {
			return errEnd
		}
		if sent+n == len(b) {
			beforeLast()
		}
		if err := ss.write(b[sent : sent+n]); err != nil {
			return err
		}
		sent += n
	}
	return nil
}
