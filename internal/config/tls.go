package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
)

// An account's TLS keys: their checks, and the *tls.Config they make.
// Certificate files are read when the file is loaded, so `fetchd check`
// finds a missing or wrong one, and again by TLSConfig when connecting.

// maxPEMLen bounds a certificate or key file. The Mozilla CA bundle is
// about 220 KB.
const maxPEMLen = 4 << 20

func checkTLSVersion(v any) string {
	switch s := v.(string); s {
	case "1.2", "1.3":
		return ""
	case "1.0", "1.1":
		// RFC 8996 deprecates them; package pop3 refuses them anyway.
		return fmt.Sprintf(`TLS %s is obsolete (RFC 8996) and never used: write "1.2" (the default) or "1.3"`, s)
	default:
		return `must be "1.2" or "1.3", got ` + quote(s)
	}
}

// tlsVersion is the crypto/tls version of a checked tls_min_version.
func tlsVersion(s string) uint16 {
	if s == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

func checkServerName(v any) string {
	s := v.(string)
	switch {
	case s == "":
		return "must not be empty: leave tls_server_name out to verify the certificate against server"
	case strings.Contains(s, "://"):
		return "must be a host name, not a URL, got " + quote(s)
	case net.ParseIP(s) != nil:
		return ""
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		return fmt.Sprintf("must be a host name without a port: write tls_server_name = %q", host)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isBare(c) && c != '.' {
			return `must be the host name the server's certificate is issued for, e.g. "pop.example.com", got ` + quote(s)
		}
	}
	return ""
}

func checkCAFile(v any) string {
	p := v.(string)
	data, err := readPEMFile(p, "")
	if err == nil {
		_, err = parseCerts(data)
	}
	if err != nil {
		return fmt.Sprintf("%s: %v: give a PEM file with the certificate of the CA that issued the server's "+
			"(it replaces the system's CAs)", p, err)
	}
	return ""
}

func checkClientCert(v any) string {
	p := v.(string)
	data, err := readPEMFile(p, "")
	if err == nil {
		_, err = parseCerts(data)
	}
	if err != nil {
		return fmt.Sprintf("%s: %v: give the PEM file of the client certificate the server expects", p, err)
	}
	return ""
}

func checkClientKey(v any) string {
	p := v.(string)
	data, err := readPEMFile(p, "a private key")
	if err != nil {
		return fmt.Sprintf("%s: %v", p, err)
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return fmt.Sprintf("%s: holds no PEM private key (-----BEGIN PRIVATE KEY-----): "+
				"give the key of tls_client_cert, unencrypted, in PEM form", p)
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return ""
		}
	}
}

// checkClientPair checks, on an account, that tls_client_cert and
// tls_client_key are set together and belong together. present says which
// keys are set, valid or not; invalid ones are already reported and empty
// in a.
func (d *decoder) checkClientPair(w where, a *Account, present map[string]bool) {
	switch {
	case present["tls_client_cert"] && !present["tls_client_key"]:
		d.add(w, "tls_client_cert", "needs tls_client_key: set the path of the certificate's private key too")
	case present["tls_client_key"] && !present["tls_client_cert"]:
		d.add(w, "tls_client_key", "needs tls_client_cert: set the path of the client certificate too")
	case a.TLSClientCert != "" && a.TLSClientKey != "":
		if _, err := tls.LoadX509KeyPair(a.TLSClientCert, a.TLSClientKey); err != nil {
			// The error names the mismatch, never the key's bytes.
			d.add(w, "tls_client_key", fmt.Sprintf("%s does not go with tls_client_cert %s: %v",
				a.TLSClientKey, a.TLSClientCert, err))
		}
	}
}

// readPEMFile reads a certificate or key file. When private names what the
// file holds ("a private key"), the file must not be readable by group or
// others.
func readPEMFile(p, private string) ([]byte, error) {
	// Stat before opening: opening a FIFO (or /dev/stdin) would block.
	fi, err := os.Stat(p)
	if err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return nil, errors.New("is a directory, not a PEM file")
		}
		return nil, errors.New("is not a regular file")
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(p)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("does not exist")
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return nil, err
	}
	defer f.Close()
	// The mode checked is that of the file read.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if private != "" {
		if msg := exposedSecret(p, fi.Mode(), private); msg != "" {
			return nil, errors.New(msg)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPEMLen+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPEMLen {
		return nil, fmt.Errorf("is larger than %d MiB, too large for a PEM file", maxPEMLen>>20)
	}
	return data, nil
}

// parseCerts returns every certificate of a PEM file, and fails when one
// does not parse or there is none. Other blocks, such as a key in a
// combined file, are skipped.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate #%d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----); " +
			"convert a DER file with openssl x509 -inform der -in cert.der -out cert.pem")
	}
	return certs, nil
}

// TLSConfig returns the base of the account's TLS configuration, for
// pop3.Config.TLSConfig: the lowest version, the name to verify (empty means
// the server's), the CAs to trust instead of the system's, and the client
// certificate. It reads ca_file and the client certificate and key when
// called, as Secret reads password_file, and refuses a key file that group
// or others may read. The pins are not part of it: they go in
// pop3.Config.CertFingerprints and SPKIPins.
func (a *Account) TLSConfig() (*tls.Config, error) {
	owner := accountLabel(a.Name)
	cfg := &tls.Config{
		MinVersion: tlsVersion(a.TLSMinVersion),
		ServerName: a.TLSServerName,
	}
	if a.CAFile != "" {
		data, err := readPEMFile(a.CAFile, "")
		if err != nil {
			return nil, fmt.Errorf("%s: ca_file %s: %w", owner, a.CAFile, err)
		}
		certs, err := parseCerts(data)
		if err != nil {
			return nil, fmt.Errorf("%s: ca_file %s: %w", owner, a.CAFile, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		for _, c := range certs {
			cfg.RootCAs.AddCert(c)
		}
	}
	if a.TLSClientCert != "" || a.TLSClientKey != "" {
		certPEM, err := readPEMFile(a.TLSClientCert, "")
		if err != nil {
			return nil, fmt.Errorf("%s: tls_client_cert %s: %w", owner, a.TLSClientCert, err)
		}
		keyPEM, err := readPEMFile(a.TLSClientKey, "a private key")
		if err != nil {
			return nil, fmt.Errorf("%s: tls_client_key %s: %w", owner, a.TLSClientKey, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: tls_client_key %s does not go with tls_client_cert %s: %w",
				owner, a.TLSClientKey, a.TLSClientCert, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
