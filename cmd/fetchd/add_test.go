package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fetchd/internal/config"
	"fetchd/internal/discover/dnstest"
	"fetchd/internal/pop3/pop3test"
)

// fakeSRV answers SRV lookups from a table keyed "_pop3s._tcp.example.com";
// a missing key is NXDOMAIN.
type fakeSRV map[string][]*net.SRV

func (f fakeSRV) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	if recs, ok := f[key]; ok {
		return key, recs, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
}

// fakeTTY is a terminal whose user gives the answers in turn.
type fakeTTY struct {
	answers []string
	asked   []string
}

func (f *fakeTTY) Line(_ context.Context, prompt string) (string, error) {
	f.asked = append(f.asked, prompt)
	if len(f.answers) == 0 {
		return "", errors.New("no more answers")
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a, nil
}

func (f *fakeTTY) Secret(ctx context.Context, prompt string) (string, error) {
	return f.Line(ctx, prompt)
}

// addWorld is a fake POP3 server that every name resolves to, a config
// path in a fresh directory, and an adder wired to both.
type addWorld struct {
	srv    *pop3test.Server
	dir    string
	config string
	out    bytes.Buffer
	errb   bytes.Buffer
	dialed []string
}

func newAddWorld(t *testing.T) *addWorld {
	t.Helper()
	w := &addWorld{srv: pop3test.NewServer(t), dir: t.TempDir()}
	w.srv.Mode = pop3test.ImplicitTLS
	w.srv.User, w.srv.Password = "me@example.com", "s3cret pass"
	w.srv.CertHosts = []string{"pop.example.com", "pop2.example.com", "mail.provider.net", "localhost"}
	w.srv.Start()
	w.config = filepath.Join(w.dir, "fetchd", "config.toml")
	return w
}

func (w *addWorld) adder(t *testing.T) *adder {
	return &adder{
		configPath: w.config, stdin: strings.NewReader("s3cret pass\n"), passwordStdin: true,
		stdout: &w.out, stderr: &w.errb, intn: func(int) int { return 0 }, rootCAs: w.srv.CertPool(),
		resolver: fakeSRV{},
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			w.dialed = append(w.dialed, addr)
			if strings.HasPrefix(addr, "down.") {
				return nil, errors.New("connection refused")
			}
			var d net.Dialer
			return d.DialContext(ctx, network, w.srv.Addr())
		},
		auth: func(context.Context, []string, io.Writer, io.Writer) int {
			t.Error("the OAuth2 flow ran")
			return exitFailed
		},
	}
}

// loadAccount loads the written config and returns its only account (or
// the one named).
func (w *addWorld) account(t *testing.T, name string) *config.Account {
	t.Helper()
	cfg, err := config.Load(w.config)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	a := cfg.Account(name)
	if a == nil {
		t.Fatalf("no account %q in %s", name, w.config)
	}
	return a
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// The whole way with no terminal: an SRV record inside the domain, the
// password on stdin, the login checked, a new config (0600 in a 0700
// directory) with the password in a 0600 file of its own.
func TestAdd_SRVInsideDomain(t *testing.T) {
	w := newAddWorld(t)
	a := w.adder(t)
	a.resolver = fakeSRV{"_pop3s._tcp.example.com": {{Target: "pop.example.com.", Port: 995}}}
	if code := a.run(context.Background(), "me@example.com"); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, w.errb.String())
	}
	acct := w.account(t, "example")
	if acct.Server != "pop.example.com" || acct.Port != 995 || acct.TLS != "implicit" || acct.User != "me@example.com" {
		t.Errorf("account %s:%d tls %s user %s, want pop.example.com:995 implicit me@example.com", acct.Server, acct.Port, acct.TLS, acct.User)
	}
	if len(acct.Deliver) != 1 || !strings.HasSuffix(acct.Deliver[0].Maildir, "/Maildir") {
		t.Errorf("deliver %+v, want ~/Maildir", acct.Deliver)
	}
	wantPW := filepath.Join(w.dir, "fetchd", "example.password")
	if acct.PasswordFile != wantPW {
		t.Errorf("password_file %q, want %q", acct.PasswordFile, wantPW)
	}
	if pw, err := acct.Secret(context.Background()); err != nil || pw != "s3cret pass" {
		t.Errorf("the password file gives %q, %v", pw, err)
	}
	for path, want := range map[string]os.FileMode{w.config: 0o600, wantPW: 0o600, filepath.Dir(w.config): 0o700} {
		if got := mode(t, path); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
	data, _ := os.ReadFile(w.config)
	if bytes.Contains(data, []byte("s3cret")) || strings.Contains(w.out.String()+w.errb.String(), "s3cret") {
		t.Errorf("the password appears in the config or the output")
	}
	if n := w.srv.Logins()["me@example.com"]; n != 1 {
		t.Errorf("%d logins during the check, want 1", n)
	}
	if !strings.Contains(w.out.String(), "deleted on the server once delivered (add --keep") {
		t.Errorf("the output does not say the account deletes delivered mail:\n%s", w.out.String())
	}
}

// RFC 6186 §6: a target outside the address's domain is used only when the
// user says so; without a terminal and without --yes nothing connects.
func TestAdd_SRVOutsideDomainNeedsConfirmation(t *testing.T) {
	tests := []struct {
		name     string
		yes      bool
		tty      *fakeTTY
		wantCode int
	}{
		{"no terminal, no --yes: refused", false, nil, exitUsage},
		{"--yes", true, nil, exitOK},
		{"confirmed on the terminal", false, &fakeTTY{answers: []string{"y", "s3cret pass"}}, exitOK},
		{"declined on the terminal", false, &fakeTTY{answers: []string{"N"}}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newAddWorld(t)
			a := w.adder(t)
			a.resolver = fakeSRV{"_pop3s._tcp.example.com": {{Target: "mail.provider.net.", Port: 995}}}
			a.yes = tt.yes
			if tt.tty != nil {
				a.ask, a.passwordStdin = tt.tty, false
			}
			code := a.run(context.Background(), "me@example.com")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, w.errb.String())
			}
			if !strings.Contains(w.errb.String(), "outside that domain, to mail.provider.net:995") {
				t.Errorf("stderr does not name the outside target:\n%s", w.errb.String())
			}
			_, statErr := os.Stat(w.config)
			if code != exitOK && (len(w.dialed) > 0 || statErr == nil) {
				t.Errorf("refused, yet dialed %q / wrote the config (stat: %v)", w.dialed, statErr)
			}
			if code == exitOK && w.account(t, "example").Server != "mail.provider.net" {
				t.Errorf("server %q", w.account(t, "example").Server)
			}
		})
	}
}

// Only _pop3._tcp published: STLS, written as tls = "starttls". A first
// target that refuses the connection gives way to the next (RFC 2782).
func TestAdd_POP3STLSAndNextTarget(t *testing.T) {
	w := newAddWorld(t)
	w.srv.Close()
	w.srv = pop3test.NewServer(t)
	w.srv.User, w.srv.Password, w.srv.OfferSTLS = "me@example.com", "s3cret pass", true
	w.srv.CertHosts = []string{"pop2.example.com"}
	w.srv.Start()
	a := w.adder(t)
	a.resolver = fakeSRV{"_pop3._tcp.example.com": {
		{Target: "down.example.com.", Port: 110, Priority: 1}, {Target: "pop2.example.com.", Port: 110, Priority: 2}}}
	if code := a.run(context.Background(), "me@example.com"); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, w.errb.String(), w.out.String())
	}
	if len(w.dialed) != 2 || w.dialed[0] != "down.example.com:110" {
		t.Errorf("dialed %q, want down.example.com:110 first, then pop2", w.dialed)
	}
	acct := w.account(t, "example")
	if acct.Server != "pop2.example.com" || acct.TLS != "starttls" || acct.Port != 110 {
		t.Errorf("account %s:%d tls %s, want pop2.example.com:110 starttls", acct.Server, acct.Port, acct.TLS)
	}
	if cmds := strings.Join(w.srv.Commands(), " "); !strings.Contains(cmds, "STLS") {
		t.Errorf("no STLS in %q", cmds)
	}
}

// A refused login writes nothing: no config, no password file.
func TestAdd_CheckFailsWritesNothing(t *testing.T) {
	w := newAddWorld(t)
	a := w.adder(t)
	a.server = "pop.example.com"
	a.stdin = strings.NewReader("wrong\n")
	if code := a.run(context.Background(), "me@example.com"); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(w.out.String(), "login: FAILED") || !strings.Contains(w.errb.String(), "nothing written") {
		t.Errorf("output does not say the login failed and nothing was written:\n%s\n%s", w.out.String(), w.errb.String())
	}
	if es, _ := os.ReadDir(w.dir); len(es) != 0 {
		t.Errorf("left behind: %v", es)
	}
}

// Appending keeps every byte of the existing file and its mode, and picks a
// free name; a file that would not validate stays exactly as it was.
func TestAdd_AppendsOrLeavesAlone(t *testing.T) {
	existing := "state = \"/tmp/x/state.db\"\n# my notes\n[[account]]\nname = \"example\"\nserver = \"pop.other.net\"\nuser = \"u\"\npassword_file = \"/tmp/pw\"\n[[account.deliver]]\nmaildir = \"/tmp/Maildir\""
	tests := []struct {
		name, content string
		wantCode      int
		wantName      string
	}{
		{"valid: appended under a free name", existing, exitOK, "me-example"},
		{"invalid: left alone", existing + "\nbogus_key = 1\n", exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newAddWorld(t)
			os.MkdirAll(filepath.Dir(w.config), 0o700)
			if err := os.WriteFile(w.config, []byte(tt.content), 0o640); err != nil {
				t.Fatal(err)
			}
			os.Chmod(w.config, 0o640)
			a := w.adder(t)
			a.server, a.maildir, a.keep = "pop.example.com:995", "/tmp/mine", true
			code := a.run(context.Background(), "me@example.com")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, w.errb.String())
			}
			data, _ := os.ReadFile(w.config)
			if !strings.HasPrefix(string(data), tt.content) {
				t.Errorf("the existing content changed:\n%s", data)
			}
			if got := mode(t, w.config); got != 0o640 {
				t.Errorf("mode %04o, want the original 0640", got)
			}
			if code != exitOK {
				if string(data) != tt.content || !strings.Contains(w.errb.String(), "bogus_key") {
					t.Errorf("invalid case: file %q, stderr %q", data, w.errb.String())
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(w.config), "me-example.password")); err == nil {
					t.Error("a password file was left behind")
				}
				return
			}
			acct := w.account(t, tt.wantName)
			if !acct.Keep || acct.Deliver[0].Maildir != "/tmp/mine" {
				t.Errorf("keep %t, deliver %+v", acct.Keep, acct.Deliver)
			}
		})
	}
}

// Presets: Gmail writes an [account.oauth2] table and no password; without
// a terminal it says to run `fetchd auth`; Outlook.com refuses passwords;
// iCloud has no POP3.
func TestAdd_Presets(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "client-secret")
	os.WriteFile(secret, []byte("cs\n"), 0o600)
	tests := []struct {
		name, addr string
		flags      func(a *adder)
		wantCode   int
		wantOut    string
	}{
		{"gmail with OAuth2", "me@gmail.com", func(a *adder) { a.clientID, a.clientSecretFile, a.passwordStdin = "id.apps", secret, false },
			exitOK, "fetchd auth gmail"},
		{"gmail without the client secret", "me@gmail.com", func(a *adder) { a.clientID, a.passwordStdin = "id.apps", false },
			exitUsage, "--client-secret-file"},
		{"outlook refuses a password", "me@outlook.com", func(a *adder) { a.appPassword = true }, exitUsage, "OAuth2 only"},
		{"icloud has no POP3", "me@icloud.com", func(*adder) {}, exitFailed, "no POP3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newAddWorld(t)
			a := w.adder(t)
			a.noCheck = true
			tt.flags(a)
			code := a.run(context.Background(), tt.addr)
			if out := w.out.String() + w.errb.String(); code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Fatalf("exit %d, want %d and %q in:\n%s", code, tt.wantCode, tt.wantOut, out)
			}
			if code != exitOK {
				return
			}
			acct := w.account(t, "gmail")
			if acct.OAuth2 == nil || acct.OAuth2.Provider != "google" || acct.OAuth2.ClientID != "id.apps" ||
				acct.OAuth2.ClientSecretFile != secret || acct.PasswordFile != "" || acct.Server != "pop.gmail.com" {
				t.Errorf("account %+v, oauth2 %+v", acct, acct.OAuth2)
			}
		})
	}
}

// No preset, no SRV: without a terminal the error says --server; on a
// terminal the answer is used (port 110 meaning STLS).
func TestAdd_NoServerFound(t *testing.T) {
	w := newAddWorld(t)
	a := w.adder(t)
	a.noCheck = true
	if code := a.run(context.Background(), "me@example.com"); code != exitUsage || !strings.Contains(w.errb.String(), "--server HOST[:PORT]") {
		t.Fatalf("exit %d, stderr:\n%s", code, w.errb.String())
	}
	tty := &fakeTTY{answers: []string{"pop.example.com:110", "pw"}}
	a = w.adder(t)
	a.noCheck, a.ask, a.passwordStdin = true, tty, false
	if code := a.run(context.Background(), "me@example.com"); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, w.errb.String())
	}
	if acct := w.account(t, "example"); acct.TLS != "starttls" || acct.Port != 110 {
		t.Errorf("tls %s port %d, want starttls 110", acct.TLS, acct.Port)
	}
	if len(tty.asked) != 2 || !strings.Contains(tty.asked[0], "POP3 server for example.com") || !strings.HasPrefix(tty.asked[1], "Password for") {
		t.Errorf("asked %q", tty.asked)
	}
}

// The flags end to end through run: --dns-server reaches a DNS server on
// loopback, and --help works.
func TestAdd_CommandLine(t *testing.T) {
	code, out, errOut := runCLI("add", "--help")
	if code != exitOK || !strings.Contains(out+errOut, "dns-server") || !strings.Contains(out+errOut, "password-stdin") {
		t.Errorf("add --help: exit %d:\n%s%s", code, out, errOut)
	}
	dns := dnstest.NewServer(t, map[string][]net.SRV{"_pop3s._tcp.example.test": {{Target: "localhost.", Port: 1995}}}).Addr
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("x\n"), 0o600)
	cfgPath := filepath.Join(dir, "config.toml")
	code, out, errOut = runCLI("add", "-c", cfgPath, "--dns-server", dns, "--yes", "--no-check", "--password-file", pw, "me@example.test")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil || cfg.Account("example").Server != "localhost" || cfg.Account("example").Port != 1995 || cfg.Account("example").PasswordFile != pw {
		t.Fatalf("config %+v, %v", cfg, err)
	}
}

// An invalid existing configuration or --name stops add before it asks for
// or sends the password: found after the login, it would read as a problem
// of the new account.
func TestAdd_RefusesBeforeTheLogin(t *testing.T) {
	tests := []struct {
		name, existing, flagName, want string
	}{
		{"existing account invalid", "[[account]]\nname = \"old\"\nserver = \"pop.other.net\"\nuser = \"u\"\npassword_file = \"/tmp/pw\"\ntimeout = \"-5s\"\n[[account.deliver]]\nmaildir = \"/tmp/M\"\n",
			"", "fix the configuration first"},
		{"bad --name", "", "my work", "--name must only use letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newAddWorld(t)
			if tt.existing != "" {
				os.MkdirAll(filepath.Dir(w.config), 0o700)
				if err := os.WriteFile(w.config, []byte(tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			a := w.adder(t)
			a.server, a.name = "pop.example.com:995", tt.flagName
			if code := a.run(context.Background(), "me@example.com"); code != exitUsage || !strings.Contains(w.errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, w.errb.String(), exitUsage, tt.want)
			}
			if n := len(w.srv.Logins()); n != 0 {
				t.Errorf("%d logins before the refusal, want none", n)
			}
		})
	}
}

// A file with no account yet (a header, [defaults]) takes the first one.
func TestAdd_FirstAccountIntoAFileWithoutAccounts(t *testing.T) {
	w := newAddWorld(t)
	os.MkdirAll(filepath.Dir(w.config), 0o700)
	if err := os.WriteFile(w.config, []byte("log_level = \"debug\"\n\n[defaults]\ntrace_headers = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := w.adder(t)
	a.server, a.maildir = "pop.example.com:995", "/tmp/mine"
	if code := a.run(context.Background(), "me@example.com"); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, w.errb.String())
	}
	if acct := w.account(t, "example"); acct == nil || acct.TraceHeaders {
		t.Errorf("account %+v, want one that inherits trace_headers = false", acct)
	}
}
