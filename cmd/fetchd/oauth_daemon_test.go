package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"fetchd/internal/oauth"
	"fetchd/internal/pop3"
	"fetchd/internal/pop3/pop3test"
	"fetchd/internal/state"
)

// tokenEndpoint is a fake OAuth2 token endpoint that issues access tokens
// living 2 seconds, rotates refresh tokens, and can revoke them.
type tokenEndpoint struct {
	mu      sync.Mutex
	issued  map[string]time.Time // access token → expiry
	refresh string               // the refresh token it accepts
	n       int
	revoked atomic.Bool
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != e.refresh || e.revoked.Load() {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
		return
	}
	e.n++
	access := fmt.Sprintf("fetchd-token-access-%d", e.n)
	e.refresh = fmt.Sprintf("fetchd-token-refresh-%d", e.n)
	e.issued[access] = time.Now().Add(2 * time.Second)
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 2, "refresh_token": e.refresh})
}

// valid reports whether token was issued and has not expired; every fifth
// login is refused anyway, as a provider revoking an access token early
// would, so that the refresh-and-retry path runs too.
func (e *tokenEndpoint) valid(token string, logins *atomic.Int64) bool {
	e.mu.Lock()
	exp, ok := e.issued[token]
	e.mu.Unlock()
	if logins.Add(1)%5 == 0 {
		return false
	}
	return ok && time.Now().Before(exp)
}

// Acceptance 3 of issue 6: an OAuth2 account whose access token expires
// every 2 s keeps polling for a minute without a failed poll; a revoked
// refresh token then gives the documented error, in the poll result, in
// `fetchd status`, in /metrics and once to notify_command.
func TestDaemon_OAuth2TokensExpireEveryTwoSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute long")
	}
	ep := &tokenEndpoint{issued: map[string]time.Time{}, refresh: "fetchd-token-refresh-0"}
	tokens := httptest.NewServer(ep)
	defer tokens.Close()
	var logins atomic.Int64
	srv := pop3test.NewServer(t)
	srv.Mode = pop3test.ImplicitTLS
	srv.User = "me@example.com"
	srv.SASL = []string{"XOAUTH2", "OAUTHBEARER"}
	srv.ValidToken = func(user, token string) bool { return user == "me@example.com" && ep.valid(token, &logins) }
	srv.Messages = []pop3test.Message{{UID: "m1", Body: []byte("Subject: hi\r\n\r\nhello\r\n")}}
	srv.Start()
	host, portStr, _ := net.SplitHostPort(srv.Addr())
	port, _ := strconv.Atoi(portStr)

	dir := t.TempDir()
	statePath := filepath.Join(dir, "state", "fetchd.db")
	events := filepath.Join(dir, "events")
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state = %q
notify_command = ["sh", "-c", "cat >> %s"]
[[account]]
name = "oa"
server = %q
port = %d
user = "me@example.com"
keep = true
timeout = "5s"
schedule = "@every 2s"
jitter = "0s"
tls_pin_spki = %q
[account.oauth2]
client_id = "fetchd-test"
auth_url = "%s/auth"
token_url = "%s/token"
[[account.deliver]]
maildir = %q
`, statePath, events, host, port, pop3.SPKIPin(srv.LeafCert()), tokens.URL, tokens.URL, filepath.Join(dir, "Maildir"))), 0o600)

	// What `fetchd auth oa` would have stored: an expired access token and
	// a refresh token.
	key := state.AccountKey{Server: host, Port: port, User: "me@example.com"}.String()
	if err := oauth.NewStore(filepath.Join(dir, "state", "oauth")).Save(key, &oauth2.Token{
		AccessToken: "fetchd-token-expired", RefreshToken: "fetchd-token-refresh-0", TokenType: "Bearer", Expiry: time.Now().Add(-time.Hour),
	}); err != nil {
		t.Fatal(err)
	}

	d := startDaemon(t, cfg)
	c := d.Client()
	time.Sleep(60 * time.Second)
	ok := metric(t, c, "fetchd_polls_total", `account="oa"`, `result="ok"`)
	failed := metric(t, c, "fetchd_polls_total", `account="oa"`, `result="error"`)
	ep.mu.Lock()
	issued := ep.n
	ep.mu.Unlock()
	t.Logf("a minute: %.0f polls ok, %.0f failed, %d access tokens issued, %d logins", ok, failed, issued, logins.Load())
	if failed != 0 || ok < 25 {
		t.Fatalf("in a minute: %.0f polls ok, %.0f failed; want about 30 ok and none failed", ok, failed)
	}
	if issued < 25 {
		t.Errorf("%d access tokens issued in a minute of 2-second tokens", issued)
	}
	if n := countFiles(t, filepath.Join(dir, "Maildir", "new")); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}

	// The user revokes fetchd's access.
	ep.revoked.Store(true)
	eventually(t, 10*time.Second, "a poll failing for consent", func() bool {
		return metric(t, c, "fetchd_oauth_consent_needed", `account="oa"`) == 1
	})
	code, out := d.Cmd("status", "-c", cfg)
	if code != 0 || !strings.Contains(out, "fetchd auth oa") {
		t.Errorf("status after the revocation (exit %d) does not say to run `fetchd auth oa`:\n%s", code, out)
	}
	time.Sleep(3 * time.Second) // more failing polls: still one event
	d.Stop(10 * time.Second)
	b, _ := os.ReadFile(events)
	if n := strings.Count(string(b), `"event":"oauth_consent"`); n != 1 {
		t.Errorf("notify_command got %d oauth_consent events, want 1:\n%s", n, b)
	}
	if strings.Contains(d.Stderr.String(), "fetchd-token-") {
		t.Errorf("the daemon's log shows a token")
	}
}
