package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

const (
	testClientID     = "client-id-123"
	testClientSecret = "CLIENT-SECRET-do-not-print"
)

// fakeProvider is an authorization server: an authorization endpoint that
// redirects at once (the user consents instantly), a device endpoint and a
// token endpoint. Every token it issues is recorded, so that a test can
// assert none of them reached an error message.
type fakeProvider struct {
	t   *testing.T
	srv *httptest.Server

	Lifetime    time.Duration // of access tokens; default 1h
	Rotate      bool          // issue a new refresh token on each refresh, retiring the old
	Delay       time.Duration // before answering a token request
	ForgeState  string        // if set, the redirect carries this state
	DenyConsent bool          // the redirect carries error=access_denied
	Pending     int           // device flow: authorization_pending answers before success
	DenyDevice  bool          // device flow: access_denied after the pending answers
	EchoSecrets bool          // error descriptions quote what the client sent (a careless server)
	Status      int           // if set, the token endpoint answers with this status and no body

	mu        sync.Mutex
	refreshes int
	valid     map[string]bool // refresh tokens that work
	issued    []string        // every token, code and device code handed out
	codes     map[string]string
	n         int
}

func newFakeProvider(t *testing.T) *fakeProvider {
	f := &fakeProvider{t: t, Lifetime: time.Hour, valid: map[string]bool{}, codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", f.authorize)
	mux.HandleFunc("/device", f.device)
	mux.HandleFunc("/token", f.token)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) client() Client {
	return Client{
		ClientID:      testClientID,
		ClientSecret:  testClientSecret,
		AuthURL:       f.srv.URL + "/auth",
		TokenURL:      f.srv.URL + "/token",
		DeviceAuthURL: f.srv.URL + "/device",
		Scopes:        []string{"https://mail.example/", "offline_access"},
	}
}

// newRefreshToken makes a refresh token the token endpoint accepts.
func (f *fakeProvider) newRefreshToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newLocked("RT")
}

func (f *fakeProvider) newLocked(kind string) string {
	f.n++
	s := fmt.Sprintf("%s-secret-%d", kind, f.n)
	f.issued = append(f.issued, s)
	if kind == "RT" {
		f.valid[s] = true
	}
	return s
}

func (f *fakeProvider) revoke(rt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.valid, rt)
}

func (f *fakeProvider) refreshCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes
}

func (f *fakeProvider) secrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{testClientSecret}, f.issued...)
}

func (f *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": testClientID, "code_challenge_method": "S256",
		"access_type": "offline", "prompt": "consent",
	} {
		if got := q.Get(k); got != want {
			http.Error(w, fmt.Sprintf("%s = %q, want %q", k, got, want), http.StatusBadRequest)
			f.t.Errorf("authorization request: %s = %q, want %q", k, got, want)
			return
		}
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme != "http" || redirect.Hostname() != "127.0.0.1" || redirect.Path != "/" {
		f.t.Errorf("redirect_uri = %q, want http://127.0.0.1:PORT/", q.Get("redirect_uri"))
	}
	state := q.Get("state")
	if f.ForgeState != "" {
		state = f.ForgeState
	}
	v := url.Values{"state": {state}}
	if f.DenyConsent {
		v.Set("error", "access_denied")
		v.Set("error_description", "The user said no")
	} else {
		f.mu.Lock()
		code := f.newLocked("CODE")
		f.codes[code] = q.Get("code_challenge") + " " + q.Get("redirect_uri")
		f.mu.Unlock()
		v.Set("code", code)
	}
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (f *fakeProvider) device(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if r.PostForm.Get("client_id") != testClientID {
		f.t.Errorf("device request: client_id = %q", r.PostForm.Get("client_id"))
	}
	f.mu.Lock()
	dc := f.newLocked("DC")
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": dc, "user_code": "WDJB-MJHT", "verification_uri": f.srv.URL + "/verify",
		"expires_in": 60, "interval": 1,
	})
}

func (f *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.Status != 0 {
		w.WriteHeader(f.Status)
		return
	}
	r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != testClientID || secret != testClientSecret {
		f.fail(w, http.StatusUnauthorized, "invalid_client", "unknown client", id, secret)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if !f.valid[rt] {
			f.fail(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.", rt, secret)
			return
		}
		f.refreshes++
		newRT := ""
		if f.Rotate {
			delete(f.valid, rt)
			newRT = f.newLocked("RT")
		}
		f.issue(w, newRT)
	case "authorization_code":
		code := r.PostForm.Get("code")
		want, ok := f.codes[code]
		verifier := r.PostForm.Get("code_verifier")
		sum := sha256.Sum256([]byte(verifier))
		got := base64.RawURLEncoding.EncodeToString(sum[:]) + " " + r.PostForm.Get("redirect_uri")
		switch {
		case !ok:
			f.fail(w, http.StatusBadRequest, "invalid_grant", "unknown code", code, secret)
		case got != want:
			f.fail(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed", code, verifier, secret)
		default:
			delete(f.codes, code) // RFC 6749 §4.1.2: used once
			f.issue(w, f.newLocked("RT"))
		}
	case "urn:ietf:params:oauth:grant-type:device_code":
		switch {
		case f.Pending > 0:
			f.Pending--
			f.fail(w, http.StatusBadRequest, "authorization_pending", "")
		case f.DenyDevice:
			f.fail(w, http.StatusBadRequest, "access_denied", "The user declined", r.PostForm.Get("device_code"), secret)
		default:
			f.issue(w, f.newLocked("RT"))
		}
	default:
		f.fail(w, http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

// issue answers with a new access token (and refresh token rt, if any);
// f.mu is held.
func (f *fakeProvider) issue(w http.ResponseWriter, rt string) {
	m := map[string]any{
		"access_token": f.newLocked("AT"),
		"token_type":   "Bearer",
		"expires_in":   int(f.Lifetime / time.Second),
	}
	if rt != "" {
		m["refresh_token"] = rt
	}
	writeJSON(w, http.StatusOK, m)
}

// fail answers with an RFC 6749 §5.2 error; with EchoSecrets the
// description quotes echo, as a careless server might.
func (f *fakeProvider) fail(w http.ResponseWriter, status int, code, desc string, echo ...string) {
	if f.EchoSecrets {
		desc += fmt.Sprintf(" (you sent %v)", echo)
	}
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
