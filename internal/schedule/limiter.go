package schedule

import (
	"context"
	"strings"
	"sync"
)

// Limiter bounds how many polls run at once, in all and per server. Its
// limits may change while polls run (a config reload); a lowered limit
// takes effect as polls finish.
type Limiter struct {
	mu        sync.Mutex
	total     int
	perServer int
	active    int
	byServer  map[string]int
	// wake is closed, and replaced, whenever a slot frees or the limits
	// change, so waiters look again.
	wake chan struct{}
}

// NewLimiter bounds polls to total at once, and perServer at once to one
// configured server.
func NewLimiter(total, perServer int) *Limiter {
	return &Limiter{total: max(total, 1), perServer: max(perServer, 1),
		byServer: map[string]int{}, wake: make(chan struct{})}
}

// serverKey is the configured server value a limit applies to. Names are
// compared case-insensitively; no DNS lookup is done, so two names of one
// host count as two servers.
func serverKey(server string) string { return strings.ToLower(server) }

// Acquire waits for a slot for server, or for ctx to end.
func (l *Limiter) Acquire(ctx context.Context, server string) error {
	key := serverKey(server)
	for {
		l.mu.Lock()
		if l.active < l.total && l.byServer[key] < l.perServer {
			l.active++
			l.byServer[key]++
			l.mu.Unlock()
			return nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// Release frees the slot Acquire took for server.
func (l *Limiter) Release(server string) {
	key := serverKey(server)
	l.mu.Lock()
	l.active--
	if l.byServer[key]--; l.byServer[key] <= 0 {
		delete(l.byServer, key)
	}
	l.broadcastLocked()
	l.mu.Unlock()
}

func (l *Limiter) setLimits(total, perServer int) {
	l.mu.Lock()
	l.total, l.perServer = max(total, 1), max(perServer, 1)
	l.broadcastLocked()
	l.mu.Unlock()
}

func (l *Limiter) broadcastLocked() {
	close(l.wake)
	l.wake = make(chan struct{})
}
