package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// Loopback runs the authorization code flow for a native app (RFC 8252):
// it listens on 127.0.0.1 on a free port, calls openURL with the
// authorization URL for the user to open, waits for the browser's redirect
// to http://127.0.0.1:PORT/ and exchanges the code. PKCE (RFC 7636, S256)
// binds the code to this process; the state parameter binds the redirect to
// this request. It asks for offline access with prompt=consent so that
// Google returns a refresh token even to a user who consented before.
// openURL may block until the browser is redirected. ctx bounds the wait.
func Loopback(ctx context.Context, c Client, openURL func(url string), httpClient *http.Client) (*oauth2.Token, error) {
	const op = "oauth2 loopback flow"
	if c.AuthURL == "" || c.TokenURL == "" {
		return nil, fmt.Errorf("%s: needs an authorization URL and a token URL", op)
	}
	// RFC 8252 §8.3: the loopback IP literal, not "localhost", which a
	// resolver or firewall may send elsewhere.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	redirect := fmt.Sprintf("http://127.0.0.1:%d/", ln.Addr().(*net.TCPAddr).Port)
	conf := c.config(redirect)
	verifier := oauth2.GenerateVerifier()
	state := randomString()

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	deliver := func(r result) {
		select {
		case done <- r:
		default: // only the first redirect counts
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("state") && !q.Has("code") && !q.Has("error") {
			http.Error(w, "fetchd is waiting for the authorization server's redirect.", http.StatusNotFound)
			return
		}
		// RFC 6749 §10.12: a redirect we did not ask for is refused.
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "fetchd: this redirect does not answer fetchd's request (state mismatch); run fetchd auth again.", http.StatusBadRequest)
			deliver(result{err: fmt.Errorf("%s: the redirect's state does not match the request's (a stale or forged redirect): run `fetchd auth` again", op)})
			return
		}
		if e := q.Get("error"); e != "" {
			msg := e
			if d := clean(q.Get("error_description"), nil); d != "" {
				msg += fmt.Sprintf(" %q", d)
			}
			http.Error(w, "fetchd: the authorization was not granted: "+msg, http.StatusForbidden)
			deliver(result{err: &RefusedError{Op: op, Code: e, Msg: msg}})
			return
		}
		code := q.Get("code")
		if code == "" {
			http.Error(w, "fetchd: the redirect carries no code.", http.StatusBadRequest)
			deliver(result{err: fmt.Errorf("%s: the redirect carries no authorization code", op)})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "fetchd received the authorization. You can close this window.")
		deliver(result{code: code})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Shutdown, not Close: the handler that delivered the code may
		// still be writing the browser's answer.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()

	openURL(conf.AuthCodeURL(state,
		oauth2.AccessTypeOffline,
		oauth2.SetAuthURLParam("prompt", "consent"),
		oauth2.S256ChallengeOption(verifier)))

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no redirect from the browser: %w", op, ctx.Err())
	}
	if r.err != nil {
		return nil, r.err
	}
	tok, err := conf.Exchange(withHTTPClient(ctx, httpClient), r.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, endpointError(op, err, r.code, c.ClientSecret)
	}
	return tok, nil
}

// Device runs the device authorization grant (RFC 8628): it asks for a
// user code, calls show with the verification URI and the code for the
// user to enter there (on any device), and polls the token endpoint at the
// interval the server set until the user has consented, declined, or the
// code expired. ctx bounds the wait as well.
func Device(ctx context.Context, c Client, show func(verificationURI, userCode string), httpClient *http.Client) (*oauth2.Token, error) {
	const op = "oauth2 device flow"
	if c.DeviceAuthURL == "" || c.TokenURL == "" {
		return nil, fmt.Errorf("%s: needs a device authorization URL and a token URL (Google's device flow does not allow the mail scope: use the loopback flow there)", op)
	}
	conf := c.config("")
	ctx = withHTTPClient(ctx, httpClient)
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return nil, endpointError(op, err, c.ClientSecret)
	}
	show(da.VerificationURI, da.UserCode)
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && !da.Expiry.IsZero() && time.Now().After(da.Expiry) {
			return nil, fmt.Errorf("%s: the user code expired before it was entered: run `fetchd auth` again", op)
		}
		return nil, endpointError(op, err, da.DeviceCode, c.ClientSecret)
	}
	return tok, nil
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
