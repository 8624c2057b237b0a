package fetch

import (
	"fetchd/internal/deliver"
)

// Target is one delivery target of an account, with the envelope it gets.
type Target struct {
	Deliverer  deliver.Deliverer
	Recipients []string // envelope recipients; the local user when none is configured
	From       string   // the configured envelope sender, when FromSet
	FromSet    bool
	// Local targets (maildir, mbox, MDA) get Delivered-To (and Return-Path
	// when fetchd knows a sender the message does not name) besides Received.
	Local bool
	// PerRecipient targets (SMTP, LMTP) accept or refuse each recipient on
	// its own; a retry goes only to those that have not accepted.
	PerRecipient bool
}

// id is the target's identity in the store's per-target progress.
func (t *Target) id() string { return t.Deliverer.String() }

func (t *Target) recipientID(rcpt string) string { return t.id() + "\x00" + rcpt }

// remaining returns the recipients that still need the message, or nil when
// the target is done.
func (t *Target) remaining(done map[string]bool) []string {
	if done[t.id()] {
		return nil
	}
	if !t.PerRecipient {
		return t.Recipients
	}
	var out []string
	for _, r := range t.Recipients {
		if !done[t.recipientID(r)] {
			out = append(out, r)
		}
	}
	return out
}
