package discover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// TLS modes, spelled as the config's tls key spells them.
const (
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
)

// Server is one place to fetch mail from.
type Server struct {
	Host string // without a trailing dot
	Port int
	TLS  string // TLSImplicit or TLSStartTLS
	Via  string // how it was found, for the user: "SRV _pop3s._tcp.example.com"
}

// Resolver looks up SRV records; *net.Resolver is one.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (cname string, addrs []*net.SRV, err error)
}

// ErrNotOffered says the domain's SRV records state that it offers no POP3:
// each service's only target is "." (RFC 2782).
var ErrNotOffered = errors.New(`its SRV records say it offers no POP3 (target ".")`)

// LookupSRV asks for _pop3s._tcp.domain and, when that yields no usable
// target, _pop3._tcp.domain, and returns the targets of the first that
// does, in the order RFC 2782 says to try them. intn(n) returns a random
// number in [0, n); it drives the weighted choice. No records at all is
// (nil, nil); a lookup that failed for another reason is an error, so that
// a DNS outage is not mistaken for "no SRV records".
//
// Implicit TLS comes first whatever the priorities say: RFC 8314 §5.1 has
// clients prefer it, and both labels lead to the same mailbox.
func LookupSRV(ctx context.Context, r Resolver, domain string, intn func(int) int) ([]Server, error) {
	notOffered := 0
	for _, svc := range []struct{ label, tls string }{{"pop3s", TLSImplicit}, {"pop3", TLSStartTLS}} {
		name := "_" + svc.label + "._tcp." + domain
		_, recs, err := r.LookupSRV(ctx, svc.label, "tcp", domain)
		var dnsErr *net.DNSError
		switch {
		case err != nil && errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			continue
		case err != nil && len(recs) == 0:
			return nil, fmt.Errorf("SRV lookup of %s: %w", name, err)
		}
		// Go returns the well-formed records with an error naming the
		// malformed ones: those are dropped, the rest used.
		if len(recs) > 0 && allDot(recs) {
			notOffered++
			continue
		}
		var out []Server
		for _, rr := range Order(recs, intn) {
			out = append(out, Server{Host: strings.TrimSuffix(rr.Target, "."), Port: int(rr.Port), TLS: svc.tls, Via: "SRV " + name})
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	if notOffered > 0 {
		return nil, ErrNotOffered
	}
	return nil, nil
}

// allDot reports whether every record's target is "." (RFC 2782: "A Target
// of "." means that the service is decidedly not available at this domain").
func allDot(recs []*net.SRV) bool {
	for _, r := range recs {
		if r != nil && r.Target != "." {
			return false
		}
	}
	return true
}

// Order returns the usable records (not nil, a target other than "." and
// empty, a port other than 0) in the order RFC 2782 says to try them:
// lowest priority first; within one priority, a weighted random choice
// repeated until none is left, zero weights placed first so that they are
// chosen only rarely. intn(n) returns a number in [0, n).
func Order(recs []*net.SRV, intn func(int) int) []*net.SRV {
	var usable []*net.SRV
	for _, r := range recs {
		if r != nil && r.Target != "." && r.Target != "" && r.Port != 0 {
			usable = append(usable, r)
		}
	}
	slices.SortStableFunc(usable, func(a, b *net.SRV) int { return cmp.Compare(a.Priority, b.Priority) })
	out := make([]*net.SRV, 0, len(usable))
	for start := 0; start < len(usable); {
		end := start
		for end < len(usable) && usable[end].Priority == usable[start].Priority {
			end++
		}
		out = append(out, weighted(usable[start:end], intn)...)
		start = end
	}
	return out
}

// weighted orders one priority's records by RFC 2782's selection: sum the
// weights of those left (zero weights first), pick a number from 0 to the
// sum inclusive, take the first record whose running sum reaches it.
func weighted(group []*net.SRV, intn func(int) int) []*net.SRV {
	left := slices.Clone(group)
	slices.SortStableFunc(left, func(a, b *net.SRV) int {
		return cmp.Compare(min(a.Weight, 1), min(b.Weight, 1))
	})
	out := make([]*net.SRV, 0, len(left))
	for len(left) > 0 {
		sum := 0
		for _, r := range left {
			sum += int(r.Weight)
		}
		pick := intn(sum + 1)
		if pick < 0 || pick > sum {
			pick = 0 // a broken source of randomness must not panic
		}
		i, run := 0, 0
		for i = range left {
			run += int(left[i].Weight)
			if run >= pick {
				break
			}
		}
		out = append(out, left[i])
		left = slices.Delete(left, i, i+1)
	}
	return out
}
