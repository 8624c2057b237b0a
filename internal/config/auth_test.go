package config

import (
	"slices"
	"strings"
	"testing"

	"fetchd/internal/pop3"
)

// TestAuthMethodsMatchPOP3 keeps the values auth accepts in step with the
// methods package pop3 implements: every value parses, and every method
// has a value.
func TestAuthMethodsMatchPOP3(t *testing.T) {
	for _, s := range authMethods {
		m, ok := pop3.ParseAuthMethod(s)
		if !ok || m.String() != s {
			t.Errorf("auth %q: pop3.ParseAuthMethod gives %v, %t", s, m, ok)
		}
	}
	for m := pop3.AuthMethod(0); m < 64; m++ {
		if s := m.String(); !strings.HasPrefix(s, "AuthMethod(") && !slices.Contains(authMethods, s) {
			t.Errorf("pop3 has auth method %q, which the configuration does not accept", s)
		}
	}
	if authMethods[0] != DefaultAuth {
		t.Errorf("the default %q is not listed first", DefaultAuth)
	}
}

func TestParse_EveryAuthMethod(t *testing.T) {
	setHome(t)
	for _, s := range authMethods {
		cfg := mustParse(t, accountTOML(map[string]string{"auth": `"` + s + `"`}, false))
		if got := cfg.Accounts[0].Auth; got != s {
			t.Errorf("got %q, want %q", got, s)
		}
	}
}
