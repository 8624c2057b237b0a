package importstate

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// checkFile is what every parse that succeeds must give, whatever the input:
// only UIDLs the POP3 client would accept, no more UIDLs than lines, and
// names safe to print.
func checkFile(t *testing.T, f *File, in []byte) {
	t.Helper()
	n := 0
	for _, m := range f.Mailboxes {
		for _, u := range m.UIDLs {
			if !validUIDL(u.ID) {
				t.Fatalf("invalid UIDL %q", u.ID)
			}
		}
		n += len(m.UIDLs)
		if s := m.String(); strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("mailbox name %q holds a control character", s)
		}
	}
	if lines := bytes.Count(in, []byte("\n")) + 1; n > lines {
		t.Fatalf("%d UIDLs from %d lines", n, lines)
	}
}

func seedFile(f *testing.F, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

func FuzzParseFetchids(f *testing.F) {
	f.Add(seedFile(f, "testdata/fetchmail/fetchids"))
	f.Add([]byte("a@b@h  x y\n\tc@h 1\r\nnospace\n@h 2\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := ParseFetchids(bytes.NewReader(in), "ids")
		if err == nil {
			checkFile(t, file, in)
		}
	})
}

func FuzzParseMpop(f *testing.F) {
	f.Add(seedFile(f, "testdata/mpop/shared_uidls"))
	f.Add([]byte("#\n 2 h u\n#x\ny\n 1 h v\n"))
	f.Add([]byte(" 99999999999999999999 h u\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := ParseMpop(bytes.NewReader(in), "uidls")
		if err == nil {
			checkFile(t, file, in)
		}
	})
}

func FuzzParseGetmail(f *testing.F) {
	f.Add("oldmail-127.0.0.1-11110-alice", seedFile(f, "testdata/getmail/oldmail-127.0.0.1-11110-alice"))
	f.Add("oldmail-h-1-u-INBOX", []byte("1/2\x001700000000\n"))
	f.Add("oldmail--1-110-a-b", []byte(" x\x00 \n\x00\ny\x0099999999999999\n"))
	f.Fuzz(func(t *testing.T, name string, in []byte) {
		file, err := ParseGetmail(bytes.NewReader(in), name)
		if err != nil {
			return
		}
		checkFile(t, file, in)
		m := file.Mailboxes[0]
		// The file's own name must match the account it was parsed as.
		if !m.Matches(m.Server, m.Port, m.User) {
			t.Fatalf("%s does not match its own parts", m)
		}
	})
}
