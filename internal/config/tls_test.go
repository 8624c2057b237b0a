package config

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fetchd/internal/testcert"
)

// certFiles is a certificate and its key, written as PEM files.
type certFiles struct {
	cert, key string
	leaf      *x509.Certificate
}

// writeCert makes a certificate for host and writes it and its key (mode
// 0600) into dir as NAME.pem and NAME.key.
func writeCert(t *testing.T, dir, name, host string) certFiles {
	t.Helper()
	c, _, err := testcert.New(host)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return certFiles{
		cert: writeFile(t, dir, name+".pem", string(certPEM), 0o644),
		key:  writeFile(t, dir, name+".key", string(keyPEM), 0o600),
		leaf: c.Leaf,
	}
}

func tomlString(s string) string { return `"` + s + `"` }

func TestParse_TLSKeys(t *testing.T) {
	setHome(t)
	dir := t.TempDir()
	ca := writeCert(t, dir, "ca", "pop.example.com")
	other := writeCert(t, dir, "other", "pop.example.com")
	bundle := writeFile(t, dir, "bundle.pem", readFile(t, other.cert)+"# comment\n"+readFile(t, ca.cert), 0o644)
	combined := writeFile(t, dir, "combined.pem", readFile(t, ca.cert)+readFile(t, ca.key), 0o600)
	openKey := writeFile(t, dir, "open.key", readFile(t, ca.key), 0o644)
	groupKey := writeFile(t, dir, "group.key", readFile(t, ca.key), 0o640)
	notPEM := writeFile(t, dir, "ca.der", "\x30\x82\x01\x0a", 0o644)
	badCert := writeFile(t, dir, "bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0o644)
	missing := filepath.Join(dir, "missing.pem")

	fp := sha256.Sum256(ca.leaf.Raw)
	fpHex := hex.EncodeToString(fp[:])
	fpColons := colonHex(fp[:])
	spki := sha256.Sum256(ca.leaf.RawSubjectPublicKeyInfo)
	spkiB64 := base64.StdEncoding.EncodeToString(spki[:])
	otherFP := sha256.Sum256(other.leaf.Raw)

	tests := []struct {
		name  string
		over  map[string]string
		key   string              // the key of the one problem; "" = valid
		want  string              // substring of that problem
		check func(*Account) bool // for valid configs
	}{
		{"defaults", nil, "", "", func(a *Account) bool {
			return a.TLSMinVersion == "1.2" && a.CAFile == "" && a.TLSServerName == "" && a.TLSClientCert == "" &&
				a.TLSFingerprint == nil && a.TLSFingerprints == nil && a.TLSPinSPKI == nil && a.TLSPinsSPKI == nil
		}},

		{"tls_min_version 1.3", map[string]string{"tls_min_version": `"1.3"`}, "", "", func(a *Account) bool { return a.TLSMinVersion == "1.3" }},
		{"tls_min_version 1.2", map[string]string{"tls_min_version": `"1.2"`}, "", "", func(a *Account) bool { return a.TLSMinVersion == "1.2" }},
		{"tls_min_version 1.1", map[string]string{"tls_min_version": `"1.1"`}, "tls_min_version", `TLS 1.1 is obsolete (RFC 8996) and never used: write "1.2"`, nil},
		{"tls_min_version 1.4", map[string]string{"tls_min_version": `"1.4"`}, "tls_min_version", `must be "1.2" or "1.3", got "1.4"`, nil},
		{"tls_min_version TLS1.3", map[string]string{"tls_min_version": `"TLSv1.3"`}, "tls_min_version", `must be "1.2" or "1.3", got "TLSv1.3"`, nil},
		{"tls_min_version number", map[string]string{"tls_min_version": `1.3`}, "tls_min_version", `must be a string, got the number 1.3 (write it in quotes: "1.3")`, nil},

		{"ca_file", map[string]string{"ca_file": tomlString(ca.cert)}, "", "", func(a *Account) bool { return a.CAFile == ca.cert }},
		{"ca_file bundle", map[string]string{"ca_file": tomlString(bundle)}, "", "", func(a *Account) bool { return a.CAFile == bundle }},
		{"ca_file missing", map[string]string{"ca_file": tomlString(missing)}, "ca_file", missing + ": does not exist: give a PEM file with the certificate of the CA", nil},
		{"ca_file DER", map[string]string{"ca_file": tomlString(notPEM)}, "ca_file", notPEM + ": holds no PEM certificate (-----BEGIN CERTIFICATE-----)", nil},
		{"ca_file key only", map[string]string{"ca_file": tomlString(ca.key)}, "ca_file", "holds no PEM certificate", nil},
		{"ca_file bad certificate", map[string]string{"ca_file": tomlString(badCert)}, "ca_file", badCert + ": certificate #1: x509: ", nil},
		{"ca_file directory", map[string]string{"ca_file": tomlString(dir)}, "ca_file", dir + ": is a directory, not a PEM file", nil},
		{"ca_file device", map[string]string{"ca_file": `"/dev/null"`}, "ca_file", "/dev/null: is not a regular file", nil},
		{"ca_file relative", map[string]string{"ca_file": `"ca.pem"`}, "ca_file", `must be an absolute path or start with ~/, got "ca.pem"`, nil},
		{"ca_file number", map[string]string{"ca_file": `1`}, "ca_file", "must be a string, got the integer 1", nil},

		{"tls_server_name", map[string]string{"tls_server_name": `"mail.example.net"`}, "", "", func(a *Account) bool { return a.TLSServerName == "mail.example.net" }},
		{"tls_server_name ip", map[string]string{"tls_server_name": `"192.0.2.7"`}, "", "", func(a *Account) bool { return a.TLSServerName == "192.0.2.7" }},
		{"tls_server_name empty", map[string]string{"tls_server_name": `""`}, "tls_server_name", "must not be empty: leave tls_server_name out", nil},
		{"tls_server_name port", map[string]string{"tls_server_name": `"mail.example.net:995"`}, "tls_server_name", `must be a host name without a port: write tls_server_name = "mail.example.net"`, nil},
		{"tls_server_name url", map[string]string{"tls_server_name": `"pop3s://mail.example.net"`}, "tls_server_name", "must be a host name, not a URL", nil},
		{"tls_server_name space", map[string]string{"tls_server_name": `"mail example"`}, "tls_server_name", `must be the host name the server's certificate is issued for, e.g. "pop.example.com", got "mail example"`, nil},

		{"client cert and key", map[string]string{"tls_client_cert": tomlString(ca.cert), "tls_client_key": tomlString(ca.key)}, "", "", func(a *Account) bool {
			return a.TLSClientCert == ca.cert && a.TLSClientKey == ca.key
		}},
		{"client combined file", map[string]string{"tls_client_cert": tomlString(combined), "tls_client_key": tomlString(combined)}, "", "", func(a *Account) bool {
			return a.TLSClientCert == combined && a.TLSClientKey == combined
		}},
		{"client cert alone", map[string]string{"tls_client_cert": tomlString(ca.cert)}, "tls_client_cert", "needs tls_client_key: set the path of the certificate's private key too", nil},
		{"client key alone", map[string]string{"tls_client_key": tomlString(ca.key)}, "tls_client_key", "needs tls_client_cert", nil},
		{"client key of another cert", map[string]string{"tls_client_cert": tomlString(ca.cert), "tls_client_key": tomlString(other.key)},
			"tls_client_key", other.key + " does not go with tls_client_cert " + ca.cert + ": tls: private key does not match public key", nil},
		{"client key readable by others", map[string]string{"tls_client_cert": tomlString(ca.cert), "tls_client_key": tomlString(openKey)},
			"tls_client_key", openKey + ": holds a private key but is readable by others (mode 0644): run chmod 600 " + openKey, nil},
		{"client key readable by group", map[string]string{"tls_client_cert": tomlString(ca.cert), "tls_client_key": tomlString(groupKey)},
			"tls_client_key", "holds a private key but is readable by others (mode 0640)", nil},
		{"client key is a certificate", map[string]string{"tls_client_cert": tomlString(ca.cert), "tls_client_key": tomlString(writeFile(t, dir, "cert-as-key", readFile(t, ca.cert), 0o600))},
			"tls_client_key", "holds no PEM private key (-----BEGIN PRIVATE KEY-----)", nil},
		{"client key missing", map[string]string{"tls_client_cert": tomlString(ca.cert), "tls_client_key": tomlString(missing)}, "tls_client_key", missing + ": does not exist", nil},
		{"client cert missing", map[string]string{"tls_client_cert": tomlString(missing), "tls_client_key": tomlString(ca.key)}, "tls_client_cert", missing + ": does not exist: give the PEM file of the client certificate", nil},
		{"client cert is a key", map[string]string{"tls_client_cert": tomlString(ca.key), "tls_client_key": tomlString(ca.key)}, "tls_client_cert", "holds no PEM certificate", nil},

		{"fingerprint colons", map[string]string{"tls_fingerprint": tomlString(strings.ToUpper(fpColons))}, "", "", func(a *Account) bool {
			return len(a.TLSFingerprints) == 1 && a.TLSFingerprints[0] == fp && a.TLSFingerprint[0] == strings.ToUpper(fpColons)
		}},
		{"fingerprint plain", map[string]string{"tls_fingerprint": tomlString(fpHex)}, "", "", func(a *Account) bool {
			return len(a.TLSFingerprints) == 1 && a.TLSFingerprints[0] == fp
		}},
		{"fingerprint list", map[string]string{"tls_fingerprint": "[" + tomlString(fpHex) + ", " + tomlString(colonHex(otherFP[:])) + "]"}, "", "", func(a *Account) bool {
			return len(a.TLSFingerprints) == 2 && a.TLSFingerprints[0] == fp && a.TLSFingerprints[1] == otherFP && len(a.TLSFingerprint) == 2
		}},
		{"fingerprint starttls", map[string]string{"tls": `"starttls"`, "tls_fingerprint": tomlString(fpHex)}, "", "", func(a *Account) bool { return len(a.TLSFingerprints) == 1 }},
		{"fingerprint short", map[string]string{"tls_fingerprint": tomlString(fpHex[:62])}, "tls_fingerprint", "bad pin \"" + fpHex[:62] + "\": must be a SHA-256 fingerprint of 64 hex digits, got 62", nil},
		{"fingerprint sha1", map[string]string{"tls_fingerprint": tomlString(fpColons[:59])}, "tls_fingerprint", "this is a SHA-1 fingerprint (40 hex digits)", nil},
		{"fingerprint not hex", map[string]string{"tls_fingerprint": tomlString("zz" + fpHex[2:])}, "tls_fingerprint", "must be hexadecimal digits", nil},
		{"fingerprint openssl line", map[string]string{"tls_fingerprint": tomlString("sha256 Fingerprint=" + fpColons)}, "tls_fingerprint", `write only the hex digits after "Fingerprint="`, nil},
		{"fingerprint second bad", map[string]string{"tls_fingerprint": "[" + tomlString(fpHex) + `, "ab"]`}, "tls_fingerprint", `element 2: bad pin "ab": must be a SHA-256 fingerprint of 64 hex digits, got 2`, nil},
		{"fingerprint empty list", map[string]string{"tls_fingerprint": `[]`}, "tls_fingerprint", "must not be empty: give at least one pin, from openssl x509", nil},
		{"fingerprint number", map[string]string{"tls_fingerprint": `12`}, "tls_fingerprint", "must be a string or an array of strings, got the integer 12", nil},
		{"fingerprint element number", map[string]string{"tls_fingerprint": `[12]`}, "tls_fingerprint", "element 1 must be a string, got the integer 12", nil},
		{"fingerprint without TLS", map[string]string{"tls": `"none"`, "allow_insecure": "true", "tls_fingerprint": tomlString(fpHex)},
			"tls_fingerprint", `pins the server's certificate, but tls = "none" makes no TLS connection: use tls = "implicit" or "starttls", or remove tls_fingerprint`, nil},

		{"spki", map[string]string{"tls_pin_spki": tomlString(spkiB64)}, "", "", func(a *Account) bool {
			return len(a.TLSPinsSPKI) == 1 && a.TLSPinsSPKI[0] == spki && a.TLSPinSPKI[0] == spkiB64
		}},
		{"spki prefix", map[string]string{"tls_pin_spki": tomlString("sha256/" + spkiB64)}, "", "", func(a *Account) bool {
			return len(a.TLSPinsSPKI) == 1 && a.TLSPinsSPKI[0] == spki
		}},
		{"spki and fingerprint", map[string]string{"tls_pin_spki": "[" + tomlString(spkiB64) + "]", "tls_fingerprint": tomlString(fpHex)}, "", "", func(a *Account) bool {
			return len(a.TLSPinsSPKI) == 1 && len(a.TLSFingerprints) == 1
		}},
		{"spki hex", map[string]string{"tls_pin_spki": tomlString(hex.EncodeToString(spki[:]))}, "tls_pin_spki", "must be base64, not hex", nil},
		{"spki short", map[string]string{"tls_pin_spki": tomlString(base64.StdEncoding.EncodeToString(spki[:20]))}, "tls_pin_spki", "must be the base64 of a SHA-256 hash (32 bytes), got 20 bytes", nil},
		{"spki bad base64", map[string]string{"tls_pin_spki": `"not base64!"`}, "tls_pin_spki", `bad pin "not base64!": must be base64 of 32 bytes`, nil},
		{"spki without TLS", map[string]string{"tls": `"none"`, "allow_insecure": "true", "tls_pin_spki": tomlString(spkiB64)},
			"tls_pin_spki", `tls = "none" makes no TLS connection`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := accountTOML(tt.over, false)
			if tt.key != "" {
				wantOneProblem(t, data, tt.key, tt.want)
				return
			}
			cfg := mustParse(t, data)
			if a := cfg.Accounts[0]; !tt.check(a) {
				t.Errorf("check failed: %+v", tt.over)
			}
		})
	}
}

// TLS keys in [defaults] reach every account; a bad one is reported once,
// under defaults.
func TestParse_TLSKeysInDefaults(t *testing.T) {
	setHome(t)
	dir := t.TempDir()
	ca := writeCert(t, dir, "ca", "pop.example.com")
	fp := sha256.Sum256(ca.leaf.Raw)
	two := accountTOML(nil, false) + asHome(accountTOML(nil, false))
	cfg := mustParse(t, "[defaults]\ntls_min_version = \"1.3\"\nca_file = "+tomlString(ca.cert)+
		"\ntls_fingerprint = "+tomlString(colonHex(fp[:]))+"\n"+two)
	for _, a := range cfg.Accounts {
		if a.TLSMinVersion != "1.3" || a.CAFile != ca.cert || len(a.TLSFingerprints) != 1 || a.TLSFingerprints[0] != fp {
			t.Errorf("%s: %+v", a.Name, *a)
		}
	}
	errs := mustFail(t, "[defaults]\ntls_min_version = \"1.0\"\ntls_pin_spki = \"x\"\n"+two,
		`config.toml:2: defaults: tls_min_version: TLS 1.0 is obsolete`,
		`config.toml:3: defaults: tls_pin_spki: bad pin "x"`)
	if len(errs.Problems) != 2 {
		t.Errorf("got %d problems, want 2:\n%v", len(errs.Problems), errs)
	}
}

func TestParseFingerprint(t *testing.T) {
	want := [32]byte{0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0x00, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
		0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69}
	lower := hex.EncodeToString(want[:])
	tests := []struct {
		name, in, err string // err: substring of the error; "" = want
	}{
		{"lower", lower, ""},
		{"upper", strings.ToUpper(lower), ""},
		{"mixed case", "AbCdEf" + lower[6:], ""},
		{"colons", colonHex(want[:]), ""},
		{"colons upper", strings.ToUpper(colonHex(want[:])), ""},
		{"empty", "", "64 hex digits, got 0"},
		{"short", lower[:63], "64 hex digits, got 63"},
		{"long", lower + "00", "64 hex digits, got 66"},
		{"sha1", lower[:40], "SHA-1"},
		{"sha1 colons", colonHex(want[:20]), "SHA-1"},
		{"not hex", "g" + lower[1:], "hexadecimal digits"},
		{"control char", "\x10" + lower[1:], "hexadecimal digits"},
		{"space", "ab " + lower[3:], "hexadecimal digits"},
		{"spaces around", " " + lower + "\n", ""},
		{"md5", lower[:32], "MD5"},
		{"colons misplaced", "a:b" + lower[3:], "in pairs separated by colons"},
		{"trailing colon", colonHex(want[:]) + ":", "in pairs separated by colons"},
		{"leading colon", ":" + colonHex(want[:]), "in pairs separated by colons"},
		{"double colon", strings.Replace(colonHex(want[:]), ":", "::", 1), "in pairs separated by colons"},
		{"openssl line", "SHA256 Fingerprint=" + colonHex(want[:]), `after "Fingerprint="`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFingerprint(tt.in)
			if tt.err == "" {
				if err != nil || got != want {
					t.Errorf("parseFingerprint(%q) = %x, %v; want %x", tt.in, got, err, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseFingerprint(%q): got error %v, want %q", tt.in, err, tt.err)
			}
		})
	}
}

func TestParseSPKIPin(t *testing.T) {
	want := sha256.Sum256([]byte("public key"))
	std := base64.StdEncoding.EncodeToString(want[:])
	if !strings.ContainsAny(std, "+/") {
		t.Fatalf("%s: pick data whose base64 holds + or /, to tell the alphabets apart", std)
	}
	url := base64.URLEncoding.EncodeToString(want[:])
	tests := []struct {
		name, in, err string // err: substring of the error; "" = want
	}{
		{"plain", std, ""},
		{"prefix", "sha256/" + std, ""},
		{"empty", "", "got 0 bytes"},
		{"prefix only", "sha256/", "got 0 bytes"},
		{"unpadded", strings.TrimRight(std, "="), "must be base64 of 32 bytes"},
		{"url alphabet", url, "standard base64 alphabet"},
		{"curl prefix", "sha256//" + std, ""},
		{"upper prefix", "SHA256/" + std, ""},
		{"spaces around", " sha256/" + std + "\t", ""},
		{"three slashes", "sha256///" + std, "must be base64 of 32 bytes"},
		{"prefix twice", "sha256/sha256/" + std, "must be base64 of 32 bytes"},
		{"hex", hex.EncodeToString(want[:]), "not hex"},
		{"sha1 size", base64.StdEncoding.EncodeToString(want[:20]), "got 20 bytes"},
		{"64 bytes", base64.StdEncoding.EncodeToString(append(want[:], want[:]...)), "got 64 bytes"},
		{"space inside", std[:10] + " " + std[10:], "must be base64"},
		{"newline inside", std[:10] + "\n" + std[10:], "on one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSPKIPin(tt.in)
			if tt.err == "" {
				if err != nil || got != want {
					t.Errorf("parseSPKIPin(%q) = %x, %v; want %x", tt.in, got, err, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseSPKIPin(%q): got error %v, want %q", tt.in, err, tt.err)
			}
		})
	}
	// A pin whose base64 starts with "/" is told apart from curl's "sha256//".
	var slash [32]byte
	slash[0] = 0xfc // base64 "/…"
	s := base64.StdEncoding.EncodeToString(slash[:])
	for _, in := range []string{s, "sha256/" + s, "sha256//" + s} {
		if got, err := parseSPKIPin(in); err != nil || got != slash {
			t.Errorf("parseSPKIPin(%q) = %x, %v", in, got, err)
		}
	}
}

func TestAccount_TLSConfig(t *testing.T) {
	dir := t.TempDir()
	ca := writeCert(t, dir, "ca", "pop.example.com")
	client := writeCert(t, dir, "client", "me")

	cfg, err := (&Account{Name: "work"}).TLSConfig()
	if err != nil || cfg.MinVersion != tls.VersionTLS12 || cfg.RootCAs != nil || cfg.ServerName != "" || cfg.Certificates != nil {
		t.Fatalf("no TLS keys: got %+v, %v", cfg, err)
	}

	a := &Account{Name: "work", TLSMinVersion: "1.3", CAFile: ca.cert, TLSServerName: "pop.example.com",
		TLSClientCert: client.cert, TLSClientKey: client.key}
	cfg, err = a.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.ServerName != "pop.example.com" || len(cfg.Certificates) != 1 {
		t.Errorf("got %+v", cfg)
	}
	if _, err := ca.leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: "pop.example.com"}); err != nil {
		t.Errorf("ca_file does not verify its certificate: %v", err)
	}
	if _, err := client.leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs}); err == nil {
		t.Error("ca_file trusts a certificate it does not hold: the system roots or another CA crept in")
	}
	if !bytes.Equal(cfg.Certificates[0].Certificate[0], client.leaf.Raw) {
		t.Error("wrong client certificate")
	}

	// The files are read again at use time: a key file opened up since
	// loading is refused, a CA file removed since is reported.
	if err := os.Chmod(client.key, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = a.TLSConfig()
	if want := `account "work": tls_client_key ` + client.key + ": holds a private key but is readable by others (mode 0644): run chmod 600 " + client.key; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	os.Chmod(client.key, 0o600)
	os.Remove(ca.cert)
	_, err = a.TLSConfig()
	if want := `account "work": ca_file ` + ca.cert + ": does not exist"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	a.CAFile = ""
	a.TLSClientKey = ca.key
	if _, err = a.TLSConfig(); err == nil || !strings.Contains(err.Error(), "does not go with tls_client_cert") {
		t.Errorf("got %v, want a mismatch", err)
	}
}

// colonHex is b in upper-case hex pairs separated by colons, as openssl
// prints a fingerprint.
func colonHex(b []byte) string {
	pairs := make([]string, len(b))
	for i, c := range b {
		pairs[i] = strings.ToUpper(hex.EncodeToString([]byte{c}))
	}
	return strings.Join(pairs, ":")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
