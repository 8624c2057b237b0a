package discover

import (
	"strings"
	"testing"
)

func TestSplitAddress(t *testing.T) {
	tests := []struct {
		in, local, domain, errPart string
	}{
		{in: "me@example.com", local: "me", domain: "example.com"},
		{in: "Me.Too+tag@Mail.Example.COM.", local: "Me.Too+tag", domain: "mail.example.com"},
		{in: `"odd@local"@example.org`, local: `"odd@local"`, domain: "example.org"},
		{in: "me@xn--bcher-kva.example", local: "me", domain: "xn--bcher-kva.example"},
		{in: "example.com", errPart: "not an email address"},
		{in: "@example.com", errPart: "nothing before the @"},
		{in: "me@", errPart: "is empty"},
		{in: "me@localhost", errPart: "has no dot"},
		{in: "me@exa mple.com", errPart: "only letters, digits and hyphens"},
		{in: "me@bücher.example", errPart: "xn--"},
		{in: "me@-bad.example", errPart: "hyphen"},
		{in: "me@a..example", errPart: "1 to 63"},
		{in: "m e@example.com", errPart: "space or control"},
		{in: "me\r\n@example.com", errPart: "space or control"},
		{in: "me@" + strings.Repeat("a", 64) + ".com", errPart: "1 to 63"},
	}
	for _, tt := range tests {
		local, domain, err := SplitAddress(tt.in)
		if tt.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("SplitAddress(%q): error %v, want one containing %q", tt.in, err, tt.errPart)
			}
			continue
		}
		if err != nil || local != tt.local || domain != tt.domain {
			t.Errorf("SplitAddress(%q) = %q, %q, %v; want %q, %q", tt.in, local, domain, err, tt.local, tt.domain)
		}
	}
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		in, host, errPart string
		port              int
	}{
		{in: "pop.example.com", host: "pop.example.com"},
		{in: "POP.Example.com:995", host: "pop.example.com", port: 995},
		{in: "localhost:110", host: "localhost", port: 110},
		{in: "192.0.2.1:995", host: "192.0.2.1", port: 995},
		{in: "[2001:db8::1]:995", host: "2001:db8::1", port: 995},
		{in: "2001:db8::1", host: "2001:db8::1"},
		{in: "[2001:db8::1]", host: "2001:db8::1"},
		{in: "", errPart: "no server given"},
		{in: "pop.example.com:0", errPart: "1 to 65535"},
		{in: "pop.example.com:99999", errPart: "1 to 65535"},
		{in: "pop.example.com:pop3", errPart: "1 to 65535"},
		{in: "pop3s://pop.example.com", errPart: "not a URL"},
		{in: "a:b:c", errPart: "IPv6 address in brackets"},
		{in: "pop example.com", errPart: "only letters"},
	}
	for _, tt := range tests {
		host, port, err := ParseHostPort(tt.in)
		if tt.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("ParseHostPort(%q): error %v, want one containing %q", tt.in, err, tt.errPart)
			}
			continue
		}
		if err != nil || host != tt.host || port != tt.port {
			t.Errorf("ParseHostPort(%q) = %q, %d, %v; want %q, %d", tt.in, host, port, err, tt.host, tt.port)
		}
	}
}

// Within is the RFC 6186 §6 test: a suffix match on whole labels only.
func TestWithin(t *testing.T) {
	tests := []struct {
		host, domain string
		want         bool
	}{
		{"example.com", "example.com", true},
		{"pop.example.com.", "Example.COM", true},
		{"a.b.example.com", "example.com", true},
		{"badexample.com", "example.com", false},
		{"example.com.evil.net", "example.com", false},
		{"localhost", "example.test", false},
		{"", "example.com", false},
		{"example.com", "", false},
	}
	for _, tt := range tests {
		if got := Within(tt.host, tt.domain); got != tt.want {
			t.Errorf("Within(%q, %q) = %t, want %t", tt.host, tt.domain, got, tt.want)
		}
	}
}

func TestPresets(t *testing.T) {
	tests := []struct {
		domain, host, oauth2 string
		found                bool
	}{
		{"gmail.com", "pop.gmail.com", "google", true},
		{"GoogleMail.com.", "pop.gmail.com", "google", true},
		{"hotmail.com", "outlook.office365.com", "microsoft", true},
		{"yahoo.com", "pop.mail.yahoo.com", "", true},
		{"icloud.com", "", "", true}, // known, and known to offer no POP3
		{"example.com", "", "", false},
	}
	for _, tt := range tests {
		p, ok := LookupPreset(tt.domain)
		if ok != tt.found || p.Host != tt.host || p.OAuth2 != tt.oauth2 {
			t.Errorf("LookupPreset(%q) = %+v, %t; want host %q, oauth2 %q, found %t", tt.domain, p, ok, tt.host, tt.oauth2, tt.found)
		}
	}
	seen := map[string]string{}
	for _, p := range presets {
		if p.Host != "" && p.Port != 995 {
			t.Errorf("preset %s: port %d, want 995 (every preset is implicit TLS)", p.Key, p.Port)
		}
		for _, d := range p.Domains {
			if other, dup := seen[d]; dup {
				t.Errorf("domain %s is in presets %s and %s", d, other, p.Key)
			}
			seen[d] = p.Key
		}
	}
	if p, ok := PresetByKey("Microsoft"); !ok || !p.OAuth2Only {
		t.Errorf("PresetByKey(Microsoft) = %+v, %t; want the OAuth2-only preset", p, ok)
	}
}
