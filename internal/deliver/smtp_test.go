package deliver

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"fetchd/internal/deliver/smtptest"
)

func password(p string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return p, nil }
}

func TestSMTP_STARTTLSAuthDelivers(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{TLS: true, User: "u", Password: "secret"})
	m := newTestSMTP(t, srv, func(c *SMTPConfig) { c.User, c.Password = "u", password("secret") })
	if got, want := m.String(), "smtp "+srv.Addr(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	env := testEnv("u@example.org")
	env.Trace.Received = "from pop.example by fetchd.test"
	s, err := m.Stage(context.Background(), env, strings.NewReader(testBody))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	got := msgs[0]
	if want := "Received: from pop.example by fetchd.test\r\n" + testBody; string(got.Data) != want {
		t.Errorf("data: got %q, want %q", got.Data, want)
	}
	if got.From != "a@example.com" || strings.Join(got.To, ",") != "u@example.org" || got.Body != "8BITMIME" || got.UTF8 {
		t.Errorf("envelope: got %+v", got)
	}
	if srv.AuthAttempts() != 1 {
		t.Errorf("AUTH attempts = %d, want 1", srv.AuthAttempts())
	}
}

func TestSMTP_ImplicitTLS(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{ImplicitTLS: true})
	m := newTestSMTP(t, srv, func(c *SMTPConfig) { c.TLS = "implicit" })
	if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	if len(srv.Messages()) != 1 {
		t.Fatal("message not delivered")
	}
}

func TestSMTP_TLSVerifyFailureIsPermanent(t *testing.T) {
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.Options{TLS: mode == "starttls", ImplicitTLS: mode == "implicit"})
			m := newTestSMTP(t, srv, func(c *SMTPConfig) { c.TLS, c.TLSConfig = mode, nil })
			_, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody))
			wantError(t, err, true, "TLS handshake")
			var ve *tls.CertificateVerificationError
			if !errors.As(err, &ve) {
				t.Errorf("error %v does not wrap a certificate verification error", err)
			}
		})
	}
}

func TestSMTP_STARTTLSRequiredNotOffered(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{User: "u", Password: "secret", InsecureAuth: true})
	m := newTestSMTP(t, srv, func(c *SMTPConfig) {
		c.TLS, c.User, c.Password = "starttls", "u", password("secret")
	})
	_, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody))
	wantError(t, err, true, "STARTTLS", "does not offer")
	if errors.Is(err, errNoSTARTTLS) != true {
		t.Errorf("error %v is not errNoSTARTTLS", err)
	}
	tr := srv.Transcript()
	for _, cmd := range []string{"AUTH", "MAIL", "RCPT"} {
		if strings.Contains(tr, "\n"+cmd) {
			t.Errorf("%s sent without TLS:\n%s", cmd, tr)
		}
	}
	if srv.AuthAttempts() != 0 {
		t.Error("AUTH reached the server")
	}
}

func TestSMTP_AuthWithoutTLS(t *testing.T) {
	// Refused at configuration for a host that is not loopback.
	_, err := NewSMTP(SMTPConfig{Addr: "mail.example.com:25", TLS: "none", User: "u", Password: password("p")})
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "AUTH refused") {
		t.Fatalf("NewSMTP: got %v, want a permanent AUTH refusal", err)
	}
	for _, mode := range []string{"starttls", "implicit", ""} {
		if _, err := NewSMTP(SMTPConfig{Addr: "mail.example.com:25", TLS: mode, User: "u", Password: password("p")}); err != nil {
			t.Errorf("NewSMTP tls %q: %v", mode, err)
		}
	}
	// Allowed to loopback.
	srv := smtptest.NewServer(t, smtptest.Options{User: "u", Password: "secret", InsecureAuth: true})
	m := newTestSMTP(t, srv, func(c *SMTPConfig) { c.User, c.Password = "u", password("secret") })
	if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
}

func TestSMTP_AuthFailedIsPermanent(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{TLS: true, User: "u", Password: "secret"})
	m := newTestSMTP(t, srv, func(c *SMTPConfig) { c.User, c.Password = "u", password("wrong") })
	_, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody))
	wantError(t, err, true, "AUTH: 535 5.7.8")
}

func TestSMTP_NewSMTPRejects(t *testing.T) {
	for _, cfg := range []SMTPConfig{
		{Addr: "mail.example.com"},
		{Addr: ":25"},
		{Addr: "mail.example.com:25", TLS: "ssl"},
		{Addr: "mail.example.com:25", TLSConfig: &tls.Config{InsecureSkipVerify: true}},
		{Addr: "mail.example.com:25", User: "u"},
		{Addr: "mail.example.com:25", Helo: "bad name"},
	} {
		if _, err := NewSMTP(cfg); err == nil || !IsPermanent(err) {
			t.Errorf("NewSMTP(%+v) = %v, want a permanent error", cfg, err)
		}
	}
}

func TestSMTP_SessionReused(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{TLS: true})
	m := newTestSMTP(t, srv, nil)
	for range 3 {
		if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Messages()); n != 3 {
		t.Fatalf("got %d messages, want 3", n)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.Transcript(), "QUIT") {
		t.Error("Close sent no QUIT")
	}
}

func TestSMTP_ReconnectAfterServerClosedIdleSession(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{TLS: true})
	m := newTestSMTP(t, srv, nil)
	for i := range 2 {
		if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
			t.Fatalf("Stage %d: %v", i, err)
		}
		srv.DropConnections()
	}
	if n, c := len(srv.Messages()), srv.Connections(); n != 2 || c != 2 {
		t.Fatalf("got %d messages over %d connections, want 2 over 2", n, c)
	}
}

func TestSMTP_SMTPUTF8(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{SMTPUTF8: true})
	m := newTestSMTP(t, srv, nil)
	if _, err := m.Stage(context.Background(), testEnv("jürgen@example.org"), strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Stage(context.Background(), testEnv("u@example.org"), strings.NewReader(testBody)); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || !msgs[0].UTF8 || msgs[1].UTF8 {
		t.Fatalf("SMTPUTF8 flags: got %+v, want true then false", msgs)
	}

	plain := smtptest.NewServer(t, smtptest.Options{})
	m = newTestSMTP(t, plain, nil)
	env := testEnv("u@example.org")
	env.From = "jürgen@example.com"
	_, err := m.Stage(context.Background(), env, strings.NewReader(testBody))
	wantError(t, err, true, "SMTPUTF8")
}

func TestSMTP_BadAddressesRefused(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	m := newTestSMTP(t, srv, nil)
	for _, env := range []*Envelope{
		{From: "a@x> SIZE=1", Recipients: []string{"u@example.org"}},
		{Recipients: []string{"u@example.org>\r\nRCPT TO:<evil@example.net"}},
		{Recipients: nil},
	} {
		_, err := m.Stage(context.Background(), env, strings.NewReader(testBody))
		wantError(t, err, true)
	}
	if srv.Connections() != 0 {
		t.Error("connected for an invalid envelope")
	}
}

func TestSMTP_CancelledContext(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.Options{})
	m := newTestSMTP(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Stage(ctx, testEnv("u@example.org"), strings.NewReader(testBody))
	wantError(t, err, false)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}
