// Package fetch runs one poll of one account: connect, authenticate, list,
// decide what is new against the state store, then for each new message
// retrieve it, deliver it durably, record its UIDL, and only then delete it
// on the server (unless the account keeps its mail).
//
// The order is what keeps mail safe: a message is deleted on the server only
// after every target made it durable and the store committed its UIDL. A DELE
// takes effect when the server answers QUIT; if the connection drops before
// that, the server rolls the deletion back, and the next poll finds the UIDL
// already recorded and deletes the message again instead of delivering it twice.
//
// A poll decides what to do with every listed message once, after the
// listing (plan.go), and the retention policies act there: a keep-mode
// account with delete_after deletes what was delivered that long ago (and
// is listed with the size it had); max_messages_per_poll and
// max_bytes_per_poll leave the rest of the new mail for the next poll, so
// no RETR is sent ahead for it; a message over max_message_size stays on
// the server, reported once (log and notify_command), or with
// oversize = "delete" is the one message fetchd deletes undelivered. A dry
// run (Account.DryRun) stops after the plan: it logs in, lists, reads the
// store and QUITs, and Result.Preview says what a poll would do.
package fetch
