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
package fetch
