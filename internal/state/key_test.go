package state

import "testing"

func TestAccountKey_String(t *testing.T) {
	tests := []struct {
		key  AccountKey
		want string
	}{
		{AccountKey{"pop.x.com", 995, "me@x.com"}, "pop3://me%40x.com@pop.x.com:995"},
		{AccountKey{"POP.X.com", 995, "me@x.com"}, "pop3://me%40x.com@pop.x.com:995"},
		{AccountKey{"pop.x.com", 110, "Me"}, "pop3://Me@pop.x.com:110"},
		{AccountKey{"pop.x.com", 110, "a:b%c/d e"}, "pop3://a%3Ab%25c%2Fd%20e@pop.x.com:110"},
		{AccountKey{"::1", 110, "u"}, "pop3://u@[::1]:110"},
		{AccountKey{"fe80::1%eth0", 110, "u"}, "pop3://u@[fe80::1%25eth0]:110"},
		{AccountKey{"pop.x.com", 995, "jörg+tag"}, "pop3://j%C3%B6rg+tag@pop.x.com:995"},
	}
	for _, tt := range tests {
		if got := tt.key.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.key, got, tt.want)
		}
		k, err := ParseAccountKey(tt.want)
		if err != nil {
			t.Errorf("ParseAccountKey(%q): %v", tt.want, err)
		} else if k.String() != tt.want {
			t.Errorf("ParseAccountKey(%q) = %#v, which prints as %q", tt.want, k, k.String())
		}
	}
}

func TestParseAccountKey_Invalid(t *testing.T) {
	for _, s := range []string{
		"",
		"imap://u@h:1",
		"pop3://h:1",
		"pop3://u@h",
		"pop3://u@h:x",
		"pop3://u@h:+1",
		"pop3://u%4@h:1",
		"pop3://u%zz@h:1",
	} {
		if k, err := ParseAccountKey(s); err == nil {
			t.Errorf("ParseAccountKey(%q) = %#v, want an error", s, k)
		}
	}
}

// String must be injective up to server case, and ParseAccountKey its inverse.
func FuzzAccountKey(f *testing.F) {
	f.Add("pop.x.com", 995, "me@x.com")
	f.Add("::1", 110, "a:b")
	f.Add("B@C", 1, "a@b")
	f.Fuzz(func(t *testing.T, server string, port int, user string) {
		k := AccountKey{Server: server, Port: port, User: user}
		s := k.String()
		got, err := ParseAccountKey(s)
		if err != nil {
			t.Fatalf("ParseAccountKey(%q): %v", s, err)
		}
		want := AccountKey{Server: lowerASCII(server), Port: port, User: user}
		if got != want {
			t.Fatalf("ParseAccountKey(%q) = %#v, want %#v", s, got, want)
		}
	})
}
