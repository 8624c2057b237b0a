// Package integration runs fetchd's end-to-end tests: the real fetchd binary
// against a real Dovecot (POP3, POP3S, STLS) started by scripts/dovecot.sh, with
// mailboxes seeded from internal/testcorpus and results compared byte for byte.
//
// The TestDovecot_* tests check fetching (into a maildir). The TestPeers_*
// tests check delivery through real peers: procmail and maildrop as MDAs, a
// private Postfix over SMTP (scripts/postfix.sh), Dovecot's LMTP server over
// TCP and its unix socket, and an mbox. Each target gets the same 200-message
// mailbox, which must arrive complete and byte-identical apart from the trace
// header fields fetchd and the peer add at the top (stripped exactly, field by
// field, before a SHA-256 comparison). The *Raw tests check each peer without
// fetchd, so a difference seen through fetchd is fetchd's.
//
// The tests read the FETCHD_DOVECOT_* variables that scripts/dovecot.sh writes to
// DIR/env, and the FETCHD_POSTFIX_* ones of scripts/postfix.sh. Without them (or
// without /usr/bin/procmail, /usr/bin/maildrop) the tests that need them skip,
// unless CI=true, where they fail: run ./scripts/test.sh, which installs and
// starts the peers, exports the variables and runs every test. To run only this
// package against peers you started yourself:
//
//	scripts/dovecot.sh start /tmp/dc && scripts/postfix.sh start /tmp/pf
//	set -a && . /tmp/dc/env && . /tmp/pf/env && set +a
//	go test -v -count=1 ./internal/integration/
//	scripts/postfix.sh stop /tmp/pf && scripts/dovecot.sh stop /tmp/dc
//
// The package has no non-test code besides this comment.
package integration
