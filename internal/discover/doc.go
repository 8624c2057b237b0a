// Package discover finds the POP3 server of an email address, for
// `fetchd add`: first a small table of the large providers that offer POP3
// (with their OAuth2 provider where they need one), then the SRV records of
// RFC 6186 (_pop3s._tcp, then _pop3._tcp), ordered by priority and weight
// as RFC 2782 says, a target of "." meaning the service is not offered.
//
// SRV answers are not authenticated (RFC 6186 §6): Within tells the caller
// whether a target lies inside the address's own domain, so that one
// outside it is shown to the user before any connection is made. Lookups go
// through the Resolver interface, which *net.Resolver satisfies and tests
// fake. The package also parses what the user types: an address
// (SplitAddress) and a HOST[:PORT] (ParseHostPort).
package discover
