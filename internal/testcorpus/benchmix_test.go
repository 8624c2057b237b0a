package testcorpus

import (
	"bytes"
	"net/mail"
	"testing"
)

func TestBenchMix_DeterministicPrefixAndBands(t *testing.T) {
	a := BenchMix(400, 7)
	if digest(a) != digest(BenchMix(400, 7)) {
		t.Fatal("BenchMix(400, 7) differs between two calls")
	}
	if digest(BenchMix(100, 7)) != digest(a[:100]) {
		t.Error("BenchMix(100, 7) is not a prefix of BenchMix(400, 7)")
	}
	var small, medium, large int
	for _, m := range a {
		switch n := len(m.Data); {
		case n < 2<<10:
			t.Errorf("%s: %d bytes, below the smallest band", m.Name, n)
		case n < 20<<10+1024:
			small++
		case n < 100<<10+1024:
			medium++
		case n <= 2<<20+4096:
			large++
		default:
			t.Errorf("%s: %d bytes, above the largest band", m.Name, n)
		}
		if _, err := mail.ReadMessage(bytes.NewReader(m.Data)); err != nil {
			t.Errorf("%s: not a message: %v", m.Name, err)
		}
	}
	// 80/12/8 of 400 is 320/48/32; allow for the draw.
	if small < 290 || small > 350 || medium < 30 || medium > 70 || large < 18 || large > 48 {
		t.Errorf("bands small/medium/large = %d/%d/%d, want about 320/48/32", small, medium, large)
	}
}

func TestBenchSmall_Sizes(t *testing.T) {
	ms := BenchSmall(200, 3, 8<<10)
	for _, m := range ms {
		if n := len(m.Data); n < 8<<10*9/10 || n > 8<<10*11/10+512 {
			t.Errorf("%s: %d bytes, want about 8 KB", m.Name, n)
		}
	}
	if digest(ms) != digest(BenchSmall(200, 3, 8<<10)) {
		t.Error("BenchSmall differs between two calls")
	}
}

func TestWithField_PrependsHeader(t *testing.T) {
	m := Message{Name: "x", Data: []byte("Subject: hi\n\nbody")}
	got := WithField(m, "X-Bench-Id", "42")
	if want := "X-Bench-Id: 42\nSubject: hi\n\nbody"; string(got.Data) != want {
		t.Errorf("got %q, want %q", got.Data, want)
	}
	if string(m.Data) != "Subject: hi\n\nbody" {
		t.Errorf("WithField changed its argument to %q", m.Data)
	}
	if string(Expected(got)) != "X-Bench-Id: 42\nSubject: hi\n\nbody\n" {
		t.Errorf("Expected = %q", Expected(got))
	}
}
