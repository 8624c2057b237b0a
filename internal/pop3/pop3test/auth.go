package pop3test

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
)

// handleAuth serves the AUTHORIZATION state (RFC 1939 §4, §7; RFC 2595 §4;
// RFC 5034 in sasl.go).
func (ss *session) handleAuth(verb, arg string) error {
	switch verb {
	case "STLS":
		return ss.stls(arg)
	case "USER":
		if ss.needTLS() {
			return ss.reply(errNeedTLS)
		}
		if arg == "" {
			return ss.reply("-ERR USER needs a name")
		}
		// Always +OK, so that USER does not reveal which names exist.
		ss.user = arg
		return ss.reply("+OK send PASS")
	case "PASS":
		if ss.needTLS() {
			return ss.reply(errNeedTLS)
		}
		if ss.user == "" {
			return ss.reply("-ERR USER first")
		}
		// RFC 1939 §7: PASS has one argument, which may contain spaces.
		user := ss.user
		ok := ss.srv.knownUser(user) && arg == ss.srv.currentPassword()
		ss.user = ""
		return ss.login(user, ok)
	case "APOP":
		if !ss.srv.cfg.apop || ss.timestamp == "" {
			return ss.reply("-ERR APOP not supported")
		}
		if ss.needTLS() {
			return ss.reply(errNeedTLS)
		}
		args := strings.Split(arg, " ")
		if len(args) != 2 {
			return ss.reply("-ERR usage: APOP name digest")
		}
		sum := md5.Sum([]byte(ss.timestamp + ss.srv.currentPassword()))
		want := hex.EncodeToString(sum[:])
		ok := ss.srv.knownUser(args[0]) &&
			subtle.ConstantTimeCompare([]byte(strings.ToLower(args[1])), []byte(want)) == 1
		return ss.login(args[0], ok)
	case "AUTH":
		return ss.auth(arg)
	case "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP":
		return ss.reply("-ERR not in TRANSACTION state: log in first")
	}
	return ss.reply("-ERR unknown command")
}

const errNeedTLS = "-ERR [AUTH] plaintext authentication disallowed without TLS"

// needTLS reports whether credentials must be refused over cleartext.
func (ss *session) needTLS() bool {
	return ss.srv.cfg.requireTLSForLogin && !ss.tls
}

// login finishes PASS or APOP for user: check credentials, pause, faults,
// then the lock.
func (ss *session) login(user string, credentialsOK bool) error {
	if !credentialsOK {
		return ss.reply("-ERR [AUTH] invalid credentials")
	}
	if !ss.loginPause() {
		return errEnd
	}
	switch {
	case ss.f.InUse:
		return ss.reply("-ERR [IN-USE] mailbox locked")
	case ss.f.LoginDelay:
		return ss.reply("-ERR [LOGIN-DELAY] wait")
	}
	s := ss.srv
	s.mu.Lock()
	if !s.lockLocked(ss.id, user) {
		s.mu.Unlock()
		// RFC 2449 §8.1.1: IN-USE.
		return ss.reply("-ERR [IN-USE] mailbox locked by another session")
	}
	ss.loggedIn = user
	s.logins[user]++
	s.inTxn++
	s.peakTxn = max(s.peakTxn, s.inTxn)
	ss.inTxn = true
	// RFC 1939 §4: the maildrop is numbered when the session enters TRANSACTION.
	ss.msgs = slices.Clone(s.mailbox)
	s.mu.Unlock()
	ss.deleted = make([]bool, len(ss.msgs))
	ss.state = transaction
	n, size := ss.stat()
	return ss.reply("+OK mailbox has %d messages (%d octets)", n, size)
}

// stls serves RFC 2595 STLS: only in AUTHORIZATION, only once.
func (ss *session) stls(arg string) error {
	switch {
	case arg != "":
		return ss.reply("-ERR STLS takes no argument")
	case ss.tls:
		return ss.reply("-ERR TLS already active")
	case ss.f.StripSTLS:
		return ss.reply("-ERR unknown command")
	case !ss.stlsAvailable():
		return ss.reply("-ERR STLS not supported")
	case ss.f.STLSRefuse:
		return ss.reply("-ERR [SYS/TEMP] TLS not available")
	}
	if err := ss.send("+OK begin TLS negotiation\r\n" + ss.f.STLSInject); err != nil {
		return err
	}
	// RFC 2595 §4 (as RFC 3207 §6): plaintext the client sent after STLS,
	// still in our buffer, must not be taken as commands once TLS is up.
	ss.r.Discard(ss.r.Buffered())
	if err := ss.startTLS(); err != nil {
		return err
	}
	ss.user = "" // the session restarts under TLS
	return nil
}
