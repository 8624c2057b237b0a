package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"fetchd/internal/pop3"
)

// runDoctor is `fetchd doctor ACCOUNT`: what fetchd sees of an account's
// server — the certificate chain with fingerprints and expiry, the
// capabilities before and after TLS and after login, and the login method
// it would use — so that a user can fix a refused connection or pin a
// self-signed server. It logs in (to see the capabilities after login) and
// QUITs without touching a message.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var path string
	var noLogin bool
	fs := newFlagSet("doctor", stderr, &path)
	fs.BoolVar(&noLogin, "no-login", false, "stop before sending any credential")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "fetchd doctor: name one account")
		return exitUsage
	}
	cfg, a, ok := loadAccount("doctor", path, fs.Arg(0), stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	acct, err := buildAccount(a, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "fetchd doctor: account %q: %v\n", a.Name, err)
		return exitFailed
	}
	defer closeTargets(acct)

	fmt.Fprintf(stdout, "account %s: %s at %s, tls %s, auth %s\n", a.Name, a.User, a.Addr(), a.TLS, a.Auth)
	if a.TLS != "none" {
		probeTLS(ctx, stdout, acct.Server)
	}

	// The real connection, verified as a poll verifies it.
	fmt.Fprintln(stdout)
	var secret func(context.Context) (string, error)
	if !noLogin {
		secret = acct.Secret
	}
	if _, err := checkSession(ctx, stdout, acct.Server, a.User, a.Auth, secret); err != nil {
		return exitFailed
	}
	return exitOK
}

// checkSession connects as a poll does (certificate verified, STLS required
// where configured), prints the capabilities and the login method auth
// picks, and then, unless secret is nil, logs in, prints the capabilities
// after login and QUITs without touching a message. connected is false when
// no session came about (refused, TLS failed), so that a caller with another
// server to try may try it; err is what failed, already printed to w.
// Shared by `fetchd doctor` and `fetchd add`.
func checkSession(ctx context.Context, w io.Writer, cfg pop3.Config, user, auth string,
	secret func(context.Context) (string, error)) (connected bool, err error) {
	c, err := pop3.Dial(ctx, cfg)
	if err != nil {
		fmt.Fprintf(w, "connection as fetchd makes it: REFUSED: %v\n", withHintDoctor(err))
		return false, err
	}
	defer c.Close()
	fmt.Fprintln(w, "connection as fetchd makes it: ok")
	fmt.Fprintf(w, "capabilities: %s\n", capsLine(c.Capabilities()))
	method := authMethod(auth)
	fmt.Fprintf(w, "login method: %s (auth = %q)\n", c.AuthChoice(method), auth)
	if secret == nil {
		return true, nil
	}
	pw, err := secret(ctx)
	if err != nil {
		fmt.Fprintf(w, "password: %v\n", err)
		return true, err
	}
	if err := c.Login(ctx, user, pw, method); err != nil {
		fmt.Fprintf(w, "login: FAILED: %v\n", err)
		return true, err
	}
	fmt.Fprintln(w, "login: ok")
	if err := c.RefreshCapabilities(ctx); err == nil {
		fmt.Fprintf(w, "capabilities after login: %s\n", capsLine(c.Capabilities()))
	}
	if err := c.Quit(ctx); err != nil {
		fmt.Fprintf(w, "quit: %v\n", err)
	}
	return true, nil
}

func withHintDoctor(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func capsLine(caps pop3.Capabilities) string {
	if caps == nil {
		return "(the server does not answer CAPA)"
	}
	var out []string
	for name, args := range caps {
		out = append(out, strings.TrimSpace(name+" "+strings.Join(args, " ")))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// probeTLS connects once to show the server's certificates whatever their
// trust, and the capabilities before STLS. It never sends a credential:
// only CAPA and STLS go out before the handshake, and nothing after it.
func probeTLS(ctx context.Context, w io.Writer, cfg pop3.Config) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(w, "connect %s: %v\n", cfg.Addr, err)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	host, _, _ := net.SplitHostPort(cfg.Addr)
	if cfg.TLSConfig != nil && cfg.TLSConfig.ServerName != "" {
		host = cfg.TLSConfig.ServerName
	}
	if cfg.TLS == pop3.TLSStartTLS {
		br := bufio.NewReader(conn)
		greeting, _ := br.ReadString('\n')
		fmt.Fprintf(w, "greeting: %s\n", strings.TrimSpace(greeting))
		fmt.Fprint(conn, "CAPA\r\n")
		var caps []string
		for {
			line, err := br.ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			if err != nil || line == "." || strings.HasPrefix(line, "-ERR") {
				break
			}
			if !strings.HasPrefix(line, "+OK") {
				caps = append(caps, line)
			}
		}
		fmt.Fprintf(w, "capabilities before STLS: %s\n", strings.Join(caps, ", "))
		fmt.Fprint(conn, "STLS\r\n")
		reply, _ := br.ReadString('\n')
		if !strings.HasPrefix(reply, "+OK") {
			fmt.Fprintf(w, "STLS: %s\n", strings.TrimSpace(reply))
			return
		}
	}
	// Diagnosis only: the chain is shown and judged below, and this
	// connection carries nothing but the handshake.
	tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS10})
	if err := tc.HandshakeContext(ctx); err != nil {
		fmt.Fprintf(w, "TLS handshake: %v\n", err)
		return
	}
	st := tc.ConnectionState()
	fmt.Fprintf(w, "TLS: %s, %s, in %s\n", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), time.Since(start).Round(time.Millisecond))
	if st.Version < tls.VersionTLS12 {
		fmt.Fprintln(w, "  fetchd refuses this version: TLS 1.2 is the least it speaks (RFC 8996)")
	}
	now := time.Now()
	for i, cert := range st.PeerCertificates {
		fmt.Fprintf(w, "certificate %d: %s\n", i, cert.Subject)
		fmt.Fprintf(w, "  issuer:   %s\n", cert.Issuer)
		if len(cert.DNSNames)+len(cert.IPAddresses) > 0 {
			names := append([]string{}, cert.DNSNames...)
			for _, ip := range cert.IPAddresses {
				names = append(names, ip.String())
			}
			fmt.Fprintf(w, "  names:    %s\n", strings.Join(names, ", "))
		}
		left := cert.NotAfter.Sub(now)
		validity := fmt.Sprintf("%s to %s", cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))
		switch {
		case left < 0:
			validity += " (EXPIRED)"
		case left < 14*24*time.Hour:
			validity += fmt.Sprintf(" (expires in %d days)", int(left.Hours()/24))
		}
		fmt.Fprintf(w, "  valid:    %s\n", validity)
		fmt.Fprintf(w, "  tls_fingerprint = %q\n", pop3.CertFingerprint(cert.Raw))
		fmt.Fprintf(w, "  tls_pin_spki    = %q\n", pop3.SPKIPin(cert))
	}
	if len(st.PeerCertificates) > 0 {
		fmt.Fprintf(w, "verification against the trusted roots: %s\n", verifyChain(st.PeerCertificates, host, cfg.TLSConfig))
	}
}

// verifyChain says whether the chain verifies for host as a poll would
// check it without pins.
func verifyChain(chain []*x509.Certificate, host string, base *tls.Config) string {
	opts := x509.VerifyOptions{DNSName: host, Intermediates: x509.NewCertPool()}
	if base != nil && base.RootCAs != nil {
		opts.Roots = base.RootCAs
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return "FAILED: " + err.Error() + " (a pin — tls_fingerprint or tls_pin_spki above — lets exactly this server through)"
	}
	return "ok"
}
