package deliver

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// lfRandInput returns n random octets drawn mostly from CR, LF and a few
// others, so that CRLF, bare CR, bare LF, CRCRLF and runs of them all occur.
func lfRandInput(r *rand.Rand, n int) []byte {
	const alphabet = "\r\r\r\n\n\nab.\x00\xff"
	p := make([]byte, n)
	for i := range p {
		p[i] = alphabet[r.IntN(len(alphabet))]
	}
	return p
}

// lfWriteSplit writes in to an LFWriter over out in Writes of random sizes
// up to maxChunk, with empty Writes mixed in, and flushes.
func lfWriteSplit(t *testing.T, r *rand.Rand, in []byte, maxChunk int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := NewLFWriter(&out)
	for p := in; len(p) > 0; {
		k := min(len(p), r.IntN(maxChunk+1))
		if n, err := w.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v, want %d, nil", n, err, k)
		}
		p = p[k:]
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestLFWriter_Differential compares LFWriter with bytes.ReplaceAll over
// random inputs split at random points, small and large.
func TestLFWriter_Differential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	msg := benchMessage(256 << 10)
	for iter := range 3000 {
		var in []byte
		switch iter % 3 {
		case 0:
			in = lfRandInput(r, r.IntN(64))
		case 1:
			in = lfRandInput(r, r.IntN(4096))
		default: // a realistic message with some CRs and LFs sprinkled in
			off := r.IntN(len(msg) - 8192)
			in = bytes.Clone(msg[off : off+r.IntN(8192)])
			for range r.IntN(8) {
				if len(in) > 0 {
					in[r.IntN(len(in))] = "\r\n"[r.IntN(2)]
				}
			}
		}
		want := bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))
		for _, maxChunk := range []int{1, 3, 17, 1 << 20} {
			if got := lfWriteSplit(t, r, in, maxChunk); !bytes.Equal(got, want) {
				t.Fatalf("in %q, chunks up to %d:\ngot  %q\nwant %q", in, maxChunk, got, want)
			}
		}
	}
}

// limitWriter takes n octets, then fails, taking what still fits.
type limitWriter struct {
	buf bytes.Buffer
	n   int
}

var errFull = errors.New("full")

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		l.buf.Write(p[:l.n])
		k := l.n
		l.n = 0
		return k, errFull
	}
	l.buf.Write(p)
	l.n -= len(p)
	return len(p), nil
}

// TestLFWriter_DifferentialError checks that with an underlying writer that
// fails part way the octets it took are a prefix of the converted stream,
// that the error comes exactly when the stream does not fit, and that it
// sticks.
func TestLFWriter_DifferentialError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		in := lfRandInput(r, r.IntN(200))
		want := bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))
		lw := &limitWriter{n: r.IntN(len(want) + 2)}
		limit := lw.n
		w := NewLFWriter(lw)
		var failed error
		for p := in; len(p) > 0; {
			k := min(len(p), r.IntN(9))
			n, err := w.Write(p[:k])
			if err != nil {
				if n != 0 || !errors.Is(err, errFull) {
					t.Fatalf("Write = %d, %v, want 0, %v", n, err, errFull)
				}
				failed = err
			} else if failed != nil {
				t.Fatalf("Write after %v succeeded", failed)
			} else if n != k {
				t.Fatalf("Write = %d, want %d", n, k)
			}
			p = p[k:]
		}
		if err := w.Flush(); err != nil {
			failed = err
		}
		if (failed != nil) != (len(want) > limit) {
			t.Fatalf("in %q limit %d: error %v, want one only when %d > %d", in, limit, failed, len(want), limit)
		}
		if got := lw.buf.Bytes(); !bytes.Equal(got, want[:min(limit, len(want))]) {
			t.Fatalf("in %q limit %d: wrote %q, want %q", in, limit, got, want[:min(limit, len(want))])
		}
	}
}
