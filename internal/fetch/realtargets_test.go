package fetch

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"fetchd/internal/deliver"
	"fetchd/internal/deliver/smtptest"
)

// These run the poll against the real MDA, SMTP and LMTP targets, with the
// failures the acceptance list of issue 3 names.

func newMDA(t *testing.T, e *env, shell string) deliver.Deliverer {
	t.Helper()
	m, err := deliver.NewMDA(deliver.MDAConfig{Shell: shell, SpoolDir: e.account.SpoolDir})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// MDA exit 75: kept, retried next poll, exactly one copy in the end.
func TestPoll_MDAExit75RetriedOneCopy(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	dir := t.TempDir()
	flag, out := filepath.Join(dir, "flag"), filepath.Join(dir, "out")
	script := `if [ -e ` + flag + ` ]; then cat >> ` + out + `; else touch ` + flag + `; cat > /dev/null; exit 75; fi`
	e.account.Targets = []Target{{Deliverer: newMDA(t, e, script), Recipients: []string{"me"}, Local: true}}
	if res := e.poll(); res.Failed != 1 || res.FailedPermanent != 0 || len(e.remainingUIDs()) != 1 {
		t.Fatalf("first poll %+v, want a temporary failure and the message kept", res)
	}
	if seen, _ := e.store.Seen(e.account.Key); len(seen) != 0 {
		t.Fatalf("a message the MDA refused is recorded as delivered")
	}
	if res := e.poll(); !res.OK() || res.Fetched != 1 || len(e.remainingUIDs()) != 0 {
		t.Fatalf("retry %+v, want it delivered and deleted", res)
	}
	got, _ := os.ReadFile(out)
	if string(got) != threeLF[0] {
		t.Errorf("MDA received %q, want %q once", got, threeLF[0])
	}
}

// MDA exit 1: kept, reported, not retried until `fetchd retry`, quarantined.
func TestPoll_MDAExit1HeldAndQuarantined(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	e.account.Targets = []Target{{Deliverer: newMDA(t, e, "cat > /dev/null; echo 'no such user' >&2; exit 1"), Recipients: []string{"me"}, Local: true}}
	qdir := filepath.Join(t.TempDir(), "Q")
	q, _ := deliver.NewMaildir(qdir)
	e.account.Quarantine = q
	res := e.poll()
	if res.FailedPermanent != 1 || len(e.remainingUIDs()) != 1 {
		t.Fatalf("poll %+v, want a permanent failure and the message kept", res)
	}
	prog, _ := e.store.Progress(e.account.Key)
	if !strings.Contains(prog["a"].Reason, "no such user") {
		t.Errorf("recorded reason %q lacks the MDA's stderr", prog["a"].Reason)
	}
	if entries, _ := os.ReadDir(filepath.Join(qdir, "new")); len(entries) != 1 {
		t.Errorf("quarantine holds %d copies, want 1", len(entries))
	}
	if res := e.poll(); res.Held != 1 || res.Failed != 0 {
		t.Errorf("second poll %+v, want the message held, not retried", res)
	}
}

func TestPoll_SMTP451ThenDelivered(t *testing.T) {
	e := newEnv(t, three, nil)
	srv := smtptest.NewServer(t, smtptest.Options{})
	srv.SetFaults(smtptest.Faults{DataErr: smtptest.Reply(451, "4.3.0", "try later")})
	smtp, err := deliver.NewSMTP(deliver.SMTPConfig{Addr: srv.Addr(), TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	e.account.Targets = []Target{{Deliverer: smtp, Recipients: []string{"r@example.org"}, PerRecipient: true}}
	if res := e.poll(); res.Failed != 3 || res.FailedPermanent != 0 || len(e.remainingUIDs()) != 3 {
		t.Fatalf("poll %+v, want 3 temporary failures, all kept", res)
	}
	srv.SetFaults(smtptest.Faults{})
	if res := e.poll(); !res.OK() || res.Fetched != 3 {
		t.Fatalf("retry %+v", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("relay accepted %d messages, want 3", len(msgs))
	}
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, string(m.Data))
	}
	sort.Strings(bodies)
	want := []string{string(three[0].Body), string(three[2].Body), string(three[1].Body)}
	for i := range want {
		if bodies[i] != want[i] {
			t.Errorf("relay got %q, want %q", bodies[i], want[i])
		}
	}
	if srv.Connections() != 2 {
		t.Errorf("relay saw %d connections for two polls of three messages, want one session per poll", srv.Connections())
	}
}

func TestPoll_SMTP550Held(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	srv := smtptest.NewServer(t, smtptest.Options{})
	srv.SetFaults(smtptest.Faults{RcptErr: map[string]error{"r@example.org": smtptest.Reply(550, "5.1.1", "no such user")}})
	smtp, _ := deliver.NewSMTP(deliver.SMTPConfig{Addr: srv.Addr(), TLS: "none"})
	defer smtp.Close()
	e.account.Targets = []Target{{Deliverer: smtp, Recipients: []string{"r@example.org"}, PerRecipient: true}}
	if res := e.poll(); res.FailedPermanent != 1 || len(e.remainingUIDs()) != 1 {
		t.Fatalf("poll %+v, want a permanent failure, message kept", res)
	}
	if res := e.poll(); res.Held != 1 {
		t.Fatalf("second poll %+v, want the message held", res)
	}
	srv.SetFaults(smtptest.Faults{})
	e.store.ResetFailed(e.account.Key)
	if res := e.poll(); !res.OK() || res.Fetched != 1 || len(srv.Messages()) != 1 {
		t.Fatalf("after retry %+v, relay holds %d", res, len(srv.Messages()))
	}
}

// LMTP 452 for one of three recipients: each recipient ends with one copy.
func TestPoll_LMTP452OneOfThree(t *testing.T) {
	e := newEnv(t, three[:1], nil)
	srv := smtptest.NewServer(t, smtptest.Options{LMTP: true})
	srv.SetFaults(smtptest.Faults{LMTPErr: map[string]error{"b@x": smtptest.Reply(452, "4.2.2", "mailbox full")}})
	lmtp, err := deliver.NewLMTP(deliver.LMTPConfig{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer lmtp.Close()
	e.account.Targets = []Target{{Deliverer: lmtp, Recipients: []string{"a@x", "b@x", "c@x"}, PerRecipient: true}}
	if res := e.poll(); res.Failed != 1 || res.FailedPermanent != 0 || len(e.remainingUIDs()) != 1 {
		t.Fatalf("poll %+v, want a temporary failure, message kept", res)
	}
	srv.SetFaults(smtptest.Faults{})
	if res := e.poll(); !res.OK() || res.Fetched != 1 || len(e.remainingUIDs()) != 0 {
		t.Fatalf("retry %+v", res)
	}
	copies := map[string]int{}
	for _, m := range srv.Messages() {
		for _, r := range m.To {
			copies[r]++
		}
	}
	for _, r := range []string{"a@x", "b@x", "c@x"} {
		if copies[r] != 1 {
			t.Errorf("recipient %s got %d copies, want 1 (all: %v)", r, copies[r], copies)
		}
	}
}
