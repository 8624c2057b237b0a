package testharness

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"fetchd/internal/testcorpus"
)

func TestParseMboxrd_UnquotesAndSplits(t *testing.T) {
	mbox := "From a@b Fri Mar  1 09:00:00 2024\nSubject: 1\n\n>From quoted\n>>From twice\n\n" +
		"From c@d Fri Mar  1 09:00:00 2024\nSubject: 2\n\nbody\n\n"
	fs, err := ParseMboxrd([]byte(mbox))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Subject: 1\n\nFrom quoted\n>From twice\n", "Subject: 2\n\nbody\n"}
	if len(fs) != len(want) {
		t.Fatalf("got %d messages, want %d", len(fs), len(want))
	}
	for i, f := range fs {
		if string(f.Data) != want[i] {
			t.Errorf("message %d: got %q, want %q", i, f.Data, want[i])
		}
	}
}

func TestStripFields(t *testing.T) {
	in := "Return-Path: <a@b>\nDelivered-To: x\nReceived: from y\n\tby z\nSubject: s\n"
	got, err := StripFields([]byte(in), LMTPFields)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Subject: s\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := StripFields([]byte("Subject: s\n"), LMTPFields); err == nil {
		t.Error("a missing field was not reported")
	}
	if _, err := StripFields([]byte(in), []Field{{Name: "Return-Path", Has: "<x@y>"}}); err == nil {
		t.Error("a field without the wanted text was not reported")
	}
}

func TestScannerCompare_CountsLostDuplicatesUnknown(t *testing.T) {
	ms := testcorpus.Tricky()[:3]
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.MkdirAll(filepath.Join(dir, "new"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "new", name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a", testcorpus.Expected(ms[0]))
	write("b", testcorpus.Expected(ms[0]))
	write("c", testcorpus.Expected(ms[1]))
	write("d", []byte("junk\n"))
	want, names := Want(ms, testcorpus.Expected)
	s := &Scanner{Maildir: dir}
	got, problems := s.Scan(t)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	d := Compare(want, names, got)
	if len(d.Lost) != 1 || d.Lost[0] != ms[2].Name || d.Duplicates != 1 || d.DupMax != 2 || d.Unknown != 1 {
		t.Errorf("got %+v, want 1 lost (%s), 1 duplicate, max 2, 1 unknown", d, ms[2].Name)
	}
	// A second scan reads only new files, and sees the same.
	write("e", testcorpus.Expected(ms[2]))
	got, _ = s.Scan(t)
	if got[sha256.Sum256(testcorpus.Expected(ms[2]))] != 1 || len(Compare(want, names, got).Lost) != 0 {
		t.Errorf("rescan did not pick up the new file")
	}
}
