package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"
)

// Client is an OAuth2 client registration and its provider's endpoints.
// ClientSecret may be empty (a public client, as Microsoft registers
// desktop apps).
type Client struct {
	ClientID, ClientSecret, AuthURL, TokenURL, DeviceAuthURL string
	Scopes                                                   []string
}

// ErrConsentNeeded means no token is stored for the account, or the
// authorization server refused its refresh token (revoked, expired, the
// password changed): only the user can fix that, by consenting again.
var ErrConsentNeeded = errors.New("OAuth2 consent needed: run `fetchd auth ACCOUNT` again")

// consentCodes are the RFC 6749 §5.2 error codes of a token endpoint that
// mean the refresh token no longer works. QUIRK: Microsoft answers a refresh
// that needs the user (MFA, conditional access) with interaction_required
// or consent_required, OpenID Connect codes, instead of invalid_grant.
var consentCodes = map[string]bool{
	"invalid_grant":        true,
	"interaction_required": true,
	"consent_required":     true,
	"login_required":       true,
}

// defaultHTTPClient bounds a token request when the caller gave no client.
var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

func (c Client) config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:       c.AuthURL,
			TokenURL:      c.TokenURL,
			DeviceAuthURL: c.DeviceAuthURL,
			AuthStyle:     oauth2.AuthStyleAutoDetect,
		},
		RedirectURL: redirectURL,
		Scopes:      c.Scopes,
	}
}

// withHTTPClient is how x/oauth2 takes its HTTP client.
func withHTTPClient(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		hc = defaultHTTPClient
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// endpointError turns an x/oauth2 error into ours. A token endpoint's
// refusal keeps only its error code and description — never
// RetrieveError.Error(), which quotes the response body — and has any of
// secrets blanked out of the description in case a server echoes one. Any
// other error (network, parse) is wrapped as it is: x/oauth2 puts no
// credential in those.
func endpointError(op string, err error, secrets ...string) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var msg string
	switch {
	case re.ErrorCode != "":
		msg = re.ErrorCode
		if d := clean(re.ErrorDescription, secrets); d != "" {
			msg += fmt.Sprintf(" %q", d)
		}
	case re.Response != nil:
		msg = "HTTP " + re.Response.Status
	default:
		msg = "no error code"
	}
	return &RefusedError{Op: op, Code: re.ErrorCode, Msg: msg}
}

// RefusedError is an authorization server's refusal (RFC 6749 §5.2,
// RFC 8628 §3.5). Code is the OAuth error code, empty when the server sent
// none (an HTTP error without an OAuth body). Is(ErrConsentNeeded) holds
// when the refused grant can only be renewed by the user.
type RefusedError struct {
	Op, Code string
	Msg      string // code and description
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("%s: the authorization server refused: %s", e.Op, e.Msg)
	if e.consent() {
		s += ": " + ErrConsentNeeded.Error()
	}
	return s
}

func (e *RefusedError) consent() bool {
	return e.Op == opRefresh && consentCodes[e.Code]
}

// Is lets errors.Is(err, ErrConsentNeeded) hold for a refused refresh token.
func (e *RefusedError) Is(target error) bool {
	return target == ErrConsentNeeded && e.consent()
}

// clean bounds a server-chosen description, drops control characters and
// blanks out any secret it contains.
func clean(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return strings.TrimSpace(s)
}
