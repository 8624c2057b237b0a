package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"go.etcd.io/bbolt"
)

// Pause is an account paused after repeated rejected logins.
type Pause struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"` // one sentence for status output; never a secret
	Salt   []byte    `json:"salt"`   // random, for Proof
	Proof  []byte    `json:"proof"`  // a slow salted hash of the credentials the server rejected (computed by the caller)
}

// Pause value format 1: the byte 1, then a JSON object with exactly the
// fields of Pause (no others, nothing after it). Since is RFC 3339 in UTC
// with nanoseconds; Salt and Proof are base64, as encoding/json writes
// []byte. Like progress, a new field or meaning gets a new format byte, so
// that a fetchd reading it fails instead of dropping it.
const pauseFormat1 = 1

// maxPauseBytes bounds Salt and Proof: they are a salt and a hash (or an
// encoded hash with its parameters), and a value read on every poll must
// stay small.
const maxPauseBytes = 1024

// encodePause returns p in the current pause format, with Reason cut to
// MaxReasonLen. It rejects any Pause that decodePause would reject.
func encodePause(p Pause) ([]byte, error) {
	p.Reason = truncateReason(p.Reason)
	// In UTC, so that a zone offset with seconds (which RFC 3339 cannot
	// write) does not move the instant.
	p.Since = p.Since.UTC()
	if err := p.validate(); err != nil {
		return nil, err
	}
	v, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append([]byte{pauseFormat1}, v...), nil
}

// decodePause parses a stored value. It never panics; every failure wraps
// ErrCorrupt. Callers add the account.
func decodePause(b []byte) (Pause, error) {
	if len(b) == 0 {
		return Pause{}, fmt.Errorf("%w: empty pause value", ErrCorrupt)
	}
	if b[0] != pauseFormat1 {
		return Pause{}, fmt.Errorf("%w: unknown pause format %d", ErrCorrupt, b[0])
	}
	if len(b) < 2 || b[1] != '{' {
		return Pause{}, fmt.Errorf("%w: format %d pause is not a JSON object", ErrCorrupt, b[0])
	}
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	var p Pause
	if err := dec.Decode(&p); err != nil {
		return Pause{}, fmt.Errorf("%w: pause: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Pause{}, fmt.Errorf("%w: pause: data after the JSON object", ErrCorrupt)
	}
	if err := p.validate(); err != nil {
		return Pause{}, fmt.Errorf("%w: pause: %v", ErrCorrupt, err)
	}
	return p, nil
}

// validate rejects what encoding would lose or mangle and pauses the caller
// could not act on: without Salt and Proof it could not tell whether the
// credentials changed since the server rejected them.
func (p Pause) validate() error {
	switch {
	case p.Since.IsZero():
		return errors.New("zero pause time")
	case len(p.Reason) > MaxReasonLen:
		return fmt.Errorf("reason of %d bytes is longer than %d", len(p.Reason), MaxReasonLen)
	case !utf8.ValidString(p.Reason):
		return errors.New("reason is not valid UTF-8")
	case len(p.Salt) == 0:
		return errors.New("no salt")
	case len(p.Proof) == 0:
		return errors.New("no proof")
	case len(p.Salt) > maxPauseBytes:
		return fmt.Errorf("salt of %d bytes is longer than %d", len(p.Salt), maxPauseBytes)
	case len(p.Proof) > maxPauseBytes:
		return fmt.Errorf("proof of %d bytes is longer than %d", len(p.Proof), maxPauseBytes)
	}
	if err := checkJSONTime(p.Since); err != nil {
		return fmt.Errorf("pause time: %w", err)
	}
	return nil
}

// SetPause records, in one committed transaction, that the account is
// paused: the pause survives a restart until SetPause(key, nil) clears it.
// p.Reason is stored cut to MaxReasonLen bytes; Since, Salt and Proof are
// required. Clearing an account without a pause writes nothing (so calling
// it after every accepted login costs no fsync).
func (s *Store) SetPause(key AccountKey, p *Pause) error {
	if p == nil {
		return s.clearPause(key)
	}
	v, err := encodePause(*p)
	if err != nil {
		return s.wrap("set pause", key, err)
	}
	return s.update("set pause", key, func(tx *bbolt.Tx) error {
		acct, err := ensureAccount(tx, key)
		if err != nil {
			return err
		}
		return acct.Put(keyPaused, v)
	})
}

func (s *Store) clearPause(key AccountKey) error {
	// Look first: a bbolt commit fsyncs even when it changed nothing. A
	// SetPause racing with this one is ordered after it, as if it came later.
	paused := false
	err := s.view("clear pause", key, func(tx *bbolt.Tx) error {
		acct, err := account(tx, key)
		paused = acct != nil && acct.Get(keyPaused) != nil
		return err
	})
	if err != nil || !paused {
		return err
	}
	return s.update("clear pause", key, func(tx *bbolt.Tx) error {
		acct, err := account(tx, key)
		if err != nil || acct == nil {
			return err
		}
		return acct.Delete(keyPaused)
	})
}

// Pause returns the account's pause, or nil if it is not paused (or the store
// has never seen it). A value that cannot be decoded is an error wrapping
// ErrCorrupt and naming the account, never "not paused": the caller decides
// whether to log in anyway.
func (s *Store) Pause(key AccountKey) (*Pause, error) {
	var p *Pause
	err := s.view("pause", key, func(tx *bbolt.Tx) error {
		acct, err := account(tx, key)
		if err != nil || acct == nil {
			return err
		}
		v := acct.Get(keyPaused)
		if v == nil {
			return nil
		}
		got, err := decodePause(v)
		if err != nil {
			return fmt.Errorf("key %s: %w", keyPaused, err)
		}
		p = &got
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
