package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"fetchd/internal/config"
)

// maxSecret bounds what --password-stdin reads: more is not a password.
const maxSecret = 64 << 10

// askPassword gets the password for the check and for the file it goes
// into: from --password-file (which the configuration then refers to),
// from standard input, or typed on the terminal without echo.
func (a *adder) askPassword(ctx context.Context, p *addPlan) error {
	switch {
	case a.passwordFile != "" && a.passwordStdin:
		return addUsageErr("give the password one way: --password-file or --password-stdin")
	case a.passwordFile != "":
		abs, err := filepath.Abs(a.passwordFile)
		if err != nil {
			return addUsageErr("--password-file: %v", err)
		}
		// The same reading (and mode check) as every poll will do.
		pw, err := (&config.Account{Name: p.name, PasswordFile: abs}).Secret(ctx)
		if err != nil {
			return addUsageErr("--password-file: %v", err)
		}
		p.password, p.passwordFile = pw, abs
		return nil
	case a.passwordStdin:
		data, err := io.ReadAll(io.LimitReader(a.stdin, maxSecret+1))
		if err != nil {
			return addUsageErr("--password-stdin: %v", err)
		}
		if len(data) > maxSecret {
			return addUsageErr("--password-stdin: more than %d KiB on standard input: give only the password", maxSecret>>10)
		}
		p.password = trimOneLineEnd(string(data))
	case a.ask != nil:
		pw, err := a.ask.Secret(ctx, fmt.Sprintf("Password for %s: ", p.user))
		if err != nil {
			return addUsageErr("%v", err)
		}
		p.password = pw
	default:
		return addUsageErr("no password: standard input is not a terminal to ask on; " +
			"give it with --password-file FILE or --password-stdin")
	}
	return checkTypedSecret("the password", p.password)
}

// askOAuth2 gets the client registration: the client ID, and for Google
// the client secret (its desktop clients have one; Microsoft's public
// clients have none).
func (a *adder) askOAuth2(ctx context.Context, p *addPlan) error {
	if a.passwordFile != "" || a.passwordStdin {
		return addUsageErr("this provider signs in with OAuth2, not a password: leave out --password-file and --password-stdin " +
			"(or add --app-password where the provider allows app passwords)")
	}
	p.clientID = strings.TrimSpace(a.clientID)
	if p.clientID == "" && a.ask != nil {
		line, err := a.ask.Line(ctx, "OAuth2 client ID of the app you registered (README, \"OAuth2\", says how): ")
		if err != nil {
			return addUsageErr("%v", err)
		}
		p.clientID = strings.TrimSpace(line)
	}
	if p.clientID == "" {
		return addUsageErr("OAuth2 needs the client ID of an app you registered with the provider: give it with --client-id " +
			"(the README's \"OAuth2\" section says how to register one)")
	}
	if err := checkTypedSecret("the client ID", p.clientID); err != nil {
		return err
	}
	if a.clientSecretFile != "" {
		abs, err := filepath.Abs(a.clientSecretFile)
		if err != nil {
			return addUsageErr("--client-secret-file: %v", err)
		}
		if _, err := (&config.OAuth2{ClientSecretFile: abs}).Secret(); err != nil {
			return addUsageErr("--client-secret-file: %v", err)
		}
		p.clientSecretFile = abs
		return nil
	}
	if p.oauth2 != config.ProviderGoogle {
		return nil
	}
	if a.ask == nil {
		return addUsageErr("Google's token endpoint needs the client secret too: give a file (mode 0600) holding it with --client-secret-file")
	}
	secret, err := a.ask.Secret(ctx, "OAuth2 client secret (shown next to the client ID): ")
	if err != nil {
		return addUsageErr("%v", err)
	}
	p.clientSecret = secret
	return checkTypedSecret("the client secret", secret)
}

// checkTypedSecret refuses an empty secret and one with a line break, which
// could not be sent in one protocol line.
func checkTypedSecret(what, s string) error {
	switch {
	case s == "":
		return addUsageErr("%s is empty", what)
	case strings.ContainsAny(s, "\r\n\x00"):
		return addUsageErr("%s contains a line break or NUL: give only the one line", what)
	}
	return nil
}

// trimOneLineEnd removes the line end that `echo` or an editor adds, and
// nothing else: trailing spaces may be part of a password.
func trimOneLineEnd(s string) string {
	if strings.HasSuffix(s, "\r\n") {
		return s[:len(s)-2]
	}
	return strings.TrimSuffix(s, "\n")
}

// secretFile is a file add writes a secret into.
type secretFile struct {
	what, path, content string
}

// secretFiles are the files this account's secrets go into, next to the
// configuration: NAME.password, or NAME.client-secret for a typed Google
// client secret. Secrets the user gave as files stay where they are.
func (a *adder) secretFiles(p *addPlan, dir string) []secretFile {
	var out []secretFile
	if p.oauth2 == "" && p.passwordFile == "" {
		out = append(out, secretFile{"password", filepath.Join(dir, p.name+".password"), p.password})
	}
	if p.clientSecret != "" {
		out = append(out, secretFile{"client secret", filepath.Join(dir, p.name+".client-secret"), p.clientSecret})
	}
	return out
}

// create writes the secret into a new file (config.WriteSecretFile).
func (f secretFile) create() error {
	if err := config.WriteSecretFile(f.path, f.content); err != nil {
		return fmt.Errorf("%s file: %w", f.what, err)
	}
	return nil
}
