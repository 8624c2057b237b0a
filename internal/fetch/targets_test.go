package fetch

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3/pop3test"
)

// fakeTarget records what it is given; fail decides each call's error.
type fakeTarget struct {
	name string
	mu   sync.Mutex
	got  []fakeDelivery
	fail func(env *deliver.Envelope) error
}

type fakeDelivery struct {
	env  deliver.Envelope
	body string
}

func (f *fakeTarget) Stage(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.Staged, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, deliver.Temporary(f.name, "read", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(env); err != nil {
			var re *deliver.RecipientsError
			if errors.As(err, &re) {
				f.got = append(f.got, fakeDelivery{env: *env, body: string(b)})
			}
			return nil, err
		}
	}
	f.got = append(f.got, fakeDelivery{env: *env, body: string(b)})
	return nopStaged{}, nil
}

func (f *fakeTarget) String() string { return f.name }
func (f *fakeTarget) Close() error   { return nil }

func (f *fakeTarget) deliveries() []fakeDelivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

type nopStaged struct{}

func (nopStaged) Commit(context.Context) error { return nil }
func (nopStaged) Abort() error                 { return nil }

// Acceptance (issue 3, 4): a message spooled for two targets where the second
// fails temporarily: after the retry the first holds one copy, not two.
func TestPoll_SecondTargetTempFailFirstKeepsOneCopy(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	failing := true
	second := &fakeTarget{name: "fake second", fail: func(*deliver.Envelope) error {
		if failing {
			return deliver.Temporary("fake second", "deliver", errors.New("451 try later"))
		}
		return nil
	}}
	e.account.Targets = append(e.account.Targets, Target{Deliverer: second, Recipients: []string{"me"}})
	res := e.poll()
	if res.Err != nil || res.Failed != 1 || res.FailedPermanent != 0 {
		t.Fatalf("first poll %+v, want one temporary failure", res)
	}
	if got := e.remainingUIDs(); len(got) != 1 {
		t.Fatalf("server holds %q, want the message kept", got)
	}
	prog, _ := e.store.Progress(e.account.Key)
	if p := prog["a"]; len(p.Done) != 1 || p.Spool == "" {
		t.Fatalf("progress %+v, want the first target done and a spool file", p)
	}
	if _, err := os.Stat(prog["a"].Spool); err != nil {
		t.Fatalf("spool file: %v", err)
	}

	failing = false
	if res := e.poll(); !res.OK() || res.Fetched != 1 || res.Deleted != 1 {
		t.Fatalf("retry poll %+v, want the message finished and deleted", res)
	}
	if got := e.delivered(); len(got) != 1 {
		t.Errorf("first target holds %d copies, want 1", len(got))
	}
	if got := second.deliveries(); len(got) != 1 || got[0].body != string(three[0].Body) {
		t.Errorf("second target accepted %d copies, want 1 with the message", len(got))
	}
	if n := e.srv.Retrieved()["a"]; n != 1 {
		t.Errorf("message retrieved %d times; the retry should have used the spool", n)
	}
	e.assertSpoolEmpty()
	if prog, _ := e.store.Progress(e.account.Key); len(prog) != 0 {
		t.Errorf("progress left after full delivery: %+v", prog)
	}
}

// Acceptance (issue 3): LMTP 452 for one of three recipients: kept, retried,
// each recipient gets exactly one copy.
func TestPoll_RecipientTempFailRetriesOnlyThatRecipient(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	calls := 0
	lmtp := &fakeTarget{name: "fake lmtp", fail: func(env *deliver.Envelope) error {
		calls++
		if calls == 1 {
			return &deliver.RecipientsError{Target: "fake lmtp", Accepted: []string{"a@x", "c@x"},
				Failed: map[string]error{"b@x": deliver.Temporary("fake lmtp", "data", errors.New("452 4.2.2 mailbox full"))}}
		}
		return nil
	}}
	e.account.Targets = []Target{{Deliverer: lmtp, Recipients: []string{"a@x", "b@x", "c@x"}, PerRecipient: true}}
	if res := e.poll(); res.Failed != 1 || res.FailedPermanent != 0 {
		t.Fatalf("first poll %+v, want a temporary failure", res)
	}
	if res := e.poll(); !res.OK() || res.Fetched != 1 {
		t.Fatalf("retry %+v", res)
	}
	got := lmtp.deliveries()
	if len(got) != 2 || !slices.Equal(got[1].env.Recipients, []string{"b@x"}) {
		t.Fatalf("deliveries %+v, want the retry only to b@x", got)
	}
	if len(e.remainingUIDs()) != 0 {
		t.Errorf("message not deleted after every recipient accepted")
	}
}

// Acceptance (issue 3): a permanent failure keeps the message, is not
// retried until `fetchd retry` or failed_retry_after, and quarantines a copy.
func TestPoll_PermanentFailureQuarantinedAndHeld(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	e.poller.Now = func() time.Time { return now }
	mda := &fakeTarget{name: "fake mda", fail: func(*deliver.Envelope) error {
		return deliver.Permanent("fake mda", "run", errors.New("exit status 1"))
	}}
	e.account.Targets = []Target{{Deliverer: mda, Recipients: []string{"me"}, Local: true}}
	qdir := filepath.Join(t.TempDir(), "Quarantine")
	q, err := deliver.NewMaildir(qdir)
	if err != nil {
		t.Fatal(err)
	}
	e.account.Quarantine = q
	res := e.poll()
	if res.Failed != 1 || res.FailedPermanent != 1 || res.OK() {
		t.Fatalf("poll %+v, want a permanent failure", res)
	}
	if len(e.remainingUIDs()) != 1 {
		t.Fatalf("a permanently refused message was deleted")
	}
	quarantined := func() int {
		entries, _ := os.ReadDir(filepath.Join(qdir, "new"))
		return len(entries)
	}
	if n := quarantined(); n != 1 {
		t.Fatalf("quarantine holds %d, want 1", n)
	}
	prog, _ := e.store.Progress(e.account.Key)
	if p := prog["a"]; !p.Failed || !strings.Contains(p.Reason, "exit status 1") || !p.Quarantined {
		t.Errorf("progress %+v, want failed with the reason, quarantined", p)
	}

	now = now.Add(time.Hour)
	if res := e.poll(); res.Held != 1 || len(mda.deliveries()) != 0 && res.Failed != 0 {
		t.Fatalf("poll an hour later %+v, want the message held", res)
	}
	now = now.Add(24 * time.Hour)
	if res := e.poll(); res.FailedPermanent != 1 {
		t.Fatalf("poll after failed_retry_after %+v, want another attempt", res)
	}
	if n := quarantined(); n != 1 {
		t.Errorf("quarantine holds %d after a second failure, want still 1", n)
	}
	mda.fail = nil
	if n, err := e.store.ResetFailed(e.account.Key); err != nil || n != 1 {
		t.Fatalf("ResetFailed = %d, %v", n, err)
	}
	if res := e.poll(); !res.OK() || res.Fetched != 1 || len(e.remainingUIDs()) != 0 {
		t.Fatalf("poll after retry %+v", res)
	}
}

func TestPoll_TraceHeadersAndEnvelope(t *testing.T) {
	body := "Return-Path: <sender@example.org>\r\nSubject: s\r\n\r\nhi\r\n"
	e := newEnv(t, []pop3test.Message{msg("a", body)}, nil)
	e.account.TraceHeaders = true
	relay := &fakeTarget{name: "fake smtp"}
	e.account.Targets = append(e.account.Targets, Target{Deliverer: relay, Recipients: []string{"r@x"}, PerRecipient: true})
	if res := e.poll(); !res.OK() {
		t.Fatalf("poll %+v", res)
	}
	got := e.delivered()
	if len(got) != 1 {
		t.Fatalf("maildir holds %d", len(got))
	}
	if !strings.HasPrefix(got[0], "Delivered-To: me\nReceived: from 127.0.0.1 by testhost with POP3 (fetchd test)\n\tfor <me>;\n\t") ||
		!strings.HasSuffix(got[0], strings.ReplaceAll(body, "\r\n", "\n")) {
		t.Errorf("maildir copy %q lacks the trace header or the original", got[0])
	}
	d := relay.deliveries()
	if len(d) != 1 || d[0].env.From != "sender@example.org" || d[0].env.Trace.DeliveredTo != "" || d[0].env.Trace.Received == "" {
		t.Errorf("relay envelope %+v, want sender from Return-Path, Received only", d)
	}
}

func TestPoll_TraceHeadersOff(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	e.account.TraceHeaders = false
	if res := e.poll(); !res.OK() {
		t.Fatalf("poll %+v", res)
	}
	if got := e.delivered(); len(got) != 1 || got[0] != threeLF[0] {
		t.Errorf("delivered %q, want the message untouched", got)
	}
}
