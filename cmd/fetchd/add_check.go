package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/BurntSushi/toml"

	"fetchd/internal/discover"
	"fetchd/internal/pop3"
)

// addCheckTimeout bounds each server reply during the check.
const addCheckTimeout = 30 * time.Second

// check connects to the candidates in order, as `fetchd doctor` does, until
// one accepts a session, and logs in there with the password (an OAuth2
// account cannot log in before `fetchd auth`: its check stops at the
// capabilities). A refused connection moves on to the next candidate (RFC
// 2782: try the targets in order); a refused login stops, since every
// target serves the same mailbox.
func (a *adder) check(ctx context.Context, p *addPlan) error {
	if a.noCheck {
		p.server = p.candidates[0]
		fmt.Fprintf(a.stdout, "not checked (--no-check): %s\n", describeServer(p.server))
		return nil
	}
	auth := "auto"
	var secret func(context.Context) (string, error)
	if p.oauth2 != "" {
		auth = "xoauth2"
	} else {
		pw := p.password
		secret = func(context.Context) (string, error) { return pw, nil }
	}
	for i, s := range p.candidates {
		fmt.Fprintf(a.stdout, "checking %s\n", describeServer(s))
		cfg := pop3.Config{Addr: net.JoinHostPort(s.Host, fmt.Sprint(s.Port)), TLS: tlsMode(s.TLS), Timeout: addCheckTimeout}
		cfg.DialContext = a.dial
		if a.rootCAs != nil {
			cfg.TLSConfig = &tls.Config{RootCAs: a.rootCAs}
		}
		connected, err := checkSession(ctx, a.stdout, cfg, p.user, auth, secret)
		switch {
		case err == nil:
			p.server = s
			if p.oauth2 != "" {
				fmt.Fprintf(a.stdout, "login: after fetchd has a token (`fetchd auth %s`)\n", p.name)
			}
			return nil
		case !connected && i+1 < len(p.candidates):
			fmt.Fprintln(a.stdout, "trying the next server the SRV records list")
		default:
			return addFailed("the check failed (above): nothing written. Fix what it says, or add --no-check " +
				"to write the account anyway and look again with `fetchd doctor`")
		}
	}
	return nil // not reached: the last candidate returns
}

// describeServer names a candidate for the user: where, how, and whence.
func describeServer(s discover.Server) string {
	return fmt.Sprintf("%s (tls %s, from %s)", net.JoinHostPort(s.Host, fmt.Sprint(s.Port)), s.TLS, s.Via)
}

// accountTOML is the [[account]] add writes; the keys left out take the
// defaults `fetchd check` documents, or [defaults].
type accountTOML struct {
	Name         string        `toml:"name"`
	Server       string        `toml:"server"`
	Port         int           `toml:"port"`
	TLS          string        `toml:"tls"`
	User         string        `toml:"user"`
	PasswordFile string        `toml:"password_file,omitempty"`
	Keep         bool          `toml:"keep,omitempty"`
	OAuth2       *oauth2TOML   `toml:"oauth2,omitempty"`
	Deliver      []deliverTOML `toml:"deliver,omitempty"`
}

type oauth2TOML struct {
	Provider         string `toml:"provider"`
	ClientID         string `toml:"client_id"`
	ClientSecretFile string `toml:"client_secret_file,omitempty"`
}

type deliverTOML struct {
	Maildir string `toml:"maildir"`
}

// entry renders the account as TOML, after a comment line. The encoder,
// not string formatting, quotes the values: a user name may hold any
// character.
func (a *adder) entry(p *addPlan, cf *configFile, files []secretFile) ([]byte, error) {
	acct := accountTOML{Name: p.name, Server: p.server.Host, Port: p.server.Port, TLS: p.server.TLS,
		User: p.user, PasswordFile: p.passwordFile, Keep: a.keep}
	for _, f := range files {
		if f.what == "password" {
			acct.PasswordFile = f.path
		}
	}
	if p.oauth2 != "" {
		acct.OAuth2 = &oauth2TOML{Provider: p.oauth2, ClientID: p.clientID, ClientSecretFile: p.clientSecretFile}
		for _, f := range files {
			if f.what == "client secret" {
				acct.OAuth2.ClientSecretFile = f.path
			}
		}
	}
	switch {
	case a.maildir != "":
		acct.Deliver = []deliverTOML{{Maildir: a.maildir}}
	case !cf.defaultDeliver:
		acct.Deliver = []deliverTOML{{Maildir: "~/Maildir"}}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s, added by `fetchd add` on %s (server from %s)\n", p.address, time.Now().Format(time.DateOnly), p.server.Via)
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(struct {
		Account []accountTOML `toml:"account"`
	}{[]accountTOML{acct}}); err != nil {
		return nil, fmt.Errorf("encoding the account: %w", err)
	}
	return buf.Bytes(), nil
}
