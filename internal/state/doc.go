// Package state is fetchd's persistent memory: a bbolt database that records,
// per account, which messages (by their RFC 1939 UIDL unique-id) were delivered
// and which were deleted from the server, plus the history of the last polls.
//
// It is what lets fetchd keep its promise "never lose a message, never deliver
// one twice". The fetcher calls MarkDelivered after a delivery is durable and
// before it sends DELE, so every write here is a committed, fsynced bbolt
// transaction (NoSync is never set). After the server's +OK to QUIT the fetcher
// calls MarkDeleted for the UIDLs it DELEd.
//
// A message that goes to several targets (or recipients) is delivered to each
// at most once: after each target accepts, the fetcher records it with
// SetProgress, and a retry skips the targets in Progress.Done. The same entry
// holds the spool file's path, the last failure and, for a permanent failure,
// the hold that ResetFailed (`fetchd retry`) lifts. MarkDelivered deletes the
// entry in the transaction that records the message as delivered.
//
// Planned records a maildir file's final name before it is linked into new/,
// and SpoolSize the spool file's size, so that after a crash a retry neither
// duplicates a maildir delivery nor trusts a truncated spool. NoteListing,
// called with every listing, prunes records only after they have been missing
// for N polls and D days (servers such as Gmail list only a window).
//
// Open checks the whole file (bbolt's tx.Check, after a walk of every page
// that keeps a damaged page from crashing the process). OpenOrRecover moves a
// damaged or foreign file aside, never deleting it, and starts a fresh store;
// IsFresh and Created let the fetcher notice that it lost its memory.
//
// SetPause records that an account is paused after repeated rejected logins,
// with a salted proof of the rejected credentials (never the credentials), so
// the pause survives a restart; Pause reads it back.
//
// Accounts are identified by server, port and user (AccountKey), not by their
// display name, so renaming an account in the config does not download its mail
// again. The on-disk layout and its versioning are described in schema.go.
//
// NoteOversize remembers that a message over max_message_size was reported
// to the user, so it is reported once; LearnSizes gives imported records
// (which have no size) the size the server lists. OpenReadOnly opens a store
// that no method can write (`fetchd once --dry-run`).
//
// One *Store may be shared by goroutines polling different accounts; bbolt
// serialises the writers. A second Open of the same file, from this process or
// another, fails with ErrLocked after the timeout.
package state
