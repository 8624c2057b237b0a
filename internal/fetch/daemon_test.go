package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
)

// drainOnFirst closes drain while the first message is being delivered.
type drainOnFirst struct {
	deliver.Deliverer
	once  sync.Once
	drain chan struct{}
}

func (d *drainOnFirst) Stage(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.Staged, error) {
	d.once.Do(func() { close(d.drain) })
	return d.Deliverer.Stage(ctx, env, body)
}

// Closing Drain mid-message lets that message finish delivery and
// recording, commits its deletion with QUIT, and leaves the rest.
func TestPoll_DrainFinishesTheMessageInFlight(t *testing.T) {
	e := newEnv(t, three, nil)
	drain := make(chan struct{})
	e.account.Targets[0].Deliverer = &drainOnFirst{Deliverer: e.account.Targets[0].Deliverer, drain: drain}
	e.poller.Drain = drain
	res := e.poll()
	if !errors.Is(res.Err, ErrDrained) || Classify(res.Err) != FailureDrained {
		t.Fatalf("poll error %v, want ErrDrained", res.Err)
	}
	if res.Fetched != 1 || res.Deleted != 1 {
		t.Fatalf("poll %+v, want 1 fetched and 1 deleted", res)
	}
	if got := e.delivered(); len(got) != 1 {
		t.Fatalf("maildir holds %d messages, want 1", len(got))
	}
	if got := e.remainingUIDs(); len(got) != 2 {
		t.Fatalf("server holds %q, want the two not started", got)
	}
	// The next poll (no drain) fetches the rest, nothing twice.
	e.poller.Drain = nil
	if res := e.poll(); !res.OK() || res.Fetched != 2 {
		t.Fatalf("second poll %+v, want the other 2", res)
	}
	if got := e.delivered(); len(got) != 3 {
		t.Fatalf("maildir holds %d messages, want 3", len(got))
	}
}

func TestPoll_LoginDelayCapabilityReported(t *testing.T) {
	e := newEnv(t, three, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Replies: map[string]string{
			"CAPA": "+OK\r\nUSER\r\nUIDL\r\nLOGIN-DELAY 900\r\n.\r\n",
		}}
	})
	res := e.poll()
	if !res.OK() {
		t.Fatalf("poll %+v", res)
	}
	if res.LoginDelay != 900*time.Second {
		t.Fatalf("LoginDelay %v, want 15m", res.LoginDelay)
	}
}

func TestPoll_GuardErrorIsTyped(t *testing.T) {
	var msgs []pop3test.Message
	for i := range 5 {
		msgs = append(msgs, msg(fmt.Sprintf("u%d", i), "Subject: x\r\n\r\nx\r\n"))
	}
	e := newEnv(t, msgs, nil)
	e.account.Keep = true
	e.account.InitialSyncLimit = 2
	res := e.poll()
	var ge *GuardError
	if !errors.As(res.Err, &ge) || ge.Kind != "lost_state" || IsTemporary(res.Err) || Classify(res.Err) != FailurePermanent {
		t.Fatalf("poll error %v, want a permanent *GuardError", res.Err)
	}
}

func TestClassify(t *testing.T) {
	perr := func(cmd, code string) error {
		return fmt.Errorf("login: %w", &pop3.Error{Command: cmd, Code: code, Text: "no"})
	}
	tests := []struct {
		name string
		err  error
		want Failure
	}{
		{"nil", nil, FailureNone},
		{"drained", fmt.Errorf("x: %w", ErrDrained), FailureDrained},
		{"auth code", perr("PASS", "AUTH"), FailureAuth},
		{"codeless PASS", perr("PASS", ""), FailureAuth},
		{"in use", perr("PASS", "IN-USE"), FailureInUse},
		{"login delay", perr("PASS", "LOGIN-DELAY"), FailureLoginDelay},
		{"sys temp", perr("PASS", "SYS/TEMP"), FailureTemporary},
		{"sys perm on RETR", perr("RETR", "SYS/PERM"), FailurePermanent},
		{"network", fmt.Errorf("dial: %w", io.ErrUnexpectedEOF), FailureTemporary},
		{"insecure", fmt.Errorf("login: %w", pop3.ErrInsecure), FailurePermanent},
		{"config", configError{errors.New("password command failed")}, FailurePermanent},
		{"guard", &GuardError{"lost_state", errors.New("guard")}, FailurePermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// cancelOnStage cancels the poll while the first message is being staged,
// and records whether its commit then saw a cancelled context.
type cancelOnStage struct {
	deliver.Deliverer
	cancel          context.CancelFunc
	commitCancelled chan bool
}

type watchedCommit struct {
	deliver.Staged
	saw chan bool
}

func (w watchedCommit) Commit(ctx context.Context) error {
	select {
	case w.saw <- ctx.Err() != nil:
	default:
	}
	return w.Staged.Commit(ctx)
}

func (c *cancelOnStage) Stage(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.Staged, error) {
	st, err := c.Deliverer.Stage(ctx, env, body)
	c.cancel()
	if err != nil {
		return nil, err
	}
	return watchedCommit{st, c.commitCancelled}, nil
}

// A poll cancelled once the message was handed over whole still commits it
// and records it: cancelling the commit could lose the target's answer
// after it delivered, and the message would come again.
func TestPoll_CancelAfterStageStillCommits(t *testing.T) {
	e := newEnv(t, three, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	saw := make(chan bool, 1)
	e.account.Targets[0].Deliverer = &cancelOnStage{Deliverer: e.account.Targets[0].Deliverer, cancel: cancel, commitCancelled: saw}
	res := e.poller.Poll(ctx, e.account)
	if cancelled := <-saw; cancelled {
		t.Fatal("the commit ran with a cancelled context")
	}
	if res.Fetched != 1 {
		t.Fatalf("poll %+v, want the message in flight delivered and recorded", res)
	}
	seen, err := e.store.Seen(e.account.Key)
	if err != nil || len(seen) != 1 {
		t.Fatalf("store holds %d records (%v), want 1", len(seen), err)
	}
}

// A refused access token is refreshed and the login tried once more; a
// second refusal fails the poll without a third try.
func TestPoll_RefusedTokenRefreshedOnce(t *testing.T) {
	for _, refreshWorks := range []bool{true, false} {
		t.Run(fmt.Sprintf("refresh works=%v", refreshWorks), func(t *testing.T) {
			e := newEnv(t, three, func(s *pop3test.Server) {
				s.SASL = []string{"XOAUTH2"}
				s.ValidToken = func(user, token string) bool { return token == "fresh" }
			})
			e.account.Auth = pop3.AuthXOAUTH2
			token, invalidated := "stale", 0
			e.account.Secret = func(context.Context) (string, error) { return token, nil }
			e.account.InvalidateSecret = func() {
				invalidated++
				if refreshWorks {
					token = "fresh"
				}
			}
			res := e.poll()
			if invalidated != 1 {
				t.Fatalf("token invalidated %d times, want 1", invalidated)
			}
			if refreshWorks && (!res.OK() || res.Fetched != 3) {
				t.Fatalf("poll %+v, want the 3 messages after the refresh", res)
			}
			if !refreshWorks && Classify(res.Err) != FailureAuth {
				t.Fatalf("poll error %v, want the login refused", res.Err)
			}
			auths := 0
			for _, c := range e.srv.Commands() {
				if strings.HasPrefix(c, "AUTH") {
					auths++
				}
			}
			if auths != 2 {
				t.Errorf("%d AUTH commands, want 2 (one retry)", auths)
			}
		})
	}
}
