package pop3test

// SASLFaults make the AUTH exchange (RFC 5034) hostile. The zero value is
// an honest server. They apply where Faults apply (Faults.Sessions), after
// DropAt, StallAt and Replies, which still match the AUTH command line.
type SASLFaults struct {
	// Challenge replaces the first challenge of an exchange: it is sent
	// as given, CRLF appended ("+ not*base64", "+ aGk=\r\n+OK" for an
	// injection). The exchange then goes on as if the real challenge had
	// been sent.
	Challenge string

	// EndlessChallenges answers every response with another challenge,
	// never with +OK or -ERR, until the client cancels.
	EndlessChallenges bool

	// AcceptCancel answers a cancelled exchange ("*") with +OK and logs
	// the session in, instead of -ERR.
	AcceptCancel bool

	// SCRAMForeignNonce sends a server-first nonce that does not start
	// with the client's.
	SCRAMForeignNonce bool

	// SCRAMIterations, if non-zero, is the iteration count the server
	// announces in server-first (and uses, should a client go along);
	// negative values are sent as they are.
	SCRAMIterations int

	// SCRAMBadSignature sends a server-final whose v= is not the server
	// signature: what an impostor that does not know the password sends.
	SCRAMBadSignature bool

	// SCRAMNoServerFinal answers a correct client proof with +OK at once,
	// without the server-final message.
	SCRAMNoServerFinal bool

	// SCRAMError, if set, is sent as server-final "e=<SCRAMError>" in
	// place of the verifier; the exchange then fails with -ERR [AUTH].
	SCRAMError string
}
