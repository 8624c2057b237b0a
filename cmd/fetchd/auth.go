package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"

	"fetchd/internal/config"
	"fetchd/internal/oauth"
)

// authTimeout bounds how long `fetchd auth` waits for the user to consent.
const authTimeout = 10 * time.Minute

// tokenStore is where the daemon and `fetchd auth` keep OAuth2 tokens: plain
// files beside the state database, so `fetchd auth` works while a daemon
// holds the database's lock.
func tokenStore(cfg *config.Config) *oauth.Store {
	return oauth.NewStore(filepath.Join(filepath.Dir(cfg.State), "oauth"))
}

// oauthClient is the account's OAuth2 client registration.
func oauthClient(o *config.OAuth2) (oauth.Client, error) {
	secret, err := o.Secret()
	if err != nil {
		return oauth.Client{}, err
	}
	return oauth.Client{
		ClientID:      o.ClientID,
		ClientSecret:  secret,
		AuthURL:       o.AuthURL,
		TokenURL:      o.TokenURL,
		DeviceAuthURL: o.DeviceAuthURL,
		Scopes:        o.Scopes,
	}, nil
}

// runAuth is `fetchd auth [-c FILE] [--flow loopback|device] ACCOUNT`: the
// user consents in a browser once, and the refresh token fetchd gets for
// it goes into the token store, from which polls refresh access tokens.
func runAuth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var path, flow string
	fs := newFlagSet("auth", stderr, &path)
	fs.StringVar(&flow, "flow", "", "the `mode`: loopback (browser redirect to this machine) or device (code entered on any device); default: the account's oauth2 flow")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "fetchd auth: name one account")
		return exitUsage
	}
	if flow != "" && flow != config.FlowLoopback && flow != config.FlowDevice {
		fmt.Fprintf(stderr, "fetchd auth: --flow must be %q or %q, got %q\n", config.FlowLoopback, config.FlowDevice, flow)
		return exitUsage
	}
	cfg, a, ok := loadAccount("auth", path, fs.Arg(0), stderr)
	if !ok {
		return exitUsage
	}
	if a.OAuth2 == nil {
		fmt.Fprintf(stderr, "fetchd auth: account %q has no [account.oauth2] table: fetchd auth is for OAuth2 accounts; "+
			"add one with provider = \"google\" or \"microsoft\" and your client_id\n", a.Name)
		return exitUsage
	}
	client, err := oauthClient(a.OAuth2)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd auth: %v\n", err)
		return exitUsage
	}
	if flow == "" {
		flow = a.OAuth2.Flow
	}

	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	var tok *oauth2.Token
	switch flow {
	case config.FlowDevice:
		tok, err = oauth.Device(ctx, client, func(uri, code string) {
			fmt.Fprintf(stdout, "To let fetchd read %s, open\n\n    %s\n\nand enter the code\n\n    %s\n\nWaiting (up to %v)…\n", a.Name, uri, code, authTimeout)
		}, hc)
	default:
		tok, err = oauth.Loopback(ctx, client, func(url string) {
			fmt.Fprintf(stdout, "To let fetchd read %s, open this URL in a browser on this machine:\n\n    %s\n\nWaiting (up to %v)…\n", a.Name, url, authTimeout)
		}, hc)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fetchd auth: account %q: %v\n", a.Name, err)
		return exitFailed
	}
	if tok.RefreshToken == "" {
		// Without one, the account stops working when this access token
		// expires, within the hour: better to say so now.
		fmt.Fprintf(stderr, "fetchd auth: account %q: the provider returned no refresh token, so fetchd could not renew access "+
			"(Microsoft needs the offline_access scope): nothing stored\n", a.Name)
		return exitFailed
	}
	store := tokenStore(cfg)
	if err := store.Save(accountKey(a).String(), tok); err != nil {
		fmt.Fprintf(stderr, "fetchd auth: account %q: %v\n", a.Name, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "token stored; fetchd polls %s with it\n", a.Name)
	return exitOK
}
