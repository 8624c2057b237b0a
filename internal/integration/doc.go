// Package integration runs fetchd's end-to-end tests: the real fetchd binary
// against a real Dovecot (POP3, POP3S, STLS) started by scripts/dovecot.sh, with
// mailboxes seeded from internal/testcorpus and results compared byte for byte.
//
// The tests read the FETCHD_DOVECOT_* variables that scripts/dovecot.sh writes to
// DIR/env. Without them the tests skip, unless CI=true, where they fail: run
// ./scripts/test.sh, which starts Dovecot, exports the variables and runs every
// test. To run only this package against a Dovecot you started yourself:
//
//	scripts/dovecot.sh start /tmp/dc && set -a && . /tmp/dc/env && set +a
//	go test -v -count=1 ./internal/integration/
//	scripts/dovecot.sh stop /tmp/dc
//
// The package has no non-test code besides this comment.
package integration
