package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strings"

	"fetchd/internal/discover"
)

// adder is one run of `fetchd add`: the flags, and the world it talks to
// (replaced in tests).
type adder struct {
	configPath, name, user, server, tls, provider string
	passwordFile, clientID, clientSecretFile      string
	maildir, dnsServer                            string
	passwordStdin, appPassword, keep, yes         bool
	noCheck                                       bool

	stdin          io.Reader
	stdout, stderr io.Writer
	ask            prompter // nil: no terminal, ask nothing
	resolver       discover.Resolver
	intn           func(int) int
	rootCAs        *x509.CertPool                                                    // nil: the system's roots (tests set it)
	dial           func(ctx context.Context, network, addr string) (net.Conn, error) // nil: a net.Dialer
	auth           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// runAdd is `fetchd add [flags] EMAIL`: it finds the address's POP3 server
// (a preset, RFC 6186 SRV records, --server, or a question), checks the
// login as `fetchd doctor` does, and appends a validated [[account]] to the
// configuration, the password in a 0600 file of its own. Its --help comes
// from the commands table in help.go.
func runAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &adder{stdin: os.Stdin, stdout: stdout, stderr: stderr, intn: randIntn, auth: runAuth}
	fs := newFlagSet("add", stderr, &a.configPath)
	a.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "fetchd add: give one email address (fetchd add --help shows how)")
		return exitUsage
	}
	a.ask = newPrompter(os.Stdin, stderr)
	a.resolver = net.DefaultResolver
	if a.dnsServer != "" {
		r, err := dnsResolver(a.dnsServer)
		if err != nil {
			fmt.Fprintf(stderr, "fetchd add: --dns-server: %v\n", err)
			return exitUsage
		}
		a.resolver = r
	}
	return a.run(ctx, fs.Arg(0))
}

func (a *adder) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.name, "name", "", "the account's `name` (default: from the address, e.g. \"example\")")
	fs.StringVar(&a.user, "user", "", "the login `name` (default: the whole address)")
	fs.StringVar(&a.server, "server", "", "use this POP3 server, `host[:port]`, instead of looking one up")
	fs.StringVar(&a.tls, "tls", "", "with --server, the TLS `mode`: implicit or starttls (default: starttls on port 110, else implicit)")
	fs.StringVar(&a.provider, "provider", "", "use fetchd's settings for this `provider` whatever the domain: "+strings.Join(discover.PresetKeys(), ", "))
	fs.StringVar(&a.passwordFile, "password-file", "", "read the password from this `file` (mode 0600) and refer to it in the configuration")
	fs.BoolVar(&a.passwordStdin, "password-stdin", false, "read the password from standard input (one line)")
	fs.BoolVar(&a.appPassword, "app-password", false, "log in with a password (an app password) where the provider also takes OAuth2 (Gmail)")
	fs.StringVar(&a.clientID, "client-id", "", "OAuth2 providers: the client `ID` of the app you registered")
	fs.StringVar(&a.clientSecretFile, "client-secret-file", "", "OAuth2 providers: a `file` (mode 0600) holding the client secret (Google needs one)")
	fs.StringVar(&a.maildir, "maildir", "", "deliver into this maildir `path` (default ~/Maildir, unless [[defaults.deliver]] exists)")
	fs.BoolVar(&a.keep, "keep", false, "keep the messages on the server (keep = true)")
	fs.BoolVar(&a.yes, "yes", false, "use a server found in DNS outside the address's domain without asking")
	fs.BoolVar(&a.noCheck, "no-check", false, "write the account without connecting to the server first")
	fs.StringVar(&a.dnsServer, "dns-server", "", "send the SRV queries to the DNS server at `host:port` instead of the system's resolver")
}

// dnsResolver is a resolver that sends every query to addr ("host" means
// port 53).
func dnsResolver(addr string) (*net.Resolver, error) {
	host, port, err := discover.ParseHostPort(addr)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = 53
	}
	target := net.JoinHostPort(host, fmt.Sprint(port))
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}}, nil
}

// randIntn is RFC 2782's random choice; crypto/rand keeps it out of
// math/rand's global state.
func randIntn(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}
