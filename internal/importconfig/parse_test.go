package importconfig

import (
	"slices"
	"strings"
	"testing"
)

// TestParseErrors: what each program itself refuses is an error naming the
// file and the line, and saying what is wrong.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, program, data, want string
	}{
		{"fetchmail unknown word", Fetchmail, "# c\npoll a proto pop3\n  user u pass p keep\n  keepp\n", `bad.rc:4: unexpected "keepp"`},
		{"fetchmail unknown set", Fetchmail, "set daemonn 300\n", `bad.rc:1: unknown global option "daemonn"`},
		{"fetchmail server option late", Fetchmail, "poll a user b\n  timeout 30\n", `bad.rc:2: server option "timeout" after user options`},
		{"fetchmail defaults late", Fetchmail, "poll a user b pass c\ndefaults keep\n", "bad.rc:2: a defaults entry must be the first entry"},
		{"fetchmail no server", Fetchmail, "poll\n", "bad.rc:1: poll needs a server name"},
		{"fetchmail bad protocol", Fetchmail, "poll a proto smtp user b\n", `bad.rc:1: protocol must be`},
		{"fetchmail number expected", Fetchmail, "poll a user b\n limit lots\n", `bad.rc:2: limit needs a number, got "lots"`},
		{"fetchmail unknown no", Fetchmail, "poll a user b no such\n", `bad.rc:1: unexpected "no"`},
		{"fetchmail stray word", Fetchmail, "hello\n", `bad.rc:1: unexpected "hello": a statement starts with`},
		{"mpop unknown command", Mpop, "defaults\ntls on\nhostt pop.example.com\n", `bad.rc:3: unknown command "hostt": did you mean host?`},
		{"mpop password glued by a no-break space", Mpop, "account a\npassword\u00a0secret12\n", `bad.rc:2: not an mpop command (the line is not shown`},
		{"mpop first command", Mpop, "# c\nhost pop.example.com\n", "bad.rc:2: first command must be account or defaults"},
		{"mpop unknown parent", Mpop, "account a : b\n", "bad.rc:1: account b not (yet) defined"},
		{"mpop duplicate account", Mpop, "account a\naccount a\n", "bad.rc:2: account a was already defined"},
		{"mpop defaults argument", Mpop, "defaults x\n", "bad.rc:1: defaults takes no argument"},
		{"getmail no section", Getmail, "type = SimplePOP3Retriever\n", `bad.rc:1: a line before any [section] header (not shown`},
		{"getmail no delimiter", Getmail, "[retriever]\npassword my secret\n", `bad.rc:2: not a key = value line (not shown`},
		{"getmail password alone", Getmail, "[retriever]\npassword =\nhunter2secret\n", `bad.rc:3: not a key = value line (not shown`},
		{"fetchmail password not shown", Fetchmail, "poll a user b password my secret\n", "bad.rc:1: unexpected a word next to a password (not shown"},
		{"getmail duplicate key", Getmail, "[retriever]\nserver = a\nServer = b\n", "bad.rc:3: server is set twice in [retriever]"},
		{"getmail duplicate section", Getmail, "[retriever]\n[retriever]\n", "bad.rc:2: section [retriever] appears twice"},
		{"getmail no retriever", Getmail, "[destination]\ntype = Maildir\n", "bad.rc: no [retriever] section"},
		{"unknown program", "procmail", "", `unknown program "procmail"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := translate(tt.program, []source{{path: "bad.rc", data: []byte(tt.data)}}, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows a password: %v", err)
			}
		})
	}
}

// TestFetchmailLexer: keywords, noise words, the name state after user,
// is, to, password and "=", quoted strings that span lines, and escapes.
func TestFetchmailLexer(t *testing.T) {
	tests := []struct {
		in   string
		want []string // kind:text of each token before EOF
	}{
		{`poll a.example with proto pop3: user "x y", with password 1234 is keep here;`,
			[]string{"k:poll", "s:a.example", "k:protocol", "p:pop3", "k:user", "s:x y", "k:password", "s:1234", "k:is", "s:keep", "k:here"}},
		{"nokeep nofetchall limit 10 antispam -1", []string{"k:no", "k:keep", "k:no", "k:fetchall", "k:limit", "n:10", "k:antispam", "n:-1"}},
		{"auth password pass password", []string{"k:auth", "a:password", "k:password", "s:password"}},
		{"to 'hurkle'='happy' snark here", []string{"k:to", "s:hurkle", "k:=", "s:happy", "s:snark", "k:here"}},
		// \101 is decimal ('e'), \0101 is octal 010 and a '1'.
		{"mda \"a\\x41\\101\\0101\\tb\" # comment\nkeep", []string{"k:mda", "s:aAe\b1\tb", "k:keep"}},
		{"password \"two\nlines\" keep", []string{"k:password", "s:two\nlines", "k:keep"}},
		{"smtphost a,b;c:d", []string{"k:smtphost", "s:a", "s:b", "s:c", "s:d"}},
		{`mda "unclosed`, []string{"k:mda", `s:"unclosed`}},
		{"via POP3 IMAP Pop3", []string{"k:via", "p:pop3", "p:imap", "s:Pop3"}},
	}
	kinds := map[fmKind]string{fmKeyword: "k", fmString: "s", fmNumber: "n", fmAuth: "a", fmProto: "p"}
	for _, tt := range tests {
		var got []string
		for _, tok := range fmLex([]byte(tt.in)) {
			if tok.kind != fmEOF {
				got = append(got, kinds[tok.kind]+":"+tok.text)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("fmLex(%q):\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestFetchmailLines(t *testing.T) {
	toks := fmLex([]byte("poll a\n  password \"x\ny\"\n  keep\n"))
	lines := []int{}
	for _, tok := range toks {
		lines = append(lines, tok.line)
	}
	if want := []int{1, 1, 2, 2, 4, 4}; !slices.Equal(lines, want) {
		t.Errorf("token lines %v, want %v", lines, want)
	}
}

// TestParseTuple: Python tuple literals as getmail writes them.
func TestParseTuple(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{`("pass", "show", 'mail/x')`, []string{"pass", "show", "mail/x"}, ""},
		{"(\n  \"a\",  # first\n  'b',\n  )", []string{"a", "b"}, ""},
		{`("only",)`, []string{"only"}, ""},
		{`()`, nil, ""},
		{`(r"sam\D*@x", "a\tb\x41\u00e9\101", "it's" 's')`, []string{`sam\D*@x`, "a\tbAéA", "it'ss"}, ""},
		{`('''tri'ple''',)`, []string{"tri'ple"}, ""},
		{`("only")`, nil, "not a tuple"},
		{`"a", "b"`, nil, "not a tuple"},
		{`("a" "b"`, nil, "expected , or )"},
		{`("a)`, nil, "not closed"},
		{`("a", b)`, nil, "expected a quoted string"},
		{`("a",) x`, nil, "text after"},
		{`("\x4",)`, nil, "too short"},
	}
	for _, tt := range tests {
		got, err := parseTuple(tt.in)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseTuple(%q): got %q, %v; want an error with %q", tt.in, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("parseTuple(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestMDADeliver: placeholders the source substitutes stay, quotes around
// them go, other '%' stay literal, and plain commands need no shell.
func TestMDADeliver(t *testing.T) {
	tests := []struct {
		cmd, known string
		wantArgv   []string
		wantShell  string
		wantWhy    string
	}{
		{"/usr/bin/procmail -d %T", "TF", []string{"/usr/bin/procmail", "-d", "%T"}, "", ""},
		{"/usr/bin/procmail -f '%F' -d $USER", "F", nil, "/usr/bin/procmail -f %F -d $USER", ""},
		{"/usr/bin/msmtp --host=localhost --from='%F' -- $USER", "F", nil, "/usr/bin/msmtp --host=localhost --from=%F -- $USER", ""},
		{"maildrop -d %T", "F", []string{"maildrop", "-d", "%%T"}, "", ""},
		{"date +%s | logger", "TF", nil, "date +%%s | logger", ""},
		{`procmail -a "x %F y"`, "F", nil, "", `placeholder %F inside "…"`},
		{"bin/mda %T", "T", nil, "bin/mda %T", ""},
		{"   ", "T", nil, "", "empty"},
	}
	for _, tt := range tests {
		d, why := mdaDeliver(tt.cmd, tt.known)
		switch {
		case tt.wantWhy != "":
			if !strings.Contains(why, tt.wantWhy) {
				t.Errorf("mdaDeliver(%q): why %q, want %q", tt.cmd, why, tt.wantWhy)
			}
		case why != "" || !slices.Equal(d.MDA, tt.wantArgv) || d.MDAShell != tt.wantShell:
			t.Errorf("mdaDeliver(%q) = %q, %q, %q; want %q, %q", tt.cmd, d.MDA, d.MDAShell, why, tt.wantArgv, tt.wantShell)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	tests := map[string]string{
		"jsmith@pop.provider.net":  "jsmith-pop.provider.net",
		"-rf@x":                    "rf-x",
		"a  b//c":                  "a-b-c",
		"@@@":                      "account",
		"é@ü":                      "account",
		strings.Repeat("a", 100):   strings.Repeat("a", 56),
		"John.Smith@other.example": "John.Smith-other.example",
	}
	for in, want := range tests {
		if got := sanitizeName(in); got != want {
			t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
	taken := map[string]bool{}
	var got []string
	for range 3 {
		got = append(got, uniqueName("x", taken))
	}
	if want := []string{"x", "x-2", "x-3"}; !slices.Equal(got, want) {
		t.Errorf("uniqueName: %q, want %q", got, want)
	}
}

// TestPlaintextDropsPins: a fingerprint set while TLS is off is listed, not
// written, since fetchd refuses pins without TLS.
func TestPlaintextDropsPins(t *testing.T) {
	rc := "account a\nhost h\nuser u\npassword p\ntls off\nauth user\n" +
		"tls_fingerprint 8F:4E:1C:2A:9B:33:70:D5:6E:21:A0:0C:7B:5D:E8:91:04:36:FF:12:9A:C3:58:B7:2D:60:E4:1F:83:CA:07:B9\n" +
		"delivery maildir /m\n"
	r, err := translate(Mpop, []source{{path: "rc", data: []byte(rc)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Accounts[0]
	if a.TLS != "none" || a.TLSFingerprint != nil || a.Disabled != "" {
		t.Errorf("tls %q, pins %q, disabled %q; want none, no pins, imported", a.TLS, a.TLSFingerprint, a.Disabled)
	}
	if !slices.ContainsFunc(r.Notes, func(n Note) bool { return n.Option == "tls_fingerprint" }) {
		t.Errorf("the dropped pin is not listed: %v", r.Notes)
	}
}

// TestMpopTLSOff: mpop with tls off sends no cleartext password unless told
// to; the import must not do worse.
func TestMpopTLSOff(t *testing.T) {
	tests := []struct {
		auth     string // "" = not set
		tls      string
		insecure bool
		note     bool // a note explains the change
	}{
		{"", "starttls", false, true},
		{"on", "starttls", false, true},
		{"cram-md5", "none", true, false},
		{"scram-sha-256", "none", true, false},
		{"user", "none", true, false},
		{"plain", "none", true, false},
		{"gssapi", "starttls", false, true},
		{"ntlm", "starttls", false, true},
		{"external", "starttls", false, true},
	}
	for _, tt := range tests {
		t.Run("auth="+tt.auth, func(t *testing.T) {
			rc := "account a\nhost h\nuser u\npassword p\ntls off\ndelivery maildir /m\n"
			if tt.auth != "" {
				rc += "auth " + tt.auth + "\n"
			}
			r, err := translate(Mpop, []source{{path: "rc", data: []byte(rc)}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			a := r.Accounts[0]
			if a.TLS != tt.tls || a.AllowInsecure != tt.insecure {
				t.Errorf("tls %q, allow_insecure %v; want %q, %v", a.TLS, a.AllowInsecure, tt.tls, tt.insecure)
			}
			noted := slices.ContainsFunc(r.Notes, func(n Note) bool { return n.Option == "tls off" })
			if noted != tt.note {
				t.Errorf("note on tls off: %v, want %v (%v)", noted, tt.note, r.Notes)
			}
		})
	}
}

// TestFetchmailNoTLS: sslproto ” turns TLS off; only where fetchmail may
// have sent the password in cleartext does the import do the same.
func TestFetchmailNoTLS(t *testing.T) {
	tests := []struct{ auth, tls string }{
		{"", "none"},
		{"password", "none"},
		{"cram-md5", "none"},
		{"ntlm", "starttls"},
		{"gssapi", "starttls"},
	}
	for _, tt := range tests {
		t.Run("auth="+tt.auth, func(t *testing.T) {
			rc := "poll h proto pop3"
			if tt.auth != "" {
				rc += " auth " + tt.auth
			}
			rc += " user u pass p sslproto ''\n"
			r, err := translate(Fetchmail, []source{{path: "rc", data: []byte(rc)}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a := r.Accounts[0]; a.TLS != tt.tls || a.AllowInsecure != (tt.tls == "none") {
				t.Errorf("tls %q, allow_insecure %v; want %q", a.TLS, a.AllowInsecure, tt.tls)
			}
		})
	}
}

// A password with a line break cannot go into a password file (fetchd check
// would refuse it): it is listed, not written.
func TestPasswordWithLineBreakNotWritten(t *testing.T) {
	r, err := translate(Fetchmail, []source{{path: "rc", data: []byte("poll h proto pop3 user u pass \"ab\\ncd\"\n")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.Accounts[0]; a.Password != "" {
		t.Errorf("password %q written", a.Password)
	}
	if !slices.ContainsFunc(r.Notes, func(n Note) bool { return n.Option == "password" && strings.Contains(n.Reason, "line break") }) {
		t.Errorf("not listed: %v", r.Notes)
	}
}
