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

func TestAccountKey_Identity(t *testing.T) {
	base := AccountKey{Server: "pop.example.com", Port: 995, User: "me"}
	tests := []struct {
		name string
		key  AccountKey
		same bool
	}{
		{"Identical", base, true},
		{"ServerCase", AccountKey{Server: "POP.Example.COM", Port: 995, User: "me"}, true},
		{"OtherPort", AccountKey{Server: "pop.example.com", Port: 110, User: "me"}, false},
		{"OtherUser", AccountKey{Server: "pop.example.com", Port: 995, User: "you"}, false},
		{"UserCase", AccountKey{Server: "pop.example.com", Port: 995, User: "Me"}, false},
		{"OtherServer", AccountKey{Server: "pop2.example.com", Port: 995, User: "me"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			if err := s.SetAccountName(base, "old name"); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkDelivered(base, "a", 1, t1); err != nil {
				t.Fatal(err)
			}
			// A rename in the config only changes the display name.
			if err := s.SetAccountName(tt.key, "new name"); err != nil {
				t.Fatal(err)
			}
			want := map[string]Record{}
			if tt.same {
				want["a"] = Record{State: Delivered, Delivered: t1, Size: 1}
			}
			checkSeen(t, s, tt.key, want)
			accts, err := s.Accounts()
			if err != nil {
				t.Fatal(err)
			}
			if wantN := map[bool]int{true: 1, false: 2}[tt.same]; len(accts) != wantN {
				t.Fatalf("got %d accounts, want %d: %+v", len(accts), wantN, accts)
			}
			if tt.same && accts[0].Name != "new name" {
				t.Errorf("got name %q, want %q", accts[0].Name, "new name")
			}
		})
	}
}

// A user containing '@' must not collide with a server containing it.
func TestAccountKey_Unambiguous(t *testing.T) {
	s := openTemp(t)
	a := AccountKey{Server: "c", Port: 110, User: "a@b"}
	b := AccountKey{Server: "b@c", Port: 110, User: "a"}
	if a.String() == b.String() {
		t.Fatalf("%+v and %+v share the key %q", a, b, a.String())
	}
	if err := s.MarkDelivered(a, "x", 1, t1); err != nil {
		t.Fatal(err)
	}
	checkSeen(t, s, b, map[string]Record{})
}
