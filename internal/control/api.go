package control

import (
	"context"
	"errors"
	"time"
)

// Status is the daemon's answer to GET /status.
type Status struct {
	Version string    `json:"version"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Config  string    `json:"config"` // the configuration file
	State   string    `json:"state"`  // the state store; Find matches on it
	Summary string    `json:"summary"`

	LastReload    time.Time `json:"last_reload,omitzero"`
	ReloadError   string    `json:"reload_error,omitempty"` // "" when the last reload worked
	ReloadErrorAt time.Time `json:"reload_error_at,omitzero"`

	Accounts []AccountStatus `json:"accounts"`
}

// AccountStatus is one account in Status. Zero times (never happened) are
// left out of the JSON.
type AccountStatus struct {
	Name     string `json:"name"`
	Server   string `json:"server"`
	Schedule string `json:"schedule"`
	State    string `json:"state"` // "idle", "polling", "backing off", "paused"

	LastPollStart time.Time `json:"last_poll_start,omitzero"`
	LastPollEnd   time.Time `json:"last_poll_end,omitzero"`
	LastResult    string    `json:"last_result"` // "ok", "partial", "error", "" before the first poll
	LastError     string    `json:"last_error,omitempty"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	NextPoll      time.Time `json:"next_poll,omitzero"`

	ConsecutiveFailures int    `json:"consecutive_failures"`
	PausedReason        string `json:"paused_reason,omitempty"`
	Delivered           int    `json:"delivered"`      // since the daemon started
	LastDelivered       int    `json:"last_delivered"` // in the last poll
}

// Values of PollRequest.Sync.
const (
	SyncMarkSeen    = "mark-seen"
	SyncInitialSync = "initial-sync"
)

// PollRequest is the body of POST /poll.
type PollRequest struct {
	Accounts []string `json:"accounts,omitempty"` // empty: all
	Sync     string   `json:"sync,omitempty"`     // "", SyncMarkSeen or SyncInitialSync
	Retry    bool     `json:"retry,omitempty"`    // release held messages first
	Wait     bool     `json:"wait,omitempty"`     // answer when the polls have ended
	// DryRun lists what each poll would fetch and delete, changing
	// nothing (no RETR, DELE or store write); with Wait, and without
	// Sync mark-seen or Retry, which write.
	DryRun bool `json:"dry_run,omitempty"`
}

// PollResult is the outcome of one account's poll.
type PollResult struct {
	Account  string `json:"account"`
	Line     string `json:"line"` // one human line, as `fetchd once` prints
	OK       bool   `json:"ok"`
	Released int    `json:"released"` // held messages released by Retry
	// Report, for a dry run, lists the messages it would fetch, delete
	// and skip: lines as `fetchd once --dry-run` prints them.
	Report string `json:"report,omitempty"`
}

// PollResponse is the answer to POST /poll.
type PollResponse struct {
	Results []PollResult `json:"results"`
}

// ResumeRequest is the body of POST /resume.
type ResumeRequest struct {
	Account string `json:"account"`
}

// ImportRequest is the body of POST /import-state: messages another
// program (fetchmail, mpop, getmail) fetched and left on the server, to be
// recorded as delivered for one account (`fetchd import-state`).
type ImportRequest struct {
	Account string         `json:"account"`
	UIDLs   []ImportedUIDL `json:"uidls"`
	DryRun  bool           `json:"dry_run,omitempty"` // count only, write nothing
}

// ImportedUIDL is one message in an ImportRequest.
type ImportedUIDL struct {
	// UIDL is the unique-id's octets: base64 in JSON, since a UIDL may
	// hold 8-bit octets that are not UTF-8.
	UIDL []byte    `json:"uidl"`
	At   time.Time `json:"at,omitzero"` // when the program fetched it; zero: unknown
}

// ImportResponse is the answer to POST /import-state.
type ImportResponse struct {
	Account string `json:"account"`
	Added   int    `json:"added"` // recorded now (with DryRun: would be)
	Known   int    `json:"known"` // already in the store, left as they were
}

// ErrUnknownAccount is what a Backend wraps when a request names an account
// the configuration does not have; the handler answers 404.
var ErrUnknownAccount = errors.New("no such account")

// ErrRefused is what a Backend wraps when it refuses a request for a reason
// the user can fix (such as an import into a delete-mode account); the
// handler answers 409, not 500: the daemon is not at fault.
var ErrRefused = errors.New("refused")

// Backend is the daemon as the control API sees it.
type Backend interface {
	Status() Status
	// Poll starts polls of the requested accounts. With req.Wait false it
	// returns at once with no results; with Wait true it returns when the
	// polls have ended, or when ctx is done.
	Poll(ctx context.Context, req PollRequest) (PollResponse, error)
	// Resume lifts a pause (after an authentication failure or a guard).
	Resume(ctx context.Context, account string) error
	// ImportState records req's UIDLs as delivered for the account, in
	// the store the daemon holds.
	ImportState(ctx context.Context, req ImportRequest) (ImportResponse, error)
}
