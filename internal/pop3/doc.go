// Package pop3 is a POP3 client: RFC 1939 commands, RFC 2449 CAPA and response
// codes, RFC 3206 codes (SYS/TEMP, SYS/PERM, AUTH), implicit TLS (RFC 8314) and
// STLS (RFC 2595), and a streaming RETR body reader that removes dot-stuffing and
// keeps every other byte.
//
// It knows nothing of delivery or state. Every blocking call takes a
// context.Context and every read and write has a deadline, so a stalled server
// costs a timeout, never a hang. The TCP connect and each TLS handshake have
// one deadline as a whole, and a server that trickles a reply or a body
// just under the read deadline fails with ErrTooSlow (Config.MinRate). Commands go out through one writer and replies
// come back through one reader, matched in order, which is what RFC 2449
// PIPELINING needs.
//
// Certificates and host names are always verified. Credentials never go out
// over a connection without TLS unless Config.AllowInsecure says so, and in
// TLSStartTLS mode a server that cannot do STLS is left before any credential
// is sent. Passwords and APOP digests never appear in errors or traces.
//
// Errors are wrapped with the operation ("retr 3: read reply: i/o timeout").
// A -ERR reply is an *Error carrying its response code; IsTemporary says
// whether trying again later may help. After an I/O error, a timeout, a
// cancelled context or a protocol violation the client is broken: every
// later command fails with ErrBroken, and the caller reconnects.
package pop3
