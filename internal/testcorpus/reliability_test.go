package testcorpus

import (
	"bytes"
	"testing"
)

func TestReliability_SizesAndQuirks(t *testing.T) {
	ms := Reliability(300, 4)
	if digest(ms) != digest(Reliability(300, 4)) {
		t.Fatal("Reliability(300, 4) differs between two calls")
	}
	var big, noFinal, quirky int
	names := map[string]bool{}
	for _, m := range ms {
		if names[m.Name] {
			t.Errorf("duplicate name %q", m.Name)
		}
		names[m.Name] = true
		n := len(m.Data)
		if n < 1<<10 || n > 5<<20+4<<10 {
			t.Errorf("%s: %d bytes, want 1 KB–5 MB", m.Name, n)
		}
		if n >= 1<<20 {
			big++
		}
		if m.Data[n-1] != '\n' {
			noFinal++
		}
		if m.Data[n-1] == '\r' || bytes.Contains(m.Data, []byte("\r\n")) {
			t.Errorf("%s: a CR before an LF or at the end does not survive Dovecot", m.Name)
		}
		for _, q := range quirks {
			if bytes.Contains(m.Data, []byte(q[:len(q)-1])) {
				quirky++
				break
			}
		}
	}
	if big == 0 || noFinal < 30 || quirky < 50 {
		t.Errorf("%d messages ≥ 1 MB, %d without a final newline, %d with quirks: want some, ≥ 30, ≥ 50", big, noFinal, quirky)
	}
}
