package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// refreshMargin is how long a token must stay valid to be handed out: a
// POP3 session that starts with it must get through AUTH.
const refreshMargin = 60 * time.Second

const opRefresh = "oauth2 refresh"

// Source hands out a valid access token for one account, refreshing it
// with the stored refresh token when needed and saving what the server
// returns (with a rotated refresh token, if it sent one) before the new
// access token is used. It is safe for concurrent use: concurrent callers
// wait for one refresh.
//
// Before each refresh it rereads the store, so a token that `fetchd auth`
// stored while the daemon runs is picked up without a restart.
type Source struct {
	store *Store
	key   string
	conf  *oauth2.Config // one, so x/oauth2's auth style probe runs once
	http  *http.Client

	sem chan struct{} // held while loading or refreshing; waits honour ctx

	mu      sync.Mutex
	cached  *oauth2.Token
	refused string // the access token the server refused (Invalidate): never hand it out again
}

// NewSource returns a Source for the account stored under key. A nil
// httpClient means one with a 30 s timeout.
func NewSource(store *Store, key string, c Client, httpClient *http.Client) *Source {
	if httpClient == nil {
		httpClient = defaultHTTPClient
	}
	return &Source{
		store: store,
		key:   key,
		conf:  c.config(""),
		http:  httpClient,
		sem:   make(chan struct{}, 1),
	}
}

// Token returns an access token valid for at least another minute (or
// half its lifetime, for a server issuing tokens that live under two
// minutes). An error wraps ErrConsentNeeded when only the user can fix it;
// any other error (network, server) is temporary.
func (s *Source) Token(ctx context.Context) (string, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()

	s.mu.Lock()
	cached, refused := s.cached, s.refused
	s.mu.Unlock()
	if usable(cached, refused, time.Now()) {
		return cached.AccessToken, nil
	}

	stored, err := s.store.Load(s.key)
	if err != nil {
		return "", err
	}
	if stored == nil {
		return "", fmt.Errorf("no OAuth2 token stored: %w", ErrConsentNeeded)
	}
	if usable(stored, refused, time.Now()) {
		s.set(stored)
		return stored.AccessToken, nil
	}
	if stored.RefreshToken == "" {
		return "", fmt.Errorf("the stored OAuth2 access token has expired and there is no refresh token: %w", ErrConsentNeeded)
	}

	// RFC 6749 §6. x/oauth2 keeps the old refresh token when the server
	// sends no new one (RFC 6749 §6 leaves rotation to the server).
	ts := s.conf.TokenSource(withHTTPClient(ctx, s.http), &oauth2.Token{RefreshToken: stored.RefreshToken})
	tok, err := ts.Token()
	if err != nil {
		return "", endpointError(opRefresh, err, stored.RefreshToken, stored.AccessToken, s.conf.ClientSecret)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = stored.RefreshToken
	}
	// Saved first: a server that rotated the refresh token may already
	// have retired the old one.
	if err := s.store.Save(s.key, tok); err != nil {
		return "", err
	}
	s.set(tok)
	return tok.AccessToken, nil
}

// ErrWouldRefresh is what StoredToken returns when only a refresh, which
// writes the token store, would give a usable access token.
var ErrWouldRefresh = errors.New("the stored OAuth2 access token has expired; a real poll would refresh it, which a dry run does not (it writes nothing)")

// StoredToken is Token without a refresh: the stored access token if it is
// still usable, for a dry run, which must not write the token store.
func (s *Source) StoredToken(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	stored, err := s.store.Load(s.key)
	if err != nil {
		return "", err
	}
	if stored == nil {
		return "", fmt.Errorf("no OAuth2 token stored: %w", ErrConsentNeeded)
	}
	if !usable(stored, "", time.Now()) {
		return "", ErrWouldRefresh
	}
	return stored.AccessToken, nil
}

// Invalidate forgets the cached access token, for when the POP3 server
// refused it mid-session: the next Token refreshes.
func (s *Source) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil {
		s.refused = s.cached.AccessToken
	}
	s.cached = nil
}

func (s *Source) set(t *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cached = t
	s.refused = ""
}

// usable says whether t may be handed out at now.
func usable(t *oauth2.Token, refused string, now time.Time) bool {
	if t == nil || t.AccessToken == "" || t.AccessToken == refused {
		return false
	}
	if t.Expiry.IsZero() {
		return true // the server said nothing of expiry (RFC 6749 §5.1: expires_in is optional)
	}
	margin := refreshMargin
	// A token living under two minutes would always be within a minute of
	// its end: ask for half its life instead, so it is used at all.
	if life := time.Duration(t.ExpiresIn) * time.Second; life > 0 && life/2 < margin {
		margin = life / 2
	}
	return t.Expiry.Sub(now) >= margin
}
