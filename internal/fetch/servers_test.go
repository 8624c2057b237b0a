package fetch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
)

// A server that announced PIPELINING to one account's session gets the
// first commands of another account's first session pipelined, when the
// polls share a Servers; without one, that session waits for CAPA's answer.
func TestPoll_ServersShareWhatAServerAnnounced(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(map[bool]string{true: "shared", false: "not shared"}[shared], func(t *testing.T) {
			e := newEnv(t, three, func(s *pop3test.Server) { s.Pipelining = true })
			e.account.Auth = pop3.AuthUser
			// The committer logs too: a buffer safe for several writers.
			logs := &syncBuffer{}
			e.poller.Log = zerolog.New(logs).Level(zerolog.TraceLevel)
			if shared {
				e.poller.Servers = &Servers{}
			}
			if res := e.poll(); !res.OK() || !res.Pipelining {
				t.Fatalf("first poll %+v", res)
			}
			// Another mailbox on the same server: no poll history of its own.
			e.account.Key.User = "other"
			logs.reset()
			if res := e.poll(); !res.OK() {
				t.Fatalf("second poll %+v", res)
			}
			if got := userBeforeCapaAnswer(t, logs.snapshot()); got != shared {
				t.Errorf("USER sent before CAPA's answer: %v, want %v", got, shared)
			}
		})
	}
}

// userBeforeCapaAnswer reads a session's trace: was USER sent before any
// line of the answer to CAPA arrived?
func userBeforeCapaAnswer(t *testing.T, logs []byte) bool {
	t.Helper()
	capaSent := false
	sc := bufio.NewScanner(bytes.NewReader(logs))
	for sc.Scan() {
		var l struct{ Dir, Message string }
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Dir == "" {
			continue
		}
		switch {
		case l.Dir == "C" && strings.HasPrefix(l.Message, "CAPA"):
			capaSent = true
		case l.Dir == "C" && strings.HasPrefix(l.Message, "USER"):
			return true
		case l.Dir == "S" && capaSent:
			return false
		}
	}
	t.Fatalf("no CAPA and USER in the trace:\n%s", logs)
	return false
}

func (s *syncBuffer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func (s *syncBuffer) snapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
