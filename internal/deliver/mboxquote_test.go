package deliver

import (
	"bytes"
	"regexp"
	"testing"
	"time"
)

// quoteAll runs in through an mboxrdWriter, split into chunks of n bytes.
func quoteAll(t testing.TB, in []byte, n int) []byte {
	t.Helper()
	var out bytes.Buffer
	q := newMboxrdWriter(&out)
	for len(in) > 0 {
		k := min(n, len(in))
		if w, err := q.Write(in[:k]); w != k || err != nil {
			t.Fatalf("Write = %d, %v, want %d, nil", w, err, k)
		}
		in = in[k:]
	}
	if err := q.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var (
	quotedFrom   = regexp.MustCompile(`(?m)^(>*From )`)
	unquotedFrom = regexp.MustCompile(`(?m)^>(>*From )`)
)

// unquoteMboxrd removes one '>' from every line that matches ^>+From , as an
// mboxrd reader does.
func unquoteMboxrd(b []byte) []byte { return unquotedFrom.ReplaceAll(b, []byte("$1")) }

func TestMboxrdQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"From ", ">From "},
		{"From x\n", ">From x\n"},
		{">From x\n", ">>From x\n"},
		{">>From x\n", ">>>From x\n"},
		{"a\nFrom b\n>From c\n>>From d\ne From f\n", "a\n>From b\n>>From c\n>>>From d\ne From f\n"},
		{"From", "From"},           // no space: not a From line
		{">From", ">From"},         // held back to the end, then written as is
		{"Fromage\n", "Fromage\n"}, // a prefix that stops matching
		{"FFrom x\n", "FFrom x\n"},
		{" From x\n", " From x\n"},
		{"> From x\n", "> From x\n"},
		{"From\nFrom \n", "From\n>From \n"},
		{">\n>>\nFr\n", ">\n>>\nFr\n"},
		{"x\rFrom y\n", "x\rFrom y\n"}, // a bare CR does not end a line
		{"\n\nFrom \n\n", "\n\n>From \n\n"},
		{"a\x00From \n\xffFrom \n", "a\x00From \n\xffFrom \n"},
	}
	for _, tt := range tests {
		for _, n := range []int{1, 2, 3, 5, 1 << 20} {
			if got := quoteAll(t, []byte(tt.in), n); string(got) != tt.want {
				t.Errorf("quote(%q) in %d-byte writes = %q, want %q", tt.in, n, got, tt.want)
			}
		}
		if got := unquoteMboxrd([]byte(tt.want)); string(got) != tt.in {
			t.Errorf("unquote(%q) = %q, want %q", tt.want, got, tt.in)
		}
	}
}

func FuzzMboxrdQuote(f *testing.F) {
	for _, s := range []string{"", "From x\n", ">From \n>>From \nFromage\n", "a\r\nFrom \r\n", "From"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		got := quoteAll(t, in, int(chunk)+1)
		if want := quotedFrom.ReplaceAll(in, []byte(">$1")); !bytes.Equal(got, want) {
			t.Fatalf("quote(%q) = %q, want %q", in, got, want)
		}
		if back := unquoteMboxrd(got); !bytes.Equal(back, in) {
			t.Fatalf("unquote(quote(%q)) = %q", in, back)
		}
		if bytes.HasPrefix(got, fromSpace) || bytes.Contains(got, []byte("\nFrom ")) {
			t.Fatalf("quote(%q) = %q still has a From line", in, got)
		}
	})
}

func TestMbox_FromLine(t *testing.T) {
	at := time.Date(2024, 3, 5, 7, 8, 9, 0, time.FixedZone("CET", 3600))
	tests := []struct{ sender, want string }{
		{"a@example.com", "From a@example.com Tue Mar  5 06:08:09 2024\n"},
		{"", "From MAILER-DAEMON Tue Mar  5 06:08:09 2024\n"},
		{`"j doe"@x`, "From \"j_doe\"@x Tue Mar  5 06:08:09 2024\n"},
		{"a\r\nFrom: b", "From a__From:_b Tue Mar  5 06:08:09 2024\n"},
	}
	for _, tt := range tests {
		if got := string(fromLine(tt.sender, at)); got != tt.want {
			t.Errorf("fromLine(%q) = %q, want %q", tt.sender, got, tt.want)
		}
	}
	if got, want := string(fromLine("a", time.Date(2024, 12, 25, 0, 0, 0, 0, time.UTC))), "From a Wed Dec 25 00:00:00 2024\n"; got != want {
		t.Errorf("fromLine = %q, want %q", got, want)
	}
}
