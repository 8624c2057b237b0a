package importconfig

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fetchd/internal/config"
	"fetchd/internal/testcert"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testEnv is a fake home directory with the certificate files the
// fixtures name, and Options that describe it.
type testEnv struct {
	home    string
	secrets string
	opts    Options
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	home := t.TempDir()
	certs := filepath.Join(home, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	cert, _, err := testcert.New("pop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"ca.pem": certPEM, "client.pem": certPEM,
		"client.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(certs, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	homes := map[string]string{"jeff": "/home/jeff", "joe": "/home/joe", "sam": "/home/sam", "root": "/root"}
	return &testEnv{
		home:    home,
		secrets: filepath.Join(home, ".config", "fetchd"),
		opts: Options{
			Home:       home,
			LocalUser:  "me",
			Getenv:     func(k string) string { return map[string]string{"HOME": home}[k] },
			HomeOf:     func(u string) (string, bool) { h, ok := homes[u]; return h, ok },
			UserExists: func(u string) bool { return u == "root" || u == "me" },
			Now:        time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		},
	}
}

// copyIn copies fixtures into the fake home, so that paths relative to
// them and under ~ resolve there, and returns their new paths.
func (e *testEnv) copyIn(t *testing.T, fixtures ...string) []string {
	t.Helper()
	var out []string
	for _, f := range fixtures {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(e.home, filepath.Base(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func getmailFixtures(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob("testdata/getmail/getmailrc*")
	if err != nil || len(m) == 0 {
		t.Fatalf("no getmail fixtures: %v", err)
	}
	for i := range m {
		m[i] = strings.TrimPrefix(m[i], "testdata/")
	}
	return m
}

var goldenCases = []struct {
	name, program string
	files         []string
	wantLoadErr   string   // "" = config.Load accepts the output
	wantInHeader  []string // besides every note, which is always checked
}{
	{"fetchmail-manpage-basic", Fetchmail, []string{"fetchmail/manpage-basic.rc"}, "",
		[]string{"not imported: polls the same mailbox as", "protocol pop2 is not supported"}},
	{"fetchmail-manpage-noise", Fetchmail, []string{"fetchmail/manpage-noise.rc"}, "", nil},
	{"fetchmail-manpage-defaults", Fetchmail, []string{"fetchmail/manpage-defaults.rc"}, "", nil},
	{"fetchmail-manpage-multiuser", Fetchmail, []string{"fetchmail/manpage-multiuser.rc"}, "", nil},
	{"fetchmail-manpage-multidrop", Fetchmail, []string{"fetchmail/manpage-multidrop.rc"}, "",
		[]string{"multidrop", "IMAP is not supported yet", "plugin", "auth ssh", "localdomains", "envelope"}},
	{"fetchmail-merged", Fetchmail, []string{"fetchmail/manpage-basic.rc", "fetchmail/manpage-noise.rc"}, "", nil},
	{"fetchmail-debian-example", Fetchmail, []string{"fetchmail/debian-example.rc"}, "",
		[]string{"set no bouncemail", "antispam", "batchlimit"}},
	{"fetchmail-options", Fetchmail, []string{"fetchmail/options.rc"}, "",
		[]string{"set logfile", "set idfile", "sslfingerprint", "no sslcertck", "flush", "fetchall", "preconnect",
			"folder", "smtphost mx2.example.org", "a skip entry", "IMAP is not supported yet", "auth kerberos_v5"}},
	{"fetchmail-nopassword", Fetchmail, []string{"fetchmail/nopassword.rc"}, "no password", nil},
	{"mpop-manpage", Mpop, []string{"mpop/manpage.rc"}, "", []string{"filter", "uidls_file"}},
	{"mpop-debian-example", Mpop, []string{"mpop/debian-example.rc"}, "", []string{"filter"}},
	{"mpop-options", Mpop, []string{"mpop/options.rc"}, "",
		[]string{"eval", "not a SHA-256 fingerprint", "skipsize", "socket", "proxy_host", "tls_certcheck off", "only_new off", "ntlmdomain"}},
	{"getmail-examples", Getmail, nil, "",
		[]string{"IMAP is not supported yet", "multidrop", "[filter-1]", "[filter-2]", "MultiGuesser sorts", "[unused]",
			"ssl_version = tlsv1", "ssl_ciphers", "fallback", "delete_bigger_than", "message_log", "type = BrokenUIDLPOP3Retriever"}},
	{"getmail-single", Getmail, []string{"getmail/getmailrc"}, "", nil},
}

// TestGolden translates each fixture and compares the output with its
// golden file, then checks that the output is a configuration fetchd
// loads, that every untranslated option is listed in the header, and that
// inline passwords went into 0600 files and nowhere into the output.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			files := tc.files
			if files == nil {
				files = getmailFixtures(t)
			}
			res, err := Import(tc.program, e.copyIn(t, files...), e.opts)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			var out bytes.Buffer
			if err := res.WriteTOML(&out, e.secrets); err != nil {
				t.Fatal(err)
			}
			// Paths under the home directory are written "~/…", but not
			// an MDA's arguments, which no shell expands.
			compareGolden(t, filepath.Join("testdata", "golden", tc.name+".toml"),
				bytes.ReplaceAll(out.Bytes(), []byte(e.home), []byte("@HOME@")))

			header := headerOf(out.String())
			for _, n := range res.Notes {
				n.File = res.display(n.File)
				if !strings.Contains(header, n.String()) {
					t.Errorf("note %q is not in the header", n.String())
				}
			}
			for _, want := range tc.wantInHeader {
				if !strings.Contains(header, want) {
					t.Errorf("header lacks %q", want)
				}
			}
			checkSecrets(t, res, e.secrets, out.String())
			checkLoads(t, e, out.Bytes(), tc.wantLoadErr)
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i, shown := 0, 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}

// headerOf is the comment block before the first blank line.
func headerOf(s string) string {
	h, _, _ := strings.Cut(s, "\n\n")
	return h
}

func checkSecrets(t *testing.T, res *Result, dir, out string) {
	t.Helper()
	written, err := res.WriteSecrets(dir, false)
	if err != nil {
		t.Fatalf("WriteSecrets: %v", err)
	}
	list := res.secrets(dir)
	if len(written) != len(list) {
		t.Errorf("wrote %d files, want %d", len(written), len(list))
	}
	for _, s := range list {
		fi, err := os.Lstat(s.path)
		if err != nil {
			t.Errorf("password file: %v", err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", s.path, fi.Mode().Perm())
		}
		data, _ := os.ReadFile(s.path)
		if string(data) != s.value+"\n" {
			t.Errorf("%s holds the wrong password", s.path)
		}
		if len(s.value) >= 4 && strings.Contains(out, s.value) {
			t.Errorf("the output shows the password stored in %s", s.path)
		}
	}
	if len(list) > 0 {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("secrets directory: %v, mode %v; want 0700", err, fi.Mode().Perm())
		}
	}
}

func checkLoads(t *testing.T, e *testEnv, out []byte, wantErr string) {
	t.Helper()
	p := filepath.Join(e.home, ".config", "fetchd", "config.toml")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	// "~/" in the output is this test's home.
	t.Setenv("HOME", e.home)
	_, err := config.Load(p)
	switch {
	case wantErr == "" && err != nil:
		t.Errorf("config.Load refuses the output: %v", err)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Errorf("config.Load: got %v, want an error with %q", err, wantErr)
	}
}
