package campaign

import (
	"math/rand/v2"
	"regexp"
	"strings"
)

// The cut phases the network-cut campaign counts, in report order.
const (
	netcutPhaseLogin    = "greeting/login"
	netcutPhaseListing  = "listing (UIDL, LIST)"
	netcutPhaseRetrCmd  = "RETR command"
	netcutPhaseRetr     = "inside RETR reply"
	netcutPhaseDeleQuit = "DELE..QUIT"
	netcutPhaseQuit     = "inside QUIT reply"
	netcutPhaseUnknown  = "unknown"
)

var netcutPhases = []string{netcutPhaseLogin, netcutPhaseListing, netcutPhaseRetrCmd, netcutPhaseRetr, netcutPhaseDeleQuit, netcutPhaseQuit, netcutPhaseUnknown}

// netcutMailbox is what the plan chooser knows about the server's mailbox.
type netcutMailbox struct {
	Count   int   // messages on the server
	Pending int   // of which not delivered yet (fetchd RETRs them)
	Wire    int64 // RETR reply bytes of the pending ones (CRLF, stuffing ignored)
}

// estimates of the whole session's bytes in each direction, plain.
func (m netcutMailbox) s2c() int64 {
	return 250 + 30*int64(m.Count) + m.Wire + 30*int64(m.Pending) + 27*int64(m.Count) + 40
}
func (m netcutMailbox) c2s() int64 { return 50 + 20*int64(m.Count) + 10*int64(m.Pending) }

// netcutChoosePlan picks the next session's cut: a fifth over implicit TLS at a
// random offset of the encrypted stream, the rest plain, aimed at a phase;
// one in eight stalls instead of closing.
func netcutChoosePlan(r *rand.Rand, m netcutMailbox) cutPlan {
	p := netcutNoCut
	p.Stall = r.IntN(8) == 0
	nth := func(n int) int { return 1 + r.IntN(max(1, n)) }
	if r.IntN(5) == 0 {
		p.TLS = true
		if r.IntN(5) < 3 {
			p.Kind, p.Offset = "tls s2c offset", r.Int64N(m.s2c()*103/100+3000)
		} else {
			p.Kind, p.C2S, p.Offset = "tls c2s offset", true, r.Int64N(m.c2s()+600+40*int64(m.Count+m.Pending))
		}
		return p
	}
	switch k := r.IntN(100); {
	case k < 15:
		p.Kind, p.Offset = "s2c offset", r.Int64N(m.s2c())
	case k < 21:
		p.Kind, p.C2S, p.Offset = "c2s offset", true, r.Int64N(m.c2s())
	case k < 26:
		p.Kind = "login"
		if r.IntN(2) == 0 {
			p.Offset = r.Int64N(220) // greeting and CAPA
		} else {
			p.Verb, p.Nth = []string{"USER", "PASS"}[r.IntN(2)], 1
			if r.IntN(2) == 0 {
				p.InCmd = r.IntN(8)
			} else {
				p.ReplyAt = r.Int64N(12)
			}
		}
	case k < 31:
		p.Kind = "listing"
		p.Verb, p.Nth = []string{"UIDL", "LIST"}[r.IntN(2)], 1
		if r.IntN(4) == 0 {
			p.InCmd = r.IntN(6)
		} else {
			p.ReplyAt = r.Int64N(20 + 22*int64(m.Count))
		}
	case k < 45:
		p.Kind, p.Verb, p.Nth, p.ReplyFrac = "retr body", "RETR", nth(m.Pending), r.Float64()
		if r.IntN(8) == 0 {
			p.ReplyFrac, p.InCmd = -1, r.IntN(8)
		}
	case k < 53:
		p.Kind, p.Verb, p.Nth, p.FromEnd = "retr end", "RETR", nth(m.Pending), r.IntN(6)
	case k < 65:
		p.Kind, p.Verb, p.Nth = "dele", "DELE", nth(m.Count)
		if r.IntN(2) == 0 {
			p.InCmd = r.IntN(8)
		} else {
			p.ReplyAt = r.Int64N(28)
		}
	case k < 77:
		p.Kind, p.Verb, p.Nth, p.InCmd = "quit withheld", "QUIT", 1, r.IntN(6)
	case k < 95:
		p.Kind, p.Verb, p.Nth, p.ReplyAt = "quit reply", "QUIT", 1, r.Int64N(18)
	default:
		p.Stall = false
	}
	return p
}

// netcutPhaseOf says where a plain session's cut landed, from the command stream.
func netcutPhaseOf(ev *cutEvent) string {
	switch ev.Verb {
	case "", "CAPA", "USER", "PASS", "APOP", "AUTH", "STLS":
		return netcutPhaseLogin
	case "UIDL", "LIST", "STAT":
		return netcutPhaseListing
	case "RETR", "TOP":
		if ev.C2S {
			return netcutPhaseRetrCmd
		}
		return netcutPhaseRetr
	case "DELE", "NOOP", "RSET":
		return netcutPhaseDeleQuit
	case "QUIT":
		if ev.C2S {
			return netcutPhaseDeleQuit // QUIT not (wholly) forwarded: the server rolls back
		}
		return netcutPhaseQuit
	}
	return netcutPhaseUnknown
}

// netcutPollErrRE finds the error of fetchd's "poll finished" log line (console format).
var netcutPollErrRE = regexp.MustCompile(`(?m)poll finished.*?error="?([^"\n]*)`)

// netcutPollError is the error of fetchd's "poll finished" line, or "".
func netcutPollError(stderr string) string {
	if m := netcutPollErrRE.FindStringSubmatch(stderr); m != nil {
		return m[1]
	}
	return ""
}

// netcutPhaseFromLog says where a TLS session's cut landed, from the operation
// that fetchd's error starts with (the proxy cannot read the encrypted
// stream). A hint fetchd appends in parentheses is not looked at.
func netcutPhaseFromLog(stderr string) string {
	e := strings.ToLower(netcutPollError(stderr))
	e = strings.TrimPrefix(e, "pop3: ")
	e = strings.TrimPrefix(e, "connection unusable after an earlier error: ")
	op, _, _ := strings.Cut(e, ":")
	op, _, _ = strings.Cut(op, " ")
	switch op {
	case "":
		return netcutPhaseUnknown
	case "dial", "login", "user", "pass", "apop", "auth", "capa":
		return netcutPhaseLogin
	case "uidl", "list", "stat":
		return netcutPhaseListing
	case "retr":
		return netcutPhaseRetr
	case "dele":
		return netcutPhaseDeleQuit
	case "quit":
		return netcutPhaseQuit // or QUIT not delivered: the encrypted stream does not say
	}
	return netcutPhaseUnknown
}
