package deliver

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"fetchd/internal/deliver/smtptest"
)

func newTestLMTP(t *testing.T, srv *smtptest.Server) *LMTP {
	t.Helper()
	l, err := NewLMTP(LMTPConfig{Addr: srv.Addr(), Helo: "fetchd.test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewLMTP: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLMTP_UnixSocketSessionReused(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{LMTP: true, Unix: true})
	l := newTestLMTP(t, srv)
	if got, want := l.String(), "lmtp "+srv.Addr(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for range 3 {
		env := testEnv("a@example.org", "b@example.org")
		env.Trace = Trace{Received: "by fetchd", ReturnPath: "<a@example.com>", DeliveredTo: "x"}
		if _, err := l.Stage(context.Background(), env, strings.NewReader("x\n.\r\ny")); err != nil {
			t.Fatalf("Stage: %v", err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 3 || srv.Connections() != 1 {
		t.Fatalf("got %d messages over %d connections, want 3 over 1", len(msgs), srv.Connections())
	}
	if got, want := string(msgs[0].Data), "Received: by fetchd\r\nx\r\n.\r\ny\r\n"; got != want {
		t.Errorf("data: got %q, want %q", got, want)
	}
	if !strings.Contains(srv.Transcript(), "LHLO fetchd.test") {
		t.Error("no LHLO")
	}
}

func TestLMTP_OneRecipientOfThreeFails(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{LMTP: true})
	srv.SetFaults(smtptest.Faults{LMTPErr: map[string]error{"b@example.org": smtptest.Reply(452, "4.2.2", "mailbox full")}})
	l := newTestLMTP(t, srv)
	_, err := l.Stage(context.Background(), testEnv("a@example.org", "b@example.org", "c@example.org"), strings.NewReader(testBody))
	var re *RecipientsError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want *RecipientsError", err)
	}
	t.Logf("error: %v", err)
	sort.Strings(re.Accepted)
	if strings.Join(re.Accepted, ",") != "a@example.org,c@example.org" || len(re.Failed) != 1 || re.Failed["b@example.org"] == nil {
		t.Fatalf("got accepted %q, failed %v", re.Accepted, re.Failed)
	}
	if IsPermanent(err) {
		t.Error("a 452 is permanent")
	}
	if !strings.Contains(err.Error(), "<b@example.org>: end of DATA: 452 4.2.2") {
		t.Errorf("error %q lacks the reply", err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || len(msgs[0].To) != 2 {
		t.Fatalf("server messages %+v", msgs)
	}
}

func TestLMTP_MixedRcptAndDataFailures(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{LMTP: true})
	srv.SetFaults(smtptest.Faults{
		RcptErr: map[string]error{"a@example.org": smtptest.Reply(550, "5.1.1", "no such user")},
		LMTPErr: map[string]error{"b@example.org": smtptest.Reply(554, "5.6.0", "rejected")},
	})
	l := newTestLMTP(t, srv)
	_, err := l.Stage(context.Background(), testEnv("a@example.org", "b@example.org"), strings.NewReader(testBody))
	wantError(t, err, true, "<a@example.org>: RCPT: 550 5.1.1", "<b@example.org>: end of DATA: 554 5.6.0")

	srv.SetFaults(smtptest.Faults{
		RcptErr: map[string]error{"a@example.org": smtptest.Reply(550, "5.1.1", "no such user")},
		LMTPErr: map[string]error{"b@example.org": smtptest.Reply(452, "4.3.1", "disk full")},
	})
	_, err = l.Stage(context.Background(), testEnv("a@example.org", "b@example.org"), strings.NewReader(testBody))
	wantError(t, err, false)
	if srv.Connections() != 1 || len(srv.Messages()) != 0 {
		t.Errorf("got %d connections, %d messages; want 1, 0", srv.Connections(), len(srv.Messages()))
	}
}

func TestLMTP_DropAfterDotIsTemporary(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{LMTP: true})
	srv.SetFaults(smtptest.Faults{DropAfterDot: true})
	l := newTestLMTP(t, srv)
	_, err := l.Stage(context.Background(), testEnv("a@example.org", "b@example.org"), strings.NewReader(testBody))
	wantError(t, err, false, "no reply to the final dot")
	srv.SetFaults(smtptest.Faults{})
	if _, err := l.Stage(context.Background(), testEnv("a@example.org"), strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	if srv.Connections() != 2 {
		t.Errorf("got %d connections, want 2", srv.Connections())
	}
}

func TestNewLMTP(t *testing.T) {
	for _, tt := range []struct {
		addr, name string
		ok         bool
	}{
		{"/run/dovecot/lmtp", "lmtp /run/dovecot/lmtp", true},
		{"127.0.0.1:24", "lmtp 127.0.0.1:24", true},
		{"run/dovecot/lmtp", "", false},
		{"localhost", "", false},
	} {
		l, err := NewLMTP(LMTPConfig{Addr: tt.addr})
		if (err == nil) != tt.ok {
			t.Errorf("NewLMTP(%q): %v", tt.addr, err)
			continue
		}
		if err == nil && l.String() != tt.name {
			t.Errorf("NewLMTP(%q).String() = %q, want %q", tt.addr, l.String(), tt.name)
		}
		if err != nil && !IsPermanent(err) {
			t.Errorf("NewLMTP(%q): %v is not permanent", tt.addr, err)
		}
	}
}
