package dnstest

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// Go's own resolver, pointed at the server, gets the records back: the
// encoding is what a real resolver accepts.
func TestServer_GoResolver(t *testing.T) {
	s := NewServer(t, map[string][]net.SRV{
		"_pop3s._tcp.example.test": {{Target: "pop.example.test.", Port: 995, Priority: 1, Weight: 2}},
		"_pop3._tcp.example.test":  {{Target: ".", Port: 0}},
	})
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, s.Addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, recs, err := r.LookupSRV(ctx, "pop3s", "tcp", "example.test")
	if err != nil || len(recs) != 1 || recs[0].Target != "pop.example.test." || recs[0].Port != 995 || recs[0].Weight != 2 {
		t.Fatalf("pop3s: %v, %v", recs, err)
	}
	_, recs, err = r.LookupSRV(ctx, "pop3", "tcp", "example.test")
	if err != nil || len(recs) != 1 || recs[0].Target != "." {
		t.Fatalf("pop3: %v, %v; want the root target", recs, err)
	}
	_, _, err = r.LookupSRV(ctx, "pop3s", "tcp", "other.test")
	if dnsErr, ok := err.(*net.DNSError); !ok || !dnsErr.IsNotFound {
		t.Fatalf("unknown name: %v, want a not-found DNSError", err)
	}
	if q := s.Queries(); len(q) < 3 || !strings.HasPrefix(q[0], "_pop3s._tcp.example.test") {
		t.Errorf("queries %q", q)
	}
}

func encodeQuery(id uint16, name string, qtype uint16) []byte {
	msg := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	msg = append(msg, encodeName(name)...)
	return append(msg, byte(qtype>>8), byte(qtype), 0, classIN)
}

// FuzzParseQuery: never panics; the server answers every message of a
// full header with the same ID, and a query it accepts with the question
// exactly as asked.
func FuzzParseQuery(f *testing.F) {
	f.Add(encodeQuery(7, "_pop3s._tcp.example.test", typeSRV))
	f.Add(encodeQuery(0xffff, "", 1))
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 33, 0, 1})
	f.Add([]byte{0, 1})
	s := &Server{records: map[string][]net.SRV{"_pop3s._tcp.example.test": {{Target: "pop.example.test", Port: 995}}}}
	f.Fuzz(func(t *testing.T, msg []byte) {
		s.queries = nil // the fuzzer calls this millions of times
		reply := s.answer(msg)
		if len(msg) < 12 {
			if reply != nil {
				t.Fatalf("answered a %d-byte message", len(msg))
			}
			return
		}
		if len(reply) < 12 || !bytes.Equal(reply[:2], msg[:2]) {
			t.Fatalf("reply %x does not carry the ID of %x", reply, msg[:2])
		}
		q, err := parseQuery(msg)
		if err != nil {
			return
		}
		if !bytes.Equal(q.raw, msg[12:12+len(q.raw)]) || !bytes.Equal(reply[12:12+len(q.raw)], q.raw) {
			t.Fatalf("question %x not echoed in %x", q.raw, reply)
		}
	})
}
