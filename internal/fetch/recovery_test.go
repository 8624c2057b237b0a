package fetch

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// A crash after the maildir link and before the UIDL was recorded leaves the
// planned file in new/ and the intent in the store: the next poll must count
// it as delivered, not deliver it again.
func TestPoll_IntentRecordPreventsMaildirDuplicate(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	planned := filepath.Join(e.maildir, "new", "1700000000.M1P1Q1.host,S=23")
	if err := os.WriteFile(planned, []byte(threeLF[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	id := e.account.Targets[0].Deliverer.String()
	if err := e.store.SetProgress(e.account.Key, "a", state.Progress{Planned: map[string]string{id: planned}}); err != nil {
		t.Fatal(err)
	}
	if res := e.poll(); !res.OK() || res.Fetched != 1 || res.Deleted != 1 {
		t.Fatalf("poll %+v", res)
	}
	if got := e.delivered(); len(got) != 1 {
		t.Errorf("maildir holds %d copies, want 1", len(got))
	}
	if n := e.srv.Retrieved()["a"]; n != 0 {
		t.Errorf("message retrieved %d times, want 0", n)
	}
}

// The same after a mail reader moved the file to cur/ with flags.
func TestPoll_IntentRecordFindsFileInCur(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	name := "1700000000.M1P1Q1.host,S=23"
	os.WriteFile(filepath.Join(e.maildir, "cur", name+":2,S"), []byte(threeLF[0]), 0o600)
	id := e.account.Targets[0].Deliverer.String()
	e.store.SetProgress(e.account.Key, "a", state.Progress{Planned: map[string]string{id: filepath.Join(e.maildir, "new", name)}})
	if res := e.poll(); !res.OK() || res.Fetched != 1 || e.srv.Retrieved()["a"] != 0 {
		t.Fatalf("poll %+v, retrieved %d", res, e.srv.Retrieved()["a"])
	}
	if got := e.delivered(); len(got) != 0 {
		t.Errorf("delivered again into new/: %q", got)
	}
}

// Every maildir delivery records its planned name before the link.
func TestPoll_IntentRecordedBeforeLink(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	spy := &intentSpy{Deliverer: e.account.Targets[0].Deliverer, e: e}
	e.account.Targets[0].Deliverer = spy
	if res := e.poll(); !res.OK() {
		t.Fatalf("poll %+v", res)
	}
	if spy.plannedAtCommit == "" {
		t.Fatal("no intent record when Commit ran")
	}
	if got := e.delivered(); len(got) != 1 {
		t.Fatalf("maildir holds %d", len(got))
	}
}

type intentSpy struct {
	deliver.Deliverer
	e               *env
	plannedAtCommit string
}

type spyStaged struct {
	deliver.MaildirStaged
	spy *intentSpy
}

func (s *intentSpy) Stage(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.Staged, error) {
	st, err := s.Deliverer.Stage(ctx, env, body)
	if err != nil {
		return nil, err
	}
	return spyStaged{st.(deliver.MaildirStaged), s}, nil
}

func (s spyStaged) Commit(ctx context.Context) error {
	prog, _ := s.spy.e.store.Progress(s.spy.e.account.Key)
	s.spy.plannedAtCommit = prog["a"].Planned[s.spy.String()]
	if s.spy.plannedAtCommit != s.FinalPath() {
		s.spy.e.t.Errorf("intent %q, staged file %q", s.spy.plannedAtCommit, s.FinalPath())
	}
	return s.MaildirStaged.Commit(ctx)
}

// A spool file cut short since it was written is not trusted.
func TestPoll_TruncatedSpoolRefetched(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	failing := true
	second := &fakeTarget{name: "fake second", fail: func(*deliver.Envelope) error {
		if failing {
			return deliver.Temporary("fake second", "deliver", errors.New("later"))
		}
		return nil
	}}
	e.account.Targets = append(e.account.Targets, Target{Deliverer: second, Recipients: []string{"me"}})
	e.poll()
	prog, _ := e.store.Progress(e.account.Key)
	if err := os.Truncate(prog["a"].Spool, 5); err != nil {
		t.Fatal(err)
	}
	failing = false
	if res := e.poll(); !res.OK() {
		t.Fatalf("retry %+v", res)
	}
	if got := second.deliveries(); len(got) != 1 || got[0].body != string(three[0].Body) {
		t.Errorf("second target got %+v, want the whole message", got)
	}
	if n := e.srv.Retrieved()["a"]; n != 2 {
		t.Errorf("retrieved %d times, want 2 (the spool was unusable)", n)
	}
}

// partialTarget says yes after reading only part of the message.
type partialTarget struct{ fakeTarget }

func (p *partialTarget) Stage(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.Staged, error) {
	io.CopyN(io.Discard, body, 5)
	return nopStaged{}, nil
}

func TestPoll_TargetThatDidNotReadAllFails(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	e.account.Targets = []Target{{Deliverer: &partialTarget{fakeTarget{name: "lazy"}}, Recipients: []string{"me"}}}
	res := e.poll()
	if res.Failed != 1 || res.Fetched != 0 || len(e.remainingUIDs()) != 1 {
		t.Fatalf("poll %+v, want the message failed and kept", res)
	}
}

// RFC 2449 EXPIRE 0: the server deletes retrieved messages at QUIT, so a
// retrieved message that failed must end the session without QUIT.
func TestPoll_Expire0DropsWithoutQuitAfterFailure(t *testing.T) {
	capa := "+OK\r\nUSER\r\nUIDL\r\nEXPIRE 0\r\n.\r\n"
	e := newEnv(t, three[:2], func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Replies: map[string]string{"CAPA": capa}}
	})
	ft := &failingTarget{Deliverer: e.account.Targets[0].Deliverer, fail: map[string]bool{"b": true}}
	e.account.Targets[0].Deliverer = ft
	res := e.poll()
	if res.Err == nil || !strings.Contains(res.Err.Error(), "EXPIRE") {
		t.Fatalf("poll %+v, want an error naming EXPIRE", res)
	}
	for _, c := range e.srv.Commands() {
		if strings.EqualFold(c, "QUIT") {
			t.Fatalf("QUIT sent to an EXPIRE 0 server after a failed delivery: %q", e.srv.Commands())
		}
	}
	if got := e.remainingUIDs(); len(got) != 2 {
		t.Errorf("server holds %q, want both rolled back", got)
	}
	ft.fail = nil
	if res := e.poll(); res.Err != nil || res.Fetched != 1 || res.Deleted != 2 {
		t.Fatalf("next poll %+v, want b delivered and both deleted", res)
	}
}

// Cancelled at DELE: the poll still ends with QUIT, committing the DELEs.
func TestPoll_CancelAtDeleStillQuits(t *testing.T) {
	e := newEnv(t, three, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ct := &cancelAfter{Deliverer: e.account.Targets[0].Deliverer, after: 2, cancel: cancel}
	e.account.Targets[0].Deliverer = ct
	res := e.poller.Poll(ctx, e.account)
	if res.Fetched != 2 {
		t.Fatalf("poll %+v, want 2 fetched before the cancel took effect", res)
	}
	if got := e.remainingUIDs(); len(got) != 2 {
		t.Errorf("server holds %q, want the first deleted (QUIT sent) and the second kept until next poll", got)
	}
	if res := e.poll(); !res.OK() || res.Fetched != 1 || len(e.remainingUIDs()) != 0 {
		t.Fatalf("next poll %+v", res)
	}
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("maildir holds %q", got)
	}
}

type cancelAfter struct {
	deliver.Deliverer
	n, after int
	cancel   func()
}

// Stage wraps the staged message so that the after-th commit cancels the
// poll's context once the message is durable: the next step is the DELE.
func (c *cancelAfter) Stage(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.Staged, error) {
	st, err := c.Deliverer.Stage(ctx, env, body)
	if err != nil {
		return nil, err
	}
	c.n++
	return cancelStaged{st, c.n == c.after, c.cancel}, nil
}

type cancelStaged struct {
	deliver.Staged
	last   bool
	cancel func()
}

func (c cancelStaged) Commit(ctx context.Context) error {
	err := c.Staged.Commit(context.WithoutCancel(ctx))
	if c.last {
		c.cancel()
	}
	return err
}

func TestPoll_SessionTimeoutBoundsAPoll(t *testing.T) {
	e := newEnv(t, three, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, StallAt: "RETR 2"}
	})
	e.account.SessionTimeout = 300 * time.Millisecond
	start := time.Now()
	res := e.poll()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("poll took %s with session_timeout 300ms", d)
	}
	if res.Err == nil {
		t.Fatalf("poll %+v, want an error", res)
	}
	if res := e.poll(); !res.OK() || len(e.remainingUIDs()) != 0 {
		t.Fatalf("next poll %+v", res)
	}
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("maildir holds %q", got)
	}
}

// Progress of a message the server no longer lists is forgotten, with its
// spool file.
func TestPoll_StaleProgressCleared(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	spool := filepath.Join(e.account.SpoolDir, "stale.eml")
	os.WriteFile(spool, []byte("x"), 0o600)
	e.store.SetProgress(e.account.Key, "gone", state.Progress{Spool: spool, SpoolSize: 1,
		Done: map[string]time.Time{"x": time.Now()}})
	if res := e.poll(); !res.OK() {
		t.Fatalf("poll %+v", res)
	}
	if prog, _ := e.store.Progress(e.account.Key); len(prog) != 0 {
		t.Errorf("progress left: %+v", prog)
	}
	if _, err := os.Stat(spool); !os.IsNotExist(err) {
		t.Errorf("stale spool file still there")
	}
}
