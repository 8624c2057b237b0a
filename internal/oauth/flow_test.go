package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// browse is an openURL that plays the browser: it follows the
// authorization URL (after edit, if any) through the redirect to the
// loopback listener.
func browse(t *testing.T, edit func(q url.Values)) func(string) {
	return func(u string) {
		if edit != nil {
			p, _ := url.Parse(u)
			q := p.Query()
			edit(q)
			p.RawQuery = q.Encode()
			u = p.String()
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("browser: %v", err)
			return
		}
		resp.Body.Close()
	}
}

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(f *fakeProvider)
		edit    func(q url.Values)
		wantErr string // "" for success
	}{
		{name: "consent"},
		{name: "wrong state", setup: func(f *fakeProvider) { f.ForgeState = "forged" }, wantErr: "state does not match"},
		{name: "user declines", setup: func(f *fakeProvider) { f.DenyConsent = true }, wantErr: "access_denied"},
		// Someone who intercepted the code cannot redeem it without the
		// verifier: here the challenge sent is not this verifier's.
		{name: "PKCE mismatch", edit: func(q url.Values) {
			q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
		}, wantErr: "PKCE verification failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProvider(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tok, err := Loopback(ctx, f.client(), browse(t, tc.edit), nil)
			if tc.wantErr == "" {
				if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
					t.Fatalf("Loopback = %+v, %v, want access and refresh tokens", tok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Loopback error %v, want one containing %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrConsentNeeded) {
				t.Errorf("a failed flow is not ErrConsentNeeded: %v", err)
			}
		})
	}
}

func TestLoopback_TimesOut(t *testing.T) {
	f := newFakeProvider(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Loopback(ctx, f.client(), func(string) {}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Loopback with nobody at the browser: %v, want DeadlineExceeded", err)
	}
}

// Stray requests (a favicon, a reload without parameters) neither end
// nor spoil the flow.
func TestLoopback_IgnoresStrayRequests(t *testing.T) {
	f := newFakeProvider(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := Loopback(ctx, f.client(), func(u string) {
		p, _ := url.Parse(u)
		redirect, _ := url.Parse(p.Query().Get("redirect_uri"))
		for _, path := range []string{"favicon.ico", ""} {
			resp, err := http.Get(redirect.String() + path)
			if err != nil || resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /%s: %v, %v, want 404", path, resp.Status, err)
			}
			resp.Body.Close()
		}
		browse(t, nil)(u)
	}, nil)
	if err != nil || tok.RefreshToken == "" {
		t.Errorf("Loopback after stray requests = %+v, %v", tok, err)
	}
}

func TestDevice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deny    bool
		wantErr string
	}{
		{name: "pending twice then consent"},
		{name: "user declines", deny: true, wantErr: "access_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeProvider(t)
			f.Pending = 2
			f.DenyDevice = tc.deny
			var uri, code string
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tok, err := Device(ctx, f.client(), func(u, c string) { uri, code = u, c }, nil)
			if uri != f.srv.URL+"/verify" || code != "WDJB-MJHT" {
				t.Errorf("shown %q, %q, want the fake's verification URI and user code", uri, code)
			}
			if tc.wantErr == "" {
				if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
					t.Fatalf("Device = %+v, %v, want access and refresh tokens", tok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Device error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDevice_NeedsDeviceEndpoint(t *testing.T) {
	c := Client{ClientID: "id", TokenURL: "https://token.example/"}
	_, err := Device(context.Background(), c, func(string, string) { t.Error("show called") }, nil)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Device without a device endpoint: %v, want an error pointing to the loopback flow", err)
	}
}

// No error fetchd can get from a token endpoint quotes a token, an
// authorization or device code, or the client secret — even from a server
// that echoes them in its error description.
func TestErrors_NoSecrets(t *testing.T) {
	f := newFakeProvider(t)
	f.EchoSecrets = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	collect := func(_ any, err error) {
		if err == nil {
			t.Error("expected an error")
		}
		errs = append(errs, err)
	}

	// A revoked refresh token, with a valid access token alongside.
	store := NewStore(t.TempDir())
	rt := f.newRefreshToken()
	f.revoke(rt)
	store.Save(testKey, &oauth2.Token{AccessToken: "AT-secret-stored", RefreshToken: rt, Expiry: time.Now()})
	collect(NewSource(store, testKey, f.client(), nil).Token(ctx))
	// A wrong client secret.
	bad := f.client()
	bad.ClientSecret = "WRONG-SECRET-do-not-print"
	store.Save(testKey, &oauth2.Token{RefreshToken: f.newRefreshToken()})
	collect(NewSource(store, testKey, bad, nil).Token(ctx))
	collect(Loopback(ctx, bad, browse(t, nil), nil))
	// A code that fails PKCE.
	collect(Loopback(ctx, f.client(), browse(t, func(q url.Values) { q.Set("code_challenge", "x") }), nil))
	// A denied device code.
	f.DenyDevice = true
	collect(Device(ctx, f.client(), func(string, string) {}, nil))

	secrets := append(f.secrets(), "AT-secret-stored", "WRONG-SECRET-do-not-print")
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains the secret %q", err, s)
			}
		}
	}
	if !strings.Contains(errs[0].Error(), "[redacted]") {
		t.Errorf("error %q: want the echoed refresh token redacted", errs[0])
	}
}
