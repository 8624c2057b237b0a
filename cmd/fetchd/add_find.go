package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"fetchd/internal/discover"
)

// findServer fills in p.candidates and p.oauth2: from --server, from
// --provider, from fetchd's preset for the domain, from SRV records, or
// from the user.
func (a *adder) findServer(ctx context.Context, p *addPlan) error {
	if a.tls != "" && a.server == "" {
		return addUsageErr("--tls goes with --server: a server found otherwise comes with its TLS mode")
	}
	var preset *discover.Preset
	if a.provider != "" {
		pr, ok := discover.PresetByKey(a.provider)
		if !ok || pr.Host == "" {
			return addUsageErr("--provider %q: fetchd knows %s", a.provider, strings.Join(discover.PresetKeys(), ", "))
		}
		preset = &pr
	} else if pr, ok := discover.LookupPreset(p.domain); ok && a.server == "" {
		if pr.Host == "" {
			return addFailed("%s: %s", p.domain, pr.Note)
		}
		preset = &pr
	}
	if preset != nil {
		if err := a.usePreset(p, preset); err != nil {
			return err
		}
	}
	switch {
	case a.server != "":
		s, err := parseServer(a.server, a.tls, "--server")
		if err != nil {
			return addUsageErr("--server: %v", err)
		}
		p.candidates = []discover.Server{s}
		return nil
	case preset != nil:
		p.candidates = []discover.Server{preset.Server()}
		return nil
	}
	srvs, err := discover.LookupSRV(ctx, a.resolver, p.domain, a.intn)
	switch {
	case errors.Is(err, discover.ErrNotOffered):
		fmt.Fprintf(a.stderr, "fetchd add: %s: %v\n", p.domain, err)
	case err != nil:
		fmt.Fprintf(a.stderr, "fetchd add: %v\n", err)
	}
	if len(srvs) > 0 {
		if err := a.confirmOutside(ctx, p.domain, srvs); err != nil {
			return err
		}
		p.candidates = srvs
		return nil
	}
	if a.ask == nil {
		return addUsageErr("found no POP3 server for %s: fetchd has no settings for that domain and found no SRV records "+
			"(_pop3s._tcp, _pop3._tcp) for it; give the server with --server HOST[:PORT]", p.domain)
	}
	line, err := a.ask.Line(ctx, fmt.Sprintf("POP3 server for %s (host or host:port; your provider's help pages name it): ", p.domain))
	if err != nil {
		return addUsageErr("%v", err)
	}
	s, err := parseServer(strings.TrimSpace(line), "", "your answer")
	if err != nil {
		return addUsageErr("%v", err)
	}
	p.candidates = []discover.Server{s}
	return nil
}

// usePreset takes the preset's OAuth2 provider unless --app-password says
// to log in with a password, and prints what the user must do first.
func (a *adder) usePreset(p *addPlan, pr *discover.Preset) error {
	switch {
	case pr.OAuth2Only && a.appPassword:
		return addUsageErr("%s takes OAuth2 only, no password: leave out --app-password", pr.Name)
	case pr.OAuth2 != "" && !a.appPassword:
		p.oauth2 = pr.OAuth2
	}
	if pr.Note != "" {
		fmt.Fprintf(a.stderr, "%s: %s\n", pr.Name, pr.Note)
	}
	return nil
}

// parseServer reads a HOST[:PORT] the user gave. Without a port or a tls
// mode: port 110 means STLS, anything else implicit TLS on 995.
func parseServer(s, tls, via string) (discover.Server, error) {
	host, port, err := discover.ParseHostPort(s)
	if err != nil {
		return discover.Server{}, err
	}
	switch {
	case tls == "" && port == 110:
		tls = discover.TLSStartTLS
	case tls == "":
		tls = discover.TLSImplicit
	case tls != discover.TLSImplicit && tls != discover.TLSStartTLS:
		return discover.Server{}, fmt.Errorf("--tls must be %q or %q (fetchd add never writes an account without TLS; "+
			"edit the configuration for tls = \"none\")", discover.TLSImplicit, discover.TLSStartTLS)
	}
	if port == 0 {
		port = 995
		if tls == discover.TLSStartTLS {
			port = 110
		}
	}
	return discover.Server{Host: host, Port: port, TLS: tls, Via: via}, nil
}

// confirmOutside asks before using SRV targets outside domain (RFC 6186
// §6): an unauthenticated DNS answer must not be enough to send a password
// to another party's server.
func (a *adder) confirmOutside(ctx context.Context, domain string, srvs []discover.Server) error {
	var outside []string
	for _, s := range srvs {
		if !discover.Within(s.Host, domain) {
			outside = append(outside, net.JoinHostPort(s.Host, fmt.Sprint(s.Port)))
		}
	}
	if len(outside) == 0 {
		return nil
	}
	warning := fmt.Sprintf("the SRV records of %s point outside that domain, to %s; DNS answers are not authenticated, "+
		"so a forged one could send your password to someone else's server", domain, strings.Join(outside, ", "))
	switch {
	case a.yes:
		fmt.Fprintf(a.stderr, "fetchd add: %s: using it as --yes says\n", warning)
		return nil
	case a.ask == nil:
		return addUsageErr("%s: confirm on a terminal, pass --yes if you trust it, or give the server with --server", warning)
	}
	fmt.Fprintf(a.stderr, "%s.\n", warning)
	ok, err := askYesNo(ctx, a.ask, "Use it?")
	if err != nil {
		return addUsageErr("%v", err)
	}
	if !ok {
		return addUsageErr("not confirmed: give the server with --server HOST[:PORT]")
	}
	return nil
}
