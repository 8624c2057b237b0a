package oauth

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// newTestSource stores tok (if any) and returns a Source against f.
func newTestSource(t *testing.T, f *fakeProvider, tok *oauth2.Token) (*Source, *Store) {
	t.Helper()
	store := NewStore(t.TempDir())
	if tok != nil {
		if err := store.Save(testKey, tok); err != nil {
			t.Fatal(err)
		}
	}
	return NewSource(store, testKey, f.client(), nil), store
}

func TestSource_ValidTokenReused(t *testing.T) {
	f := newFakeProvider(t)
	src, _ := newTestSource(t, f, &oauth2.Token{AccessToken: "AT-stored", RefreshToken: f.newRefreshToken(),
		Expiry: time.Now().Add(time.Hour), ExpiresIn: 3600})
	for i := 0; i < 3; i++ {
		got, err := src.Token(context.Background())
		if err != nil || got != "AT-stored" {
			t.Fatalf("Token #%d = %q, %v, want the stored one", i+1, got, err)
		}
	}
	if n := f.refreshCount(); n != 0 {
		t.Errorf("%d refreshes, want 0", n)
	}
}

// A token valid for less than a minute is not handed out: the POP3 session
// might outlive it.
func TestSource_NearlyExpiredTokenRefreshed(t *testing.T) {
	f := newFakeProvider(t)
	src, _ := newTestSource(t, f, &oauth2.Token{AccessToken: "AT-stored", RefreshToken: f.newRefreshToken(),
		Expiry: time.Now().Add(30 * time.Second), ExpiresIn: 3600})
	got, err := src.Token(context.Background())
	if err != nil || got == "AT-stored" || f.refreshCount() != 1 {
		t.Errorf("Token = %q, %v after %d refreshes, want a refreshed token", got, err, f.refreshCount())
	}
}

// The acceptance scenario: 2-second tokens with a rotating refresh token.
func TestSource_ShortLivedTokensRefreshAndRotate(t *testing.T) {
	f := newFakeProvider(t)
	f.Lifetime = 2 * time.Second
	f.Rotate = true
	rt := f.newRefreshToken()
	src, store := newTestSource(t, f, &oauth2.Token{RefreshToken: rt})
	ctx := context.Background()

	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := src.Token(ctx); err != nil || again != first {
		t.Errorf("Token right after a refresh = %q, %v, want the same %q", again, err, first)
	}
	saved, _ := store.Load(testKey)
	if saved == nil || saved.RefreshToken == rt || saved.AccessToken != first {
		t.Fatalf("stored token %+v, want the new access token and the rotated refresh token", saved)
	}

	time.Sleep(2100 * time.Millisecond)
	second, err := src.Token(ctx)
	if err != nil || second == first {
		t.Fatalf("Token after expiry = %q, %v, want a new token, not %q", second, err, first)
	}
	rotated := saved.RefreshToken
	saved, _ = store.Load(testKey)
	if saved.RefreshToken == rotated || saved.AccessToken != second {
		t.Errorf("after the second refresh the store holds %+v, want the second rotated refresh token", saved)
	}
	if n := f.refreshCount(); n != 2 {
		t.Errorf("%d refreshes, want 2", n)
	}
}

func TestSource_ConcurrentCallersRefreshOnce(t *testing.T) {
	f := newFakeProvider(t)
	f.Delay = 100 * time.Millisecond
	f.Rotate = true // a second refresh with the retired token would fail
	src, _ := newTestSource(t, f, &oauth2.Token{RefreshToken: f.newRefreshToken()})
	var wg sync.WaitGroup
	got := make([]string, 20)
	errs := make([]error, 20)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = src.Token(context.Background()) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Errorf("caller %d: %q, %v, want %q", i, got[i], errs[i], got[0])
		}
	}
	if n := f.refreshCount(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

func TestSource_InvalidateForcesRefresh(t *testing.T) {
	f := newFakeProvider(t)
	src, store := newTestSource(t, f, &oauth2.Token{AccessToken: "AT-stored", RefreshToken: f.newRefreshToken(),
		Expiry: time.Now().Add(time.Hour), ExpiresIn: 3600})
	ctx := context.Background()
	if got, _ := src.Token(ctx); got != "AT-stored" {
		t.Fatalf("Token = %q, want AT-stored", got)
	}
	src.Invalidate()
	got, err := src.Token(ctx)
	if err != nil || got == "AT-stored" || f.refreshCount() != 1 {
		t.Fatalf("Token after Invalidate = %q, %v (%d refreshes), want a refreshed token", got, err, f.refreshCount())
	}
	if saved, _ := store.Load(testKey); saved.AccessToken != got {
		t.Errorf("stored access token %q, want the refreshed %q", saved.AccessToken, got)
	}
	if again, _ := src.Token(ctx); again != got || f.refreshCount() != 1 {
		t.Errorf("Token after the refresh = %q (%d refreshes), want %q reused", again, f.refreshCount(), got)
	}
}

// A token `fetchd auth` stores while the daemon runs is used without a
// restart, even after the old refresh token was refused.
func TestSource_PicksUpReauthorization(t *testing.T) {
	f := newFakeProvider(t)
	src, store := newTestSource(t, f, &oauth2.Token{RefreshToken: "RT-revoked"})
	if _, err := src.Token(context.Background()); !errors.Is(err, ErrConsentNeeded) {
		t.Fatalf("Token with a revoked refresh token: %v, want ErrConsentNeeded", err)
	}
	store.Save(testKey, &oauth2.Token{RefreshToken: f.newRefreshToken()})
	if _, err := src.Token(context.Background()); err != nil {
		t.Errorf("Token after reauthorization: %v", err)
	}
}

func TestSource_Errors(t *testing.T) {
	closed := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		ln.Close()
		return "http://" + ln.Addr().String() + "/token"
	}()
	for _, tc := range []struct {
		name      string
		stored    bool   // a refresh token is stored
		revoked   bool   // and the server refuses it
		status    int    // the token endpoint's bare HTTP status
		tokenURL  string // instead of the fake's
		secret    string // instead of the right one
		consent   bool
		wantInErr string
	}{
		{name: "no token stored", consent: true, wantInErr: "fetchd auth"},
		{name: "refresh token revoked", stored: true, revoked: true, consent: true, wantInErr: "run `fetchd auth ACCOUNT` again"},
		{name: "network error", stored: true, tokenURL: closed, wantInErr: "connection refused"},
		{name: "server error", stored: true, status: http.StatusServiceUnavailable, wantInErr: "503"},
		{name: "wrong client secret", stored: true, secret: "wrong", wantInErr: "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProvider(t)
			f.Status = tc.status
			var tok *oauth2.Token
			if tc.stored {
				tok = &oauth2.Token{RefreshToken: f.newRefreshToken()}
				if tc.revoked {
					f.revoke(tok.RefreshToken)
				}
			}
			c := f.client()
			if tc.tokenURL != "" {
				c.TokenURL = tc.tokenURL
			}
			if tc.secret != "" {
				c.ClientSecret = tc.secret
			}
			store := NewStore(t.TempDir())
			if tok != nil {
				store.Save(testKey, tok)
			}
			_, err := NewSource(store, testKey, c, nil).Token(context.Background())
			if err == nil {
				t.Fatal("Token succeeded")
			}
			t.Logf("error: %v", err)
			if got := errors.Is(err, ErrConsentNeeded); got != tc.consent {
				t.Errorf("errors.Is(%q, ErrConsentNeeded) = %v, want %v", err, got, tc.consent)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantInErr)
			}
		})
	}
}

func TestSource_WaitHonoursContext(t *testing.T) {
	f := newFakeProvider(t)
	f.Delay = 500 * time.Millisecond
	src, _ := newTestSource(t, f, &oauth2.Token{RefreshToken: f.newRefreshToken()})
	go src.Token(context.Background()) // holds the refresh
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := src.Token(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 300*time.Millisecond {
		t.Errorf("Token while another refreshes, with a 50ms deadline: %v after %v, want DeadlineExceeded at once", err, time.Since(start))
	}
}

// StoredToken, for a dry run, hands out a usable stored token and never
// refreshes: a refresh writes the token store.
func TestSource_StoredTokenNeverRefreshes(t *testing.T) {
	f := newFakeProvider(t)
	src, store := newTestSource(t, f, &oauth2.Token{AccessToken: "AT-stored", RefreshToken: f.newRefreshToken(),
		Expiry: time.Now().Add(time.Hour), ExpiresIn: 3600})
	if got, err := src.StoredToken(context.Background()); err != nil || got != "AT-stored" {
		t.Fatalf("StoredToken = %q, %v, want the stored one", got, err)
	}
	expired := &oauth2.Token{AccessToken: "AT-old", RefreshToken: f.newRefreshToken(), Expiry: time.Now().Add(-time.Minute)}
	if err := store.Save(testKey, expired); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(store.Path(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := src.StoredToken(context.Background()); !errors.Is(err, ErrWouldRefresh) || got != "" {
		t.Fatalf("StoredToken of an expired token = %q, %v, want ErrWouldRefresh", got, err)
	}
	after, _ := os.ReadFile(store.Path(testKey))
	if f.refreshCount() != 0 || !bytes.Equal(before, after) {
		t.Errorf("%d refreshes, store changed %v; want none, unchanged", f.refreshCount(), !bytes.Equal(before, after))
	}
}
