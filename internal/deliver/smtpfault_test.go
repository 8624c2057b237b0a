package deliver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"fetchd/internal/deliver/smtptest"
)

// newTestSMTP returns an SMTP target for srv: STARTTLS when srv offers TLS,
// none otherwise; mod may change the configuration.
func newTestSMTP(t *testing.T, srv *smtptest.Server, mod func(*SMTPConfig)) *SMTP {
	t.Helper()
	cfg := SMTPConfig{Addr: srv.Addr(), TLS: "none", Helo: "fetchd.test", Timeout: 5 * time.Second}
	if tc := srv.ClientTLSConfig(); tc != nil {
		cfg.TLS, cfg.TLSConfig = "starttls", tc
	}
	if mod != nil {
		mod(&cfg)
	}
	m, err := NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func testEnv(rcpts ...string) *Envelope {
	return &Envelope{Account: "test", UIDL: "u1", From: "a@example.com", Recipients: rcpts, Size: 20}
}

const testBody = "Subject: hi\r\n\r\nhello\r\n"

// wantError checks err is a plain *Error (not a RecipientsError) with the
// given permanence, whose text holds every one of parts.
func wantError(t *testing.T, err error, permanent bool, parts ...string) {
	t.Helper()
	var e *Error
	var re *RecipientsError
	switch {
	case err == nil:
		t.Fatal("got nil error")
	case errors.As(err, &re):
		t.Fatalf("got RecipientsError %v, want a plain *Error", err)
	case !errors.As(err, &e):
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	t.Logf("error: %v", err)
	if IsPermanent(err) != permanent {
		t.Errorf("IsPermanent(%v) = %v, want %v", err, !permanent, permanent)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}

func TestSMTP_Faults(t *testing.T) {
	r := smtptest.Reply
	tests := []struct {
		name      string
		faults    smtptest.Faults
		permanent bool
		parts     []string
		reconnect bool // the fault breaks the session
	}{
		{"MAIL451", smtptest.Faults{MailErr: r(451, "4.3.0", "try later")}, false,
			[]string{"smtp 127.0.0.1:", "MAIL FROM:<a@example.com>: 451 4.3.0 try later"}, false},
		{"MAIL550", smtptest.Faults{MailErr: r(550, "5.7.1", "sender refused")}, true,
			[]string{"MAIL FROM:<a@example.com>: 550 5.7.1 sender refused"}, false},
		{"RCPT550", smtptest.Faults{RcptErr: map[string]error{"u@example.org": r(550, "5.1.1", "no such user")}}, true,
			[]string{"RCPT TO:<u@example.org>: 550 5.1.1 no such user"}, false},
		{"RCPT552IsTemporary", smtptest.Faults{RcptErr: map[string]error{"u@example.org": r(552, "5.5.3", "too many recipients")}}, false,
			[]string{"RCPT TO:<u@example.org>: 552 5.5.3"}, false},
		{"RCPT5.2.2IsTemporary", smtptest.Faults{RcptErr: map[string]error{"u@example.org": r(550, "5.2.2", "mailbox full")}}, false,
			[]string{"550 5.2.2 mailbox full"}, false},
		{"DataEnd552", smtptest.Faults{DataErr: r(552, "5.3.4", "message too big")}, true,
			[]string{"end of DATA: 552 5.3.4 message too big"}, false},
		{"DataEnd5.2.2IsTemporary", smtptest.Faults{DataErr: r(552, "5.2.2", "over quota")}, false,
			[]string{"end of DATA: 552 5.2.2 over quota"}, false},
		{"DataEnd451", smtptest.Faults{DataErr: r(451, "4.3.0", "local error")}, false,
			[]string{"end of DATA: 451 4.3.0"}, false},
		{"DropAfterDot", smtptest.Faults{DropAfterDot: true}, false,
			[]string{"end of DATA", "no reply to the final dot"}, true},
		{"SlowReplyTimesOut", smtptest.Faults{Delay: 2 * time.Second}, false,
			[]string{"end of DATA", "timeout"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.Options{})
			m := newTestSMTP(t, srv, func(c *SMTPConfig) { c.Timeout = 500 * time.Millisecond })
			srv.SetFaults(tt.faults)
			s, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody))
			if s != nil {
				t.Errorf("Stage returned a Staged with error %v", err)
			}
			wantError(t, err, tt.permanent, tt.parts...)
			before := len(srv.Messages())

			// The next message goes through, on the same session unless
			// the fault broke it.
			srv.SetFaults(smtptest.Faults{})
			if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
				t.Fatalf("Stage after the fault: %v", err)
			}
			if got := len(srv.Messages()); got != before+1 {
				t.Errorf("server has %d messages, want %d", got, before+1)
			}
			wantConns := 1
			if tt.reconnect {
				wantConns = 2
			}
			if got := srv.Connections(); got != wantConns {
				t.Errorf("server saw %d connections, want %d", got, wantConns)
			}
		})
	}
}

func TestSMTP_PartialRecipients(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	srv.SetFaults(smtptest.Faults{RcptErr: map[string]error{
		"a@example.org": smtptest.Reply(550, "5.1.1", "no such user"),
		"c@example.org": smtptest.Reply(451, "4.3.0", "try later"),
	}})
	m := newTestSMTP(t, srv, nil)
	_, err := m.Stage(context.Background(), testEnv("a@example.org", "b@example.org", "c@example.org"), strings.NewReader(testBody))
	var re *RecipientsError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want *RecipientsError", err)
	}
	if strings.Join(re.Accepted, ",") != "b@example.org" || len(re.Failed) != 2 || re.Target != m.String() {
		t.Fatalf("got %+v", re)
	}
	if !IsPermanent(re.Failed["a@example.org"]) || IsPermanent(re.Failed["c@example.org"]) || IsPermanent(err) {
		t.Errorf("permanence: a %v, c %v, whole %v; want true, false, false",
			IsPermanent(re.Failed["a@example.org"]), IsPermanent(re.Failed["c@example.org"]), IsPermanent(err))
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || strings.Join(msgs[0].To, ",") != "b@example.org" {
		t.Fatalf("server messages %+v, want one to b", msgs)
	}
}

func TestSMTP_AllRecipientsRefused(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	srv.SetFaults(smtptest.Faults{RcptErr: map[string]error{
		"a@example.org": smtptest.Reply(550, "5.1.1", "no such user"),
		"b@example.org": smtptest.Reply(553, "5.1.3", "bad address"),
	}})
	m := newTestSMTP(t, srv, nil)
	_, err := m.Stage(context.Background(), testEnv("a@example.org", "b@example.org"), strings.NewReader(testBody))
	wantError(t, err, true, "<a@example.org>: RCPT: 550 5.1.1", "<b@example.org>: RCPT: 553 5.1.3")
	if !strings.Contains(srv.Transcript(), "RSET") {
		t.Error("no RSET after the failed transaction")
	}
	srv.SetFaults(smtptest.Faults{RcptErr: map[string]error{"b@example.org": smtptest.Reply(450, "4.2.0", "greylisted")}})
	_, err = m.Stage(context.Background(), testEnv("a@example.org", "b@example.org", "b@example.org"), strings.NewReader(testBody))
	if err != nil {
		var re *RecipientsError
		if !errors.As(err, &re) || len(re.Failed) != 1 || len(re.Accepted) != 1 {
			t.Fatalf("duplicate recipient: got %v", err)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("server has %d messages, want 1", n)
	}
}

func TestSMTP_SizeExceededNotSent(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{MaxSize: 1000})
	m := newTestSMTP(t, srv, nil)
	env := testEnv("u@example.org")
	env.Size = 5000
	_, err := m.Stage(context.Background(), env, strings.NewReader(testBody))
	wantError(t, err, true, "MAIL", "552", "limit of 1000")
	if strings.Contains(srv.Transcript(), "MAIL FROM") {
		t.Error("MAIL was sent for a message over the SIZE limit")
	}
}

func TestSMTP_BodyReadErrorSendsNoDot(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	m := newTestSMTP(t, srv, nil)
	boom := errors.New("pop3 connection lost")
	body := &failingReader{data: testBody, err: boom}
	_, err := m.Stage(context.Background(), testEnv("u@example.org"), body)
	wantError(t, err, false, "read message")
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the reader's", err)
	}
	if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || string(msgs[0].Data) != testBody {
		t.Fatalf("server messages %+v, want only the second", msgs)
	}
}

type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// cancelOnRead cancels its context at the first Read, as a shutdown signal
// arriving mid-message does.
type cancelOnRead struct {
	cancel context.CancelFunc
	data   *strings.Reader
}

func (r cancelOnRead) Read(p []byte) (int, error) {
	r.cancel()
	return r.data.Read(p)
}

func TestSMTP_CancelMidMessageSendsNoDot(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	m := newTestSMTP(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := m.Stage(ctx, testEnv("u@example.org"), cancelOnRead{cancel, strings.NewReader(testBody)})
	wantError(t, err, false, "DATA")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	if n, c := len(srv.Messages()), srv.Connections(); n != 1 || c != 2 {
		t.Fatalf("got %d messages over %d connections, want 1 over 2", n, c)
	}
}

func TestSMTP_ConcurrentStage(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	m := newTestSMTP(t, srv, nil)
	errs := make(chan error, 12)
	for range 4 {
		go func() {
			for range 3 {
				_, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody))
				errs <- err
			}
		}()
	}
	for range 12 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n, c := len(srv.Messages()), srv.Connections(); n != 12 || c != 1 {
		t.Fatalf("got %d messages over %d connections, want 12 over 1", n, c)
	}
}
