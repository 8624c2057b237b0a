// Package crashpoint lets the crash campaigns stop fetchd at a named point
// of the durability protocol (after a fsync, a link, a bbolt commit, a DELE)
// as abruptly as a power cut would: the process kills itself with SIGKILL.
//
// It does nothing unless the binary is started with FETCHD_CRASH_AT set, and
// the plan travels in the context, so no package holds global state. Points
// are cheap to pass when no plan is set: one context lookup.
package crashpoint

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// EnvVar names the environment variable that arms a plan: "POINT:N" kills
// the process the N-th time (1-based) it reaches POINT.
const EnvVar = "FETCHD_CRASH_AT"

// Plan is an armed crash point.
type Plan struct {
	point string
	at    int64
	hits  atomic.Int64
}

type ctxKey struct{}

// FromEnv parses EnvVar; it returns nil when the variable is unset.
func FromEnv() (*Plan, error) {
	v := os.Getenv(EnvVar)
	if v == "" {
		return nil, nil
	}
	point, n, ok := strings.Cut(v, ":")
	at, err := strconv.ParseInt(n, 10, 64)
	if !ok || point == "" || err != nil || at < 1 {
		return nil, fmt.Errorf("%s=%q: want POINT:N with N ≥ 1", EnvVar, v)
	}
	return &Plan{point: point, at: at}, nil
}

// With returns a context carrying plan (nil: none).
func With(ctx context.Context, plan *Plan) context.Context {
	if plan == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, plan)
}

// Hit marks that the caller reached point; if the plan says so, the process
// dies here, without running deferred functions or flushing anything.
func Hit(ctx context.Context, point string) {
	p, _ := ctx.Value(ctxKey{}).(*Plan)
	if p == nil || p.point != point {
		return
	}
	if p.hits.Add(1) == p.at {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not delivered synchronously; never go on
	}
}

// Points lists every point the code passes, for the campaigns.
var Points = []string{
	"retr.received",     // a message fully received, nothing delivered yet
	"maildir.fsynced",   // message file in tmp/ written and fsynced
	"maildir.linked",    // linked into new/, tmp/ name not yet removed
	"maildir.dirsynced", // new/ fsynced
	"mda.exited",        // the MDA exited 0 after reading all
	"lmtp.accepted",     // the LMTP server answered the final dot
	"store.intent",      // planned maildir name committed
	"store.progress",    // a target's acceptance committed
	"store.delivered",   // the UIDL committed as delivered
	"dele.acked",        // the server answered +OK to DELE
	"quit.sent",         // QUIT sent, its +OK not yet read
	"store.deleted",     // deletions recorded after QUIT's +OK
}
