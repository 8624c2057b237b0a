// Package dnstest is a DNS server for tests, like net/http/httptest: it
// listens on loopback UDP and answers SRV queries from a table, so that
// `fetchd add --dns-server` can be tested without a network. It speaks just
// enough of RFC 1035 §4 for Go's resolver: one question in, the question
// and the matching SRV records (RFC 2782) out, NXDOMAIN for names it does
// not know. It is meant for tests only.
package dnstest

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
)

// Resource record types and classes used here (RFC 1035 §3.2.2, RFC 2782).
const (
	typeSRV  = 33
	classIN  = 1
	rcodeNX  = 3 // NXDOMAIN
	rcodeErr = 1 // FORMERR
)

// Server answers SRV queries for the names in its table.
type Server struct {
	Addr string // host:port it listens on

	conn    net.PacketConn
	records map[string][]net.SRV // lower-case names without the trailing dot
	wg      sync.WaitGroup

	mu      sync.Mutex
	queries []string
}

// NewServer starts a server on 127.0.0.1 answering for records, whose keys
// are names such as "_pop3s._tcp.example.test"; tb.Cleanup stops it.
func NewServer(tb testing.TB, records map[string][]net.SRV) *Server {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	s := &Server{Addr: conn.LocalAddr().String(), conn: conn, records: map[string][]net.SRV{}}
	for name, rrs := range records {
		s.records[strings.ToLower(strings.TrimSuffix(name, "."))] = rrs
	}
	s.wg.Add(1)
	go s.serve()
	tb.Cleanup(func() { conn.Close(); s.wg.Wait() })
	return s
}

// Queries returns the names asked so far, in order.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		reply := s.answer(buf[:n])
		if reply != nil {
			s.conn.WriteTo(reply, from)
		}
	}
}

// answer builds the reply to one query message, or nil for one too broken
// to answer.
func (s *Server) answer(msg []byte) []byte {
	q, err := parseQuery(msg)
	if err != nil {
		if len(msg) < 12 {
			return nil
		}
		return header(binary.BigEndian.Uint16(msg), rcodeErr, 0, 0)
	}
	s.mu.Lock()
	s.queries = append(s.queries, q.name)
	s.mu.Unlock()
	rrs, known := s.records[strings.ToLower(q.name)]
	if !known {
		return append(header(q.id, rcodeNX, 1, 0), q.raw...)
	}
	if q.qtype != typeSRV || q.qclass != classIN {
		rrs = nil // the name exists, with no records of that type
	}
	out := append(header(q.id, 0, 1, len(rrs)), q.raw...)
	for _, rr := range rrs {
		out = appendSRV(out, rr)
	}
	return out
}

// header is a response header: QR, AA, RD and RA set (Go's resolver takes
// an answer without RA and AA as a lame referral).
func header(id uint16, rcode, qd, an int) []byte {
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], id)
	binary.BigEndian.PutUint16(h[2:], 0x8000|0x0400|0x0100|0x0080|uint16(rcode))
	binary.BigEndian.PutUint16(h[4:], uint16(qd))
	binary.BigEndian.PutUint16(h[6:], uint16(an))
	return h
}

// appendSRV appends one answer: the owner as a pointer to the question's
// name at offset 12 (RFC 1035 §4.1.4), then SRV's priority, weight, port and
// an uncompressed target (RFC 2782 forbids compressing it).
func appendSRV(out []byte, rr net.SRV) []byte {
	target := encodeName(rr.Target)
	out = append(out, 0xc0, 12)
	out = binary.BigEndian.AppendUint16(out, typeSRV)
	out = binary.BigEndian.AppendUint16(out, classIN)
	out = binary.BigEndian.AppendUint32(out, 60)
	out = binary.BigEndian.AppendUint16(out, uint16(6+len(target)))
	out = binary.BigEndian.AppendUint16(out, rr.Priority)
	out = binary.BigEndian.AppendUint16(out, rr.Weight)
	out = binary.BigEndian.AppendUint16(out, rr.Port)
	return append(out, target...)
}

// encodeName writes a name as labels; "." and "" are the root.
func encodeName(name string) []byte {
	var out []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		out = append(out, byte(len(l)))
		out = append(out, l...)
	}
	return append(out, 0)
}

// query is the question of a DNS message.
type query struct {
	id            uint16
	name          string // without the trailing dot
	qtype, qclass uint16
	raw           []byte // the question section as received
}

var errMalformed = errors.New("malformed DNS query")

// parseQuery reads a query's header and its one question (RFC 1035 §4.1.1,
// §4.1.2). Compression pointers are refused: a query's only name is the
// first, so it never needs one.
func parseQuery(msg []byte) (query, error) {
	if len(msg) < 12 {
		return query{}, errMalformed
	}
	q := query{id: binary.BigEndian.Uint16(msg)}
	flags := binary.BigEndian.Uint16(msg[2:])
	if flags&0x8000 != 0 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return query{}, errMalformed // a response, or not exactly one question
	}
	var labels []string
	i := 12
	for {
		if i >= len(msg) {
			return query{}, errMalformed
		}
		n := int(msg[i])
		i++
		if n == 0 {
			break
		}
		if n > 63 || i+n > len(msg) {
			return query{}, errMalformed
		}
		labels = append(labels, string(msg[i:i+n]))
		i += n
	}
	if i+4 > len(msg) {
		return query{}, errMalformed
	}
	q.name = strings.Join(labels, ".")
	if len(q.name) > 253 {
		return query{}, errMalformed
	}
	q.qtype = binary.BigEndian.Uint16(msg[i:])
	q.qclass = binary.BigEndian.Uint16(msg[i+2:])
	q.raw = append([]byte(nil), msg[12:i+4]...)
	return q, nil
}
