package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxReasonLen is the most bytes of Progress.Reason the store keeps. A longer
// reason (a server's multi-line reply, an MDA's stderr) is cut at a UTF-8
// character boundary: it is for status output and logs, and must not bloat a
// value that is rewritten on every attempt.
const MaxReasonLen = 1024

// Progress is what the store knows about a message that is not yet fully
// delivered. Its entry is deleted by MarkDelivered (in the same transaction as
// the delivered record) or by ClearProgress.
type Progress struct {
	// Done maps a target id to when that target accepted the message. Target
	// ids are opaque, non-empty, valid UTF-8 strings chosen by the caller
	// (e.g. "lmtp /run/dovecot/lmtp" or "lmtp /run/dovecot/lmtp\x00alice@example.com"
	// for one recipient). A retry must skip every target in Done. Progress
	// returns a non-nil map.
	Done     map[string]time.Time
	Spool    string    // path of the spooled copy ("" = none); valid UTF-8
	Failed   bool      // permanent failure: hold until FailedAt + retry-after, or `fetchd retry`
	Reason   string    // last failure, for status and logs; stored cut to MaxReasonLen bytes
	FailedAt time.Time // when it last failed (temporary or permanent); required if Failed
	Attempts int       // delivery attempts that failed, >= 0
	// Quarantined: a copy was saved to the quarantine maildir (do it only once).
	Quarantined bool
	// Planned maps a target id to the final path of a maildir delivery (in
	// new/), committed before the file is linked there: after a crash the
	// next poll counts the target as done if that file exists, so a maildir
	// never gets a duplicate. Keys are non-empty valid UTF-8; values are
	// absolute, valid UTF-8 paths. Progress returns a non-nil map.
	Planned map[string]string
	// SpoolSize is the spool file's size in bytes when it was written, so a
	// truncated spool is detected; 0 = unknown (entries from schema 2).
	SpoolSize int64
}

// Progress value format 2: the byte 2, then a JSON object with the fields of
// progressJSON (no other fields, nothing after it). Times are RFC 3339 with
// nanoseconds; zero values are omitted. Format 1 (schema 2) is the same
// without "planned" and "spool_size"; it is still read, never written. A new
// field or meaning gets a new format byte, so that an older fetchd reading it
// fails instead of dropping it.
const (
	progressFormat1 = 1
	progressFormat2 = 2
)

// progressJSON is the stored form; its tags are the on-disk format and must not
// change with the Go field names.
type progressJSON struct {
	Done        map[string]time.Time `json:"done,omitempty"`
	Spool       string               `json:"spool,omitzero"`
	Failed      bool                 `json:"failed,omitzero"`
	Reason      string               `json:"reason,omitzero"`
	FailedAt    time.Time            `json:"failed_at,omitzero"`
	Attempts    int                  `json:"attempts,omitzero"`
	Quarantined bool                 `json:"quarantined,omitzero"`
	Planned     map[string]string    `json:"planned,omitempty"`
	SpoolSize   int64                `json:"spool_size,omitzero"`
}

// truncateReason makes r valid UTF-8 and cuts it to at most MaxReasonLen bytes
// without splitting a character.
func truncateReason(r string) string {
	r = strings.ToValidUTF8(r, "\uFFFD")
	if len(r) <= MaxReasonLen {
		return r
	}
	cut := MaxReasonLen
	for cut > 0 && !utf8.RuneStart(r[cut]) {
		cut--
	}
	return r[:cut]
}

// encodeProgress returns p in the current progress format, with Reason cut to
// MaxReasonLen. It rejects any Progress that decodeProgress would reject.
func encodeProgress(p Progress) ([]byte, error) {
	p.Reason = truncateReason(p.Reason)
	if err := p.validate(); err != nil {
		return nil, err
	}
	// In UTC, so that a zone offset with seconds (which RFC 3339 cannot
	// write) does not move the instant.
	pj := progressJSON(p)
	pj.Done = make(map[string]time.Time, len(p.Done))
	for id, at := range p.Done {
		pj.Done[id] = at.UTC()
	}
	pj.FailedAt = p.FailedAt.UTC()
	v, err := json.Marshal(pj)
	if err != nil {
		return nil, err
	}
	return append([]byte{progressFormat2}, v...), nil
}

// decodeProgress parses a stored value. It never panics; every failure wraps
// ErrCorrupt. Callers add the account and UIDL.
func decodeProgress(b []byte) (Progress, error) {
	if len(b) == 0 {
		return Progress{}, fmt.Errorf("%w: empty progress value", ErrCorrupt)
	}
	if b[0] != progressFormat1 && b[0] != progressFormat2 {
		return Progress{}, fmt.Errorf("%w: unknown progress format %d", ErrCorrupt, b[0])
	}
	if len(b) < 2 || b[1] != '{' {
		return Progress{}, fmt.Errorf("%w: format %d progress is not a JSON object", ErrCorrupt, b[0])
	}
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	var pj progressJSON
	if err := dec.Decode(&pj); err != nil {
		return Progress{}, fmt.Errorf("%w: progress: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Progress{}, fmt.Errorf("%w: progress: data after the JSON object", ErrCorrupt)
	}
	if b[0] == progressFormat1 && (pj.Planned != nil || pj.SpoolSize != 0) {
		return Progress{}, fmt.Errorf("%w: format 1 progress has format 2 fields", ErrCorrupt)
	}
	p := Progress(pj)
	if p.Done == nil {
		p.Done = map[string]time.Time{}
	}
	if p.Planned == nil {
		p.Planned = map[string]string{}
	}
	if err := p.validate(); err != nil {
		return Progress{}, fmt.Errorf("%w: progress: %v", ErrCorrupt, err)
	}
	return p, nil
}

// validate rejects what encoding would lose or mangle (JSON replaces invalid
// UTF-8, so a target id would no longer match and its target would get the
// message again) and states that make no sense.
func (p Progress) validate() error {
	for id, at := range p.Done {
		switch {
		case id == "":
			return errors.New("empty target id")
		case !utf8.ValidString(id):
			return fmt.Errorf("target id %q is not valid UTF-8", id)
		case at.IsZero():
			return fmt.Errorf("target %q has a zero acceptance time", id)
		}
		if err := checkJSONTime(at); err != nil {
			return fmt.Errorf("target %q: %w", id, err)
		}
	}
	for id, path := range p.Planned {
		switch {
		case id == "":
			return errors.New("empty planned target id")
		case !utf8.ValidString(id):
			return fmt.Errorf("planned target id %q is not valid UTF-8", id)
		case !utf8.ValidString(path):
			return fmt.Errorf("planned path %q of target %q is not valid UTF-8", path, id)
		case !filepath.IsAbs(path):
			return fmt.Errorf("planned path %q of target %q is not absolute", path, id)
		}
	}
	switch {
	case p.SpoolSize < 0:
		return fmt.Errorf("negative spool size %d", p.SpoolSize)
	case p.SpoolSize > 0 && p.Spool == "":
		return errors.New("spool size without a spool path")
	case !utf8.ValidString(p.Spool):
		return fmt.Errorf("spool path %q is not valid UTF-8", p.Spool)
	case len(p.Reason) > MaxReasonLen:
		return fmt.Errorf("reason of %d bytes is longer than %d", len(p.Reason), MaxReasonLen)
	case !utf8.ValidString(p.Reason):
		return errors.New("reason is not valid UTF-8")
	case p.Attempts < 0:
		return fmt.Errorf("negative attempts %d", p.Attempts)
	case p.Failed && p.FailedAt.IsZero():
		// It would be held until year 1 + retry-after: not held at all.
		return errors.New("failed without a failure time")
	}
	if err := checkJSONTime(p.FailedAt); err != nil {
		return fmt.Errorf("failed time: %w", err)
	}
	return nil
}

// checkJSONTime rejects times that encodeProgress cannot write: it writes
// them in UTC as RFC 3339, which has four-digit years.
func checkJSONTime(t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%s is outside the years 0-9999", t.UTC().Format(time.RFC3339))
	}
	return nil
}
