package testcorpus

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// BenchMix returns n messages with the size mix of the side-by-side benchmark
// (issue 7, bench/run.sh): 80% plain text of 2–20 KB, 12% text of 20–100 KB and
// 8% multipart messages with a base64 attachment of 100 KB–2 MB. Sizes are
// log-uniform within each band, as in real mailboxes where small messages of a
// band outnumber large ones; 2,000 messages come to about 120 MB. The same
// (n, seed) always gives the same messages, and a shorter corpus is a prefix of
// a longer one.
func BenchMix(n int, seed uint64) []Message {
	r := newRand(seed)
	ms := make([]Message, 0, n)
	for i := range n {
		var m Message
		switch k := r.IntN(100); {
		case k < 80:
			m = textMessage(r, seed, i, logUniform(r, 2<<10, 20<<10))
		case k < 92:
			m = textMessage(r, seed, i, logUniform(r, 20<<10, 100<<10))
		default:
			m = attachmentMessage(r, seed, i, logUniform(r, 100<<10, 2<<20))
		}
		m.Name = fmt.Sprintf("benchmix-%d-%05d", seed, i)
		ms = append(ms, m)
	}
	return ms
}

// BenchSmall returns n plain text messages of size bytes give or take 10%:
// the "many small messages" rows of the benchmark, where per-message costs
// (commands, round trips, fsyncs, process starts) dominate.
func BenchSmall(n int, seed uint64, size int) []Message {
	r := newRand(seed)
	ms := make([]Message, 0, n)
	for i := range n {
		m := textMessage(r, seed, i, size*9/10+r.IntN(size/5+1))
		m.Name = fmt.Sprintf("benchsmall-%d-%05d", seed, i)
		ms = append(ms, m)
	}
	return ms
}

// WithField returns a copy of m with the header field "name: value" put
// before its first line, so that every copy of a corpus carries an identifier
// (bench/run.sh uses X-Bench-Id) that survives any client's delivery. Only the
// Data changes; Expected of the result is the stamped bytes.
func WithField(m Message, name, value string) Message {
	hdr := name + ": " + value + "\n"
	data := make([]byte, 0, len(hdr)+len(m.Data))
	data = append(data, hdr...)
	data = append(data, m.Data...)
	return Message{Name: m.Name, Data: data}
}

// logUniform returns a size in [lo, hi) whose logarithm is uniform.
func logUniform(r *rand.Rand, lo, hi int) int {
	v := float64(lo) * math.Exp(r.Float64()*math.Log(float64(hi)/float64(lo)))
	return min(hi-1, max(lo, int(v)))
}
