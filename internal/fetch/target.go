package fetch

import (
	"fetchd/internal/deliver"
	"fetchd/internal/pop3"
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

// envelope is what target t gets for message m.
func (s *session) envelope(t *Target, m pop3.MessageInfo, rcpts []string, rp string, rpOK bool) *deliver.Envelope {
	a := s.account
	env := &deliver.Envelope{Account: a.Name, UIDL: m.UID, Recipients: rcpts, Size: m.Size, From: rp}
	if t.FromSet {
		env.From = t.From
	}
	if !a.TraceHeaders {
		return env
	}
	rcpt := ""
	if len(rcpts) > 0 {
		rcpt = rcpts[0]
	}
	env.Trace.Received = received(a.ServerName, a.Hostname, s.protocol(), a.Version, rcpt, s.poller.now())
	if t.Local {
		env.Trace.DeliveredTo = rcpt
		if !rpOK && t.FromSet && t.From != "" {
			env.Trace.ReturnPath = "<" + t.From + ">"
		}
	}
	return env
}

func (s *session) protocol() string {
	if _, ok := s.client.TLSState(); ok {
		return "POP3S"
	}
	return "POP3"
}
