package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"fetchd/internal/oauth"
	"fetchd/internal/state"
)

const (
	authTestSecret  = "CLIENT-SECRET-auth-test"
	authTestRefresh = "RT-secret-auth-test"
	authTestAccess  = "AT-secret-auth-test"
)

// fakeAuthServer is an authorization server whose user consents at once:
// /auth redirects with a code, /token redeems it against the PKCE verifier.
func fakeAuthServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	challenges := map[string]string{} // code → code_challenge
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		challenges["CODE-1"] = q.Get("code_challenge")
		mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {"CODE-1"}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		_, secret, ok := r.BasicAuth()
		if !ok {
			secret = r.PostForm.Get("client_secret")
		}
		mu.Lock()
		challenge := challenges[r.PostForm.Get("code")]
		mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		w.Header().Set("Content-Type", "application/json")
		if secret != authTestSecret || challenge == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error": "invalid_grant"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": authTestAccess, "refresh_token": authTestRefresh,
			"token_type": "Bearer", "expires_in": 3600})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// browserOut is runAuth's stdout, and the user: the first authorization
// URL printed on it is opened, as a browser would.
type browserOut struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	opened bool
	t      *testing.T
}

var authURLRE = regexp.MustCompile(`http://\S+/auth\?\S+`)

func (b *browserOut) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if u := authURLRE.FindString(b.buf.String()); u != "" && !b.opened {
		b.opened = true
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				b.t.Errorf("browser: %v", err)
				return
			}
			resp.Body.Close()
		}()
	}
	return len(p), nil
}

func (b *browserOut) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeAuthConfig(t *testing.T, dir, oauth2Table string) string {
	path := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(`state = %q
[[account]]
name = "g"
server = "pop.example.com"
port = 995
user = "user@example.com"
%s
[[account.deliver]]
maildir = %q
`, filepath.Join(dir, "state", "state.db"), oauth2Table, filepath.Join(dir, "Maildir"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuth_LoopbackStoresToken(t *testing.T) {
	srv := fakeAuthServer(t)
	dir := t.TempDir()
	path := writeAuthConfig(t, dir, fmt.Sprintf(`[account.oauth2]
client_id = "client-id"
client_secret = %q
auth_url = %q
token_url = %q
scopes = ["https://mail.example/"]
`, authTestSecret, srv.URL+"/auth", srv.URL+"/token"))

	stdout := &browserOut{t: t}
	var stderr bytes.Buffer
	code := runAuth(context.Background(), []string{"-c", path, "g"}, stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), "token stored; fetchd polls g with it") {
		t.Fatalf("runAuth: exit %d, want 0 and the confirmation\nstdout:\n%s\nstderr:\n%s", code, stdout, &stderr)
	}

	store := oauth.NewStore(filepath.Join(dir, "state", "oauth"))
	key := state.AccountKey{Server: "pop.example.com", Port: 995, User: "user@example.com"}.String()
	fi, err := os.Stat(store.Path(key))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", fi.Mode().Perm())
	}
	tok, err := store.Load(key)
	if err != nil || tok.RefreshToken != authTestRefresh {
		t.Errorf("stored token %+v, %v, want the refresh token issued", tok, err)
	}
	for _, s := range []string{authTestSecret, authTestRefresh, authTestAccess} {
		if strings.Contains(stdout.String()+stderr.String(), s) {
			t.Errorf("runAuth printed the secret %q", s)
		}
	}
}

func TestAuth_Refusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table string // the account's oauth2 table
		args  []string
		want  string
	}{
		{name: "no oauth2 table", table: `password = "pw"`, args: []string{"g"}, want: "has no [account.oauth2] table"},
		{name: "unknown account", table: `password = "pw"`, args: []string{"nope"}, want: "no account named nope"},
		{name: "no account named", table: `password = "pw"`, args: nil, want: "name one account"},
		{name: "bad flow", table: `password = "pw"`, args: []string{"--flow", "magic", "g"}, want: `--flow must be`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeAuthConfig(t, t.TempDir(), tc.table)
			var stdout, stderr bytes.Buffer
			code := runAuth(context.Background(), append([]string{"-c", path}, tc.args...), &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitUsage, tc.want)
			}
		})
	}
}
