package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"fetchd/internal/deliver"
	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// env is one test's world: a fake server, a store and a maildir.
type env struct {
	t       *testing.T
	srv     *pop3test.Server
	store   *state.Store
	maildir string
	account *Account
	poller  *Poller
}

func msg(uid, body string) pop3test.Message {
	return pop3test.Message{UID: uid, Body: []byte(body)}
}

// newEnv starts a fake server holding msgs; configure mutates the server
// before it starts (faults, capabilities).
func newEnv(t *testing.T, msgs []pop3test.Message, configure func(*pop3test.Server)) *env {
	t.Helper()
	srv := pop3test.NewServer(t)
	srv.Messages = msgs
	if configure != nil {
		configure(srv)
	}
	srv.Start()
	dir := t.TempDir()
	store, err := state.Open(filepath.Join(dir, "state", "fetchd.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	md, err := deliver.NewMaildir(filepath.Join(dir, "Maildir"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, store: store, maildir: filepath.Join(dir, "Maildir")}
	if err := os.Mkdir(filepath.Join(dir, "spool"), 0o700); err != nil {
		t.Fatal(err)
	}
	e.account = &Account{
		Name: "test",
		Key:  state.AccountKey{Server: "127.0.0.1", Port: 110, User: "user"},
		Server: pop3.Config{
			Addr: srv.Addr(), TLS: pop3.TLSNone, AllowInsecure: true, Timeout: 2 * time.Second,
		},
		User:             "user",
		Secret:           func(context.Context) (string, error) { return "pass", nil },
		Targets:          []Target{{Deliverer: md, Recipients: []string{"me"}, Local: true}},
		SpoolDir:         filepath.Join(dir, "spool"),
		FailedRetryAfter: 24 * time.Hour,
		LocalUser:        "me",
		Hostname:         "testhost",
		Version:          "test",
		ServerName:       "127.0.0.1",
	}
	e.poller = &Poller{Store: store, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)}
	return e
}

func (e *env) poll() Result {
	e.t.Helper()
	return e.poller.Poll(context.Background(), e.account)
}

// delivered returns the maildir's new/ files' contents, sorted.
func (e *env) delivered() []string {
	e.t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.maildir, "new"))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(e.maildir, "new", de.Name()))
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func (e *env) assertSpoolEmpty() {
	e.t.Helper()
	entries, err := os.ReadDir(e.account.SpoolDir)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, de := range entries {
		e.t.Errorf("spool file %s left behind", de.Name())
	}
}

func (e *env) remainingUIDs() []string {
	var out []string
	for _, m := range e.srv.Mailbox() {
		out = append(out, m.UID)
	}
	sort.Strings(out)
	return out
}

func (e *env) sentPassword() bool {
	for _, c := range e.srv.Commands() {
		u := strings.ToUpper(c)
		if strings.HasPrefix(u, "PASS") || strings.HasPrefix(u, "APOP") || strings.HasPrefix(u, "USER") {
			return true
		}
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var three = []pop3test.Message{
	msg("a", "Subject: one\r\n\r\nfirst\r\n"),
	msg("b", "Subject: two\r\n\r\nsecond\r\n"),
	msg("c", "Subject: three\r\n\r\nthird\r\n"),
}

var threeLF = []string{"Subject: one\n\nfirst\n", "Subject: three\n\nthird\n", "Subject: two\n\nsecond\n"}

func TestPoll_DeliversRecordsAndDeletes(t *testing.T) {
	e := newEnv(t, three, nil)
	res := e.poll()
	if !res.OK() || res.Fetched != 3 || res.Deleted != 3 {
		t.Fatalf("result %+v, want 3 fetched and deleted, no error", res)
	}
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("maildir holds %q, want %q", got, threeLF)
	}
	if got := e.remainingUIDs(); len(got) != 0 {
		t.Errorf("server still holds %q, want nothing", got)
	}
	seen, err := e.store.Seen(e.account.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"a", "b", "c"} {
		if rec, ok := seen[uid]; !ok || rec.State != state.Deleted {
			t.Errorf("store record for %q = %+v (present %v), want state Deleted", uid, rec, ok)
		}
	}
}

func TestPoll_KeepModeSecondPollFetchesNothing(t *testing.T) {
	e := newEnv(t, three, nil)
	e.account.Keep = true
	if res := e.poll(); !res.OK() || res.Fetched != 3 || res.Deleted != 0 {
		t.Fatalf("first poll %+v, want 3 fetched, 0 deleted", res)
	}
	res := e.poll()
	if !res.OK() || res.Fetched != 0 || res.New != 0 {
		t.Fatalf("second poll %+v, want nothing new", res)
	}
	if got := e.remainingUIDs(); len(got) != 3 {
		t.Errorf("server holds %q, want all three kept", got)
	}
	if got := e.delivered(); len(got) != 3 {
		t.Errorf("maildir holds %d messages, want 3", len(got))
	}
	if n := e.srv.Retrieved()["a"]; n != 1 {
		t.Errorf("message a retrieved %d times, want 1", n)
	}
}

// A connection lost after DELE and before QUIT rolls the deletions back; the
// next poll must delete them, not deliver them again.
func TestPoll_DropBeforeQuitDeletesAgainNeverRedelivers(t *testing.T) {
	e := newEnv(t, three, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, DropAt: "QUIT"}
	})
	res := e.poll()
	if res.Err == nil {
		t.Errorf("first poll reported no error although QUIT got no answer")
	}
	if got := e.remainingUIDs(); len(got) != 3 {
		t.Fatalf("after the drop the server holds %q, want all three rolled back", got)
	}
	res = e.poll()
	if !res.OK() || res.Fetched != 0 || res.Deleted != 3 {
		t.Fatalf("second poll %+v, want 0 fetched, 3 deleted", res)
	}
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("maildir holds %q, want each message once: %q", got, threeLF)
	}
	if got := e.remainingUIDs(); len(got) != 0 {
		t.Errorf("server still holds %q", got)
	}
}

// The UIDL is recorded before DELE is sent: a drop at DELE loses nothing and
// duplicates nothing.
func TestPoll_DropAtDeleRecordedFirst(t *testing.T) {
	e := newEnv(t, three, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, DropAt: "DELE 2"}
	})
	first := e.poll()
	if first.Err == nil {
		t.Errorf("first poll reported no error after the connection dropped")
	}
	// With PIPELINING message c may have been fetched before DELE 2 went
	// out; either way each message is fetched exactly once over both polls.
	if res := e.poll(); !res.OK() || first.Fetched+res.Fetched != 3 {
		t.Fatalf("polls fetched %d then %d (%+v), want 3 in all", first.Fetched, res.Fetched, res)
	}
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("maildir holds %q, want %q", got, threeLF)
	}
	if got := e.remainingUIDs(); len(got) != 0 {
		t.Errorf("server still holds %q", got)
	}
}

func TestPoll_DropMidBodyDeliversNothingPartial(t *testing.T) {
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 4000)
	e := newEnv(t, []pop3test.Message{three[0], msg("big", big)}, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, DropAtBody: 20000, DropAtBodyMsg: 2}
	})
	if res := e.poll(); res.Err == nil || res.Fetched != 1 {
		t.Fatalf("first poll %+v, want an error after 1 fetched", res)
	}
	if got := e.delivered(); len(got) != 1 {
		t.Fatalf("maildir holds %d messages after a cut body, want only the complete one", len(got))
	}
	if entries, _ := os.ReadDir(filepath.Join(e.maildir, "tmp")); len(entries) != 0 {
		t.Errorf("tmp/ holds %d leftovers", len(entries))
	}
	if res := e.poll(); !res.OK() || res.Fetched != 1 {
		t.Fatalf("second poll %+v, want the big message fetched", res)
	}
	want := strings.ReplaceAll(big, "\r\n", "\n")
	found := false
	for _, m := range e.delivered() {
		if m == want {
			found = true
		}
	}
	if !found {
		t.Errorf("big message not delivered intact")
	}
}

func TestPoll_StallTimesOutAndKeepsMessage(t *testing.T) {
	e := newEnv(t, three, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, StallAt: "RETR 2"}
	})
	e.account.Server.Timeout = 200 * time.Millisecond
	start := time.Now()
	res := e.poll()
	if res.Err == nil || !errors.Is(res.Err, os.ErrDeadlineExceeded) {
		t.Fatalf("poll error %v, want a timeout", res.Err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stalled poll took %s", d)
	}
	if !IsTemporary(res.Err) {
		t.Errorf("timeout %v not classified temporary", res.Err)
	}
	e.account.Server.Timeout = 2 * time.Second
	if res := e.poll(); !res.OK() {
		t.Fatalf("second poll %+v", res)
	}
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("maildir holds %q, want %q", got, threeLF)
	}
}

func TestPoll_RetrErrorGoesOnWithTheNext(t *testing.T) {
	e := newEnv(t, three, func(s *pop3test.Server) {
		s.Faults = pop3test.Faults{Sessions: 1, Replies: map[string]string{"RETR 2": "-ERR [SYS/TEMP] try later\r\n"}}
	})
	res := e.poll()
	if res.Err != nil || res.Fetched != 2 || res.Failed != 1 {
		t.Fatalf("poll %+v, want 2 fetched, 1 failed, session ok", res)
	}
	if got := e.remainingUIDs(); !equalStrings(got, []string{"b"}) {
		t.Errorf("server holds %q, want only b", got)
	}
	if res := e.poll(); !res.OK() || res.Fetched != 1 {
		t.Fatalf("second poll %+v, want b fetched", res)
	}
}

// failingTarget fails the messages whose UIDL it lists.
type failingTarget struct {
	deliver.Deliverer
	mu        sync.Mutex
	fail      map[string]bool
	permanent bool
}

func (f *failingTarget) Stage(ctx context.Context, env *deliver.Envelope, body io.Reader) (deliver.Staged, error) {
	f.mu.Lock()
	fail := f.fail[env.UIDL]
	f.mu.Unlock()
	if fail {
		io.CopyN(io.Discard, body, 10) // read part of it: Close must drain the rest
		err := errors.New("disk on fire")
		if f.permanent {
			return nil, deliver.Permanent("fake", "stage", err)
		}
		return nil, deliver.Temporary("fake", "stage", err)
	}
	return f.Deliverer.Stage(ctx, env, body)
}

func TestPoll_DeliveryTempFailKeepsMessage(t *testing.T) {
	for _, permanent := range []bool{false, true} {
		t.Run(fmt.Sprintf("permanent=%v", permanent), func(t *testing.T) {
			e := newEnv(t, three, nil)
			ft := &failingTarget{Deliverer: e.account.Targets[0].Deliverer, fail: map[string]bool{"b": true}, permanent: permanent}
			e.account.Targets[0].Deliverer = ft
			res := e.poll()
			if res.Err != nil || res.Fetched != 2 || res.Failed != 1 || res.OK() {
				t.Fatalf("poll %+v, want 2 fetched, 1 failed", res)
			}
			if got := e.remainingUIDs(); !equalStrings(got, []string{"b"}) {
				t.Errorf("server holds %q, want b kept", got)
			}
			seen, _ := e.store.Seen(e.account.Key)
			if _, ok := seen["b"]; ok {
				t.Errorf("failed message b recorded as delivered")
			}
			ft.fail = nil
			if permanent {
				// Held: a permanent failure is not retried on every poll.
				if res := e.poll(); res.Held != 1 || res.Fetched != 0 {
					t.Fatalf("poll after a permanent failure %+v, want it held", res)
				}
				if _, err := e.store.ResetFailed(e.account.Key); err != nil {
					t.Fatal(err)
				}
			}
			if res := e.poll(); !res.OK() || res.Fetched != 1 {
				t.Fatalf("retry poll %+v, want b fetched", res)
			}
			if got := e.delivered(); !equalStrings(got, threeLF) {
				t.Errorf("maildir holds %q, want %q", got, threeLF)
			}
		})
	}
}

func TestPoll_TwoTargetsBothGetEveryByte(t *testing.T) {
	e := newEnv(t, three, nil)
	second := filepath.Join(t.TempDir(), "Second")
	md, err := deliver.NewMaildir(second)
	if err != nil {
		t.Fatal(err)
	}
	e.account.Targets = append(e.account.Targets, Target{Deliverer: md, Recipients: []string{"me"}, Local: true})
	if res := e.poll(); !res.OK() || res.Fetched != 3 {
		t.Fatalf("poll %+v", res)
	}
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("first maildir holds %q", got)
	}
	e.maildir = second
	if got := e.delivered(); !equalStrings(got, threeLF) {
		t.Errorf("second maildir holds %q", got)
	}
	e.assertSpoolEmpty()
}

func TestPoll_BytesKeptExactly(t *testing.T) {
	body := "Subject: raw\r\n\r\nbare\rCR and bare\nLF, NUL \x00, 8-bit \xe9\xff\r\n.leading dot\r\n..two\r\n.\r\nlast"
	want := "Subject: raw\n\nbare\rCR and bare\nLF, NUL \x00, 8-bit \xe9\xff\n.leading dot\n..two\n.\nlast\n"
	e := newEnv(t, []pop3test.Message{msg("x", body)}, nil)
	if res := e.poll(); !res.OK() {
		t.Fatalf("poll %+v", res)
	}
	if got := e.delivered(); len(got) != 1 || got[0] != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
}

func TestPoll_OversizeLeftOnServer(t *testing.T) {
	e := newEnv(t, three, nil)
	e.account.MaxMessageSize = 10
	res := e.poll()
	if res.Err != nil || res.Skipped != 3 || res.Fetched != 0 {
		t.Fatalf("poll %+v, want 3 skipped", res)
	}
	if got := e.remainingUIDs(); len(got) != 3 {
		t.Errorf("server holds %q, want all three", got)
	}
}

func TestPoll_NoUIDL(t *testing.T) {
	t.Run("delete mode works", func(t *testing.T) {
		e := newEnv(t, three, func(s *pop3test.Server) { s.NoUIDL = true })
		if res := e.poll(); !res.OK() || res.Fetched != 3 || res.Deleted != 3 {
			t.Fatalf("poll %+v", res)
		}
		if got := e.delivered(); !equalStrings(got, threeLF) {
			t.Errorf("maildir holds %q", got)
		}
	})
	t.Run("keep mode refused", func(t *testing.T) {
		e := newEnv(t, three, func(s *pop3test.Server) { s.NoUIDL = true })
		e.account.Keep = true
		res := e.poll()
		if res.Err == nil || !strings.Contains(res.Err.Error(), "UIDL") {
			t.Fatalf("poll error %v, want one naming UIDL", res.Err)
		}
		if len(e.delivered()) != 0 || len(e.remainingUIDs()) != 3 {
			t.Errorf("keep mode without UIDL fetched or deleted something")
		}
	})
}

func TestPoll_DuplicateUIDLsDeliverEach(t *testing.T) {
	e := newEnv(t, []pop3test.Message{msg("same", "A: 1\r\n\r\none\r\n"), msg("same", "A: 2\r\n\r\ntwo\r\n")}, nil)
	if res := e.poll(); !res.OK() || res.Fetched != 2 {
		t.Fatalf("poll %+v, want both fetched", res)
	}
	if got := e.delivered(); !equalStrings(got, []string{"A: 1\n\none\n", "A: 2\n\ntwo\n"}) {
		t.Errorf("maildir holds %q", got)
	}
}

// Each of these must stop before any credential leaves the machine.
func TestPoll_RefusedBeforePasswordIsSent(t *testing.T) {
	cases := []struct {
		name      string
		configure func(*pop3test.Server)
		account   func(*Account, *pop3test.Server)
		want      string
	}{
		{"stls stripped", func(s *pop3test.Server) { s.OfferSTLS = true; s.Faults.StripSTLS = true },
			func(a *Account, s *pop3test.Server) {
				a.Server.TLS = pop3.TLSStartTLS
				a.Server.TLSConfig = s.ClientTLSConfig()
			}, "STLS"},
		{"stls injection", func(s *pop3test.Server) { s.OfferSTLS = true; s.Faults.STLSInject = "+OK injected\r\n" },
			func(a *Account, s *pop3test.Server) {
				a.Server.TLS = pop3.TLSStartTLS
				a.Server.TLSConfig = s.ClientTLSConfig()
			}, "inject"},
		{"certificate for another host", func(s *pop3test.Server) { s.Mode = pop3test.ImplicitTLS; s.CertHosts = []string{"other.example"} },
			func(a *Account, s *pop3test.Server) {
				a.Server.TLS = pop3.TLSImplicit
				a.Server.TLSConfig = s.ClientTLSConfig()
			}, "certificate"},
		{"plaintext without allow_insecure", nil,
			func(a *Account, s *pop3test.Server) { a.Server.AllowInsecure = false }, "insecure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, three, tc.configure)
			tc.account(e.account, e.srv)
			res := e.poll()
			if res.Err == nil || !strings.Contains(strings.ToLower(res.Err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("poll error %v, want one mentioning %q", res.Err, tc.want)
			}
			if IsTemporary(res.Err) {
				t.Errorf("error %v classified temporary; a downgrade is not a passing fault", res.Err)
			}
			if e.sentPassword() {
				t.Errorf("credentials were sent: %q", e.srv.Commands())
			}
			if len(e.delivered()) != 0 {
				t.Errorf("messages delivered")
			}
		})
	}
}

func TestPoll_STLSWorks(t *testing.T) {
	e := newEnv(t, three, func(s *pop3test.Server) { s.OfferSTLS = true })
	e.account.Server.TLS = pop3.TLSStartTLS
	e.account.Server.AllowInsecure = false
	e.account.Server.TLSConfig = e.srv.ClientTLSConfig()
	if res := e.poll(); !res.OK() || res.Fetched != 3 {
		t.Fatalf("poll %+v", res)
	}
}

func TestPoll_WrongPasswordIsPermanent(t *testing.T) {
	e := newEnv(t, three, nil)
	e.account.Secret = func(context.Context) (string, error) { return "wrong", nil }
	res := e.poll()
	if res.Err == nil || IsTemporary(res.Err) {
		t.Fatalf("poll error %v, want a permanent login error", res.Err)
	}
	if strings.Contains(res.Err.Error(), "wrong") {
		t.Errorf("error %q shows the password", res.Err)
	}
}

func TestPoll_CancelledContextStillQuits(t *testing.T) {
	e := newEnv(t, three, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := e.poller.Poll(ctx, e.account)
	if res.Err == nil {
		t.Fatalf("cancelled poll reported success")
	}
	if got := e.remainingUIDs(); len(got) != 3 {
		t.Errorf("server holds %q", got)
	}
}

// A message over a cap stays on the server without costing the session: the
// messages after it are still fetched.
func TestPoll_CappedMessageDoesNotBlockTheRest(t *testing.T) {
	long := "Subject: long\r\n\r\n" + strings.Repeat("x", 300) + "\r\n"
	e := newEnv(t, []pop3test.Message{msg("long", long), three[1]}, nil)
	e.account.Server.MaxLineLength = 100
	res := e.poll()
	if res.Err != nil || res.Fetched != 1 || res.Failed != 1 {
		t.Fatalf("poll %+v, want 1 fetched, 1 failed, session intact", res)
	}
	if got := e.remainingUIDs(); !equalStrings(got, []string{"long"}) {
		t.Errorf("server holds %q, want only the long one", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.maildir, "tmp")); len(entries) != 0 {
		t.Errorf("tmp/ holds %d leftovers", len(entries))
	}
}
