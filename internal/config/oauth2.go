package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
)

// OAuth2 is an account's [account.oauth2] table, or the [defaults.oauth2]
// table it inherits: how `fetchd auth` signs in and how fetchd refreshes the
// access token it sends with auth "xoauth2" or "oauthbearer". The refresh
// token lives in fetchd's token store, never in the configuration. Loading
// fills in the provider's preset for every key left out.
type OAuth2 struct {
	Provider         string // ProviderGoogle, ProviderMicrosoft, or "" for another provider
	ClientID         string
	ClientSecret     string // inline secret; never printed by String
	ClientSecretFile string // absolute path, "~/" expanded; at most one of the two is set
	AuthURL          string
	TokenURL         string
	DeviceAuthURL    string // set whenever Flow is FlowDevice
	Scopes           []string
	Flow             string // FlowLoopback or FlowDevice

	account string // the account's name, for Secret's messages
}

// Providers, flows and the presets a provider fills in.
const (
	ProviderGoogle    = "google"
	ProviderMicrosoft = "microsoft"

	// FlowLoopback is the authorization code flow with a redirect to a
	// listener on 127.0.0.1 (RFC 8252 §7.3); FlowDevice is the device
	// authorization grant (RFC 8628).
	FlowLoopback = "loopback"
	FlowDevice   = "device"

	GoogleAuthURL  = "https://accounts.google.com/o/oauth2/auth"
	GoogleTokenURL = "https://oauth2.googleapis.com/token"
	GoogleScope    = "https://mail.google.com/"
	GoogleFlow     = FlowLoopback

	MicrosoftAuthURL       = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
	MicrosoftTokenURL      = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
	MicrosoftDeviceAuthURL = "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
	MicrosoftScopePOP      = "https://outlook.office.com/POP.AccessAsUser.All"
	MicrosoftScopeOffline  = "offline_access" // without it there is no refresh token
	MicrosoftFlow          = FlowDevice
)

// OAuth2Preset returns what provider fills in (a fresh copy), or false for a
// provider fetchd has no preset for.
func OAuth2Preset(provider string) (OAuth2, bool) {
	switch provider {
	case ProviderGoogle:
		return OAuth2{Provider: provider, AuthURL: GoogleAuthURL, TokenURL: GoogleTokenURL,
			Scopes: []string{GoogleScope}, Flow: GoogleFlow}, true
	case ProviderMicrosoft:
		return OAuth2{Provider: provider, AuthURL: MicrosoftAuthURL, TokenURL: MicrosoftTokenURL,
			DeviceAuthURL: MicrosoftDeviceAuthURL, Scopes: []string{MicrosoftScopePOP, MicrosoftScopeOffline},
			Flow: MicrosoftFlow}, true
	}
	return OAuth2{}, false
}

// String names the provider for logs and `fetchd check`: "google",
// "microsoft", or "custom". It has a value receiver so that printing an
// OAuth2 with %v or %+v cannot show ClientSecret.
func (o OAuth2) String() string {
	if o.Provider == "" {
		return "custom"
	}
	return o.Provider
}

// GoString keeps %#v from printing ClientSecret.
func (o OAuth2) GoString() string { return "config.OAuth2{" + o.String() + "}" }

// Secret returns the client secret: client_secret, or the contents of
// client_secret_file minus one trailing newline; "" when the client has
// none (public clients, as Microsoft's are). The file is refused when group
// or others may read it. Errors never include the secret.
func (o *OAuth2) Secret() (string, error) {
	if o.ClientSecretFile == "" {
		return o.ClientSecret, nil
	}
	p := o.ClientSecretFile
	label := "oauth2: client_secret_file " + p
	if o.account != "" {
		label = accountLabel(o.account) + ": " + label
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: does not exist: write the client secret into it and run chmod 600 %s", label, p)
		}
		return "", fmt.Errorf("%s: %w", label, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	if msg := exposedSecret(p, fi.Mode(), "a client secret"); msg != "" {
		return "", fmt.Errorf("%s: %s", label, msg)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretLen+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	s := trimLineEnd(string(data))
	switch {
	case len(data) > maxSecretLen:
		return "", fmt.Errorf("%s: larger than %d KiB: it must hold only the client secret", label, maxSecretLen>>10)
	case s == "":
		return "", fmt.Errorf("%s: is empty: write the client secret into it, or remove client_secret_file if the client has none", label)
	case strings.ContainsAny(s, "\r\n\x00"):
		return "", fmt.Errorf("%s: holds more than one line: it must hold only the client secret", label)
	}
	return s, nil
}

// oauth2Fields are the keys of an [account.oauth2] or [defaults.oauth2] table.
var oauth2Fields = []field[OAuth2]{
	{key: "provider", kind: kindString, check: checkProvider, ptr: func(o *OAuth2) any { return &o.Provider }},
	{key: "client_id", kind: kindString, check: checkClientID, ptr: func(o *OAuth2) any { return &o.ClientID }},
	{key: "client_secret", kind: kindString, group: "client_secret", secret: true, check: checkPassword, ptr: func(o *OAuth2) any { return &o.ClientSecret }},
	{key: "client_secret_file", kind: kindPath, group: "client_secret", ptr: func(o *OAuth2) any { return &o.ClientSecretFile }},
	{key: "auth_url", kind: kindString, check: checkOAuthURL, ptr: func(o *OAuth2) any { return &o.AuthURL }},
	{key: "token_url", kind: kindString, check: checkOAuthURL, ptr: func(o *OAuth2) any { return &o.TokenURL }},
	{key: "device_auth_url", kind: kindString, check: checkOAuthURL, ptr: func(o *OAuth2) any { return &o.DeviceAuthURL }},
	{key: "scopes", kind: kindStringList, check: checkScopes, ptr: func(o *OAuth2) any { return &o.Scopes }},
	{key: "flow", kind: kindEnum, enum: []string{FlowLoopback, FlowDevice}, ptr: func(o *OAuth2) any { return &o.Flow }},
}

// oauth2Table is the outcome of decoding one oauth2 table.
type oauth2Table struct {
	o   *OAuth2 // nil when there is no table or it is invalid (already reported)
	set bool    // a table was given, valid or not
}

// oauth2 decodes the oauth2 table of an account or of [defaults] at w, fills
// in the provider's preset and checks the rules between its keys.
func (d *decoder) oauth2(w where, raw any) oauth2Table {
	header := "[" + w.path + "." + keyOAuth2 + "]"
	m, ok := raw.(map[string]any)
	if !ok {
		d.add(w, keyOAuth2, "must be a single table: write "+header+` with provider = "google" and client_id = "…" under it`)
		return oauth2Table{set: true}
	}
	ow := w
	ow.inst = w.inst + "." + keyOAuth2
	ow.path = w.path + "." + keyOAuth2
	ow.entry = keyOAuth2
	before := len(d.problems)
	vals, bad := decodeTable(d, ow, oauth2Fields, m, nil, hintOAuth2)
	set := func(key string) bool { _, ok := vals[key]; return ok || bad[key] }
	o := &OAuth2{}
	apply(o, oauth2Fields, vals)

	if !set("client_id") {
		d.add(ow, "client_id", "required: set the client ID of the app you registered with the provider")
	}
	if set("client_secret") && set("client_secret_file") {
		d.add(ow, "client_secret_file", "conflicts with client_secret: set at most one of client_secret, client_secret_file")
	}
	preset, known := OAuth2Preset(o.Provider)
	if !known && !bad["provider"] {
		for _, k := range []string{"auth_url", "token_url"} {
			if !set(k) {
				d.add(ow, k, `required without a provider: set provider = "google" or "microsoft", or give auth_url and token_url`)
			}
		}
		preset.Flow = FlowLoopback
	}
	if !set("auth_url") {
		o.AuthURL = preset.AuthURL
	}
	if !set("token_url") {
		o.TokenURL = preset.TokenURL
	}
	if !set("device_auth_url") {
		o.DeviceAuthURL = preset.DeviceAuthURL
	}
	if !set("scopes") {
		o.Scopes = preset.Scopes
	}
	if !set("flow") {
		o.Flow = preset.Flow
	}
	switch {
	case o.Flow != FlowDevice:
	case o.Provider == ProviderGoogle:
		d.add(ow, "flow", `"device" does not work with Google, whose device flow does not allow the mail scope `+
			`(`+GoogleScope+`): leave flow out to use "loopback"`)
	case o.DeviceAuthURL == "" && !set("device_auth_url"):
		d.add(ow, "device_auth_url", `required with flow = "device": set the provider's device authorization endpoint, or use flow = "loopback"`)
	}
	if len(d.problems) > before {
		return oauth2Table{set: true}
	}
	return oauth2Table{o: o, set: true}
}

// checkOAuth2Account checks an account that has or inherits an oauth2 table
// (valid or not): auth must send the token, and no password source may be
// set, since the token comes from fetchd's token store. It runs after auth
// "auto" became "xoauth2".
func (d *decoder) checkOAuth2Account(w where, a *Account, present map[string]bool, inherited bool) {
	table := "its [account.oauth2] table"
	if inherited {
		table = "the [defaults.oauth2] table it inherits"
	}
	if a.Auth != "xoauth2" && a.Auth != "oauthbearer" {
		d.add(w, "auth", fmt.Sprintf(`%s sends no OAuth2 token, but the account has %s: `+
			`set auth = "xoauth2" or "oauthbearer" (or leave auth out for "xoauth2"), or remove the table`, quote(a.Auth), table))
	}
	for _, k := range sourceKeys() {
		if present[k] {
			d.add(w, k, fmt.Sprintf("conflicts with %s: an OAuth2 account's access token comes from fetchd's token store "+
				"(run `fetchd auth %s` once), not from a password source: remove %s", table, a.Name, k))
		}
	}
}

func checkProvider(v any) string {
	if s := v.(string); s != ProviderGoogle && s != ProviderMicrosoft {
		return `must be "google" or "microsoft" (for another provider leave it out and set auth_url and token_url), got ` + quote(s)
	}
	return ""
}

func checkClientID(v any) string {
	s := v.(string)
	if strings.TrimSpace(s) == "" {
		return "must not be empty: set the client ID of the app you registered with the provider"
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "must not contain line breaks or NUL characters"
	}
	return ""
}

// checkOAuthURL accepts an absolute https URL, or an http URL to the loopback
// interface (a local test server): the endpoints receive the client secret
// and hand out tokens.
func checkOAuthURL(v any) string {
	s := v.(string)
	if s == "" {
		return "must not be empty: leave it out to use the provider's"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "must be a URL like https://login.example.com/oauth2/token, got " + quote(s)
	case u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return "must be an absolute URL like https://login.example.com/oauth2/token, got " + quote(s)
	case u.User != nil:
		return "must not contain a user name or password, got " + quote(u.Redacted())
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return "must use https: tokens and the client secret must not cross the network in cleartext " +
			"(http is allowed only to localhost, 127.0.0.1 or [::1]), got " + quote(s)
	}
	return "must be an https URL, got " + quote(s)
}

// checkScopes: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ),
// and the scope parameter joins them with spaces.
func checkScopes(v any) string {
	for i, s := range v.([]string) {
		if s == "" {
			return fmt.Sprintf("element %d is empty", i+1)
		}
		for j := 0; j < len(s); j++ {
			if c := s[j]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
				return fmt.Sprintf("element %d: %s is not one scope (no spaces, quotes or backslashes): "+
					`list each scope as its own string, as in ["a", "b"]`, i+1, quote(s))
			}
		}
	}
	return ""
}

func hintOAuth2(key string) string {
	switch {
	case hasKey(accountFields, key):
		return "keys after an oauth2 table's header belong to that table: move account keys above it"
	case key == keyDeliver || hasKey(deliverFields, key):
		return "delivery targets go in an [[account.deliver]] table"
	}
	return ""
}

// sameOAuth2 reports whether a and b are the same configuration.
func sameOAuth2(a, b *OAuth2) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Provider == b.Provider && a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret &&
		a.ClientSecretFile == b.ClientSecretFile && a.AuthURL == b.AuthURL && a.TokenURL == b.TokenURL &&
		a.DeviceAuthURL == b.DeviceAuthURL && a.Flow == b.Flow && slices.Equal(a.Scopes, b.Scopes)
}
