package pop3

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// aLongTimeAgo is a deadline that has passed: setting it makes a blocked
// Read or Write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// deadlineConn gives every Read and Write on the connection a fresh deadline
// of timeout, and lets the context of the current operation interrupt a
// blocked Read or Write at once. The TLS layer and the bufio buffers sit on
// top of it, so no I/O path can forget a deadline.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
	minRate int64 // octets per second while metering; <= 0: no minimum

	// The throughput meter. Only the client's goroutine touches it.
	metering bool
	waited   time.Duration // spent blocked in Read in the current window
	got      int64         // octets read in the current window
	// probing: Read waits idleProbe at most, unmetered (see idle.go).
	probing bool

	mu          sync.Mutex
	gen         uint64          // which watch is current
	ctx         context.Context // of the current operation; nil when idle
	interrupted bool            // ctx was done: the deadline is in the past
}

// watch makes ctx the context of the operation that starts now, until the
// returned stop is called. When ctx is done, blocked I/O returns at once and
// later I/O fails with the context's error.
func (d *deadlineConn) watch(ctx context.Context) (stop func()) {
	d.mu.Lock()
	d.gen++
	gen := d.gen
	d.ctx = ctx
	d.interrupted = false
	d.mu.Unlock()
	stopAfter := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			d.interrupted = true
			_ = d.Conn.SetDeadline(aLongTimeAgo)
		}
	})
	return func() {
		stopAfter()
		d.mu.Lock()
		if d.gen == gen {
			d.ctx = nil
			d.interrupted = false
		}
		d.mu.Unlock()
	}
}

// arm sets the deadline unless the operation was interrupted. Holding mu
// while setting it orders it against the AfterFunc above: either we see
// interrupted, or the past deadline is set after ours.
func (d *deadlineConn) arm(set func(time.Time) error, deadline time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.interrupted {
		return context.Cause(d.ctx)
	}
	err := set(deadline)
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		// The connection is closed (net.Pipe says so as soon as the peer
		// closes): the I/O call itself fails at once, with the better
		// error (EOF rather than "closed pipe").
		return nil
	}
	return err
}

// explain turns the timeout caused by an interruption into the context's
// error, so callers see "context canceled", not "i/o timeout".
func (d *deadlineConn) explain(err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.interrupted {
		return context.Cause(d.ctx)
	}
	return err
}

// Read reads with a deadline of timeout, cut short to the end of the
// meter's window when metering (see meter.go), or of idleProbe when probing.
func (d *deadlineConn) Read(p []byte) (int, error) {
	if d.probing {
		if err := d.arm(d.Conn.SetReadDeadline, time.Now().Add(idleProbe)); err != nil {
			return 0, err
		}
		n, err := d.Conn.Read(p)
		if err != nil {
			err = d.explain(err)
		}
		return n, err
	}
	// The server may stay silent for timeout in all, however the meter's
	// windows fall: a window ending inside the silence must not start a
	// second full timeout.
	silentSince := time.Now()
	for {
		start := time.Now()
		limit, windowEnd := d.readLimit()
		if rest := d.timeout - start.Sub(silentSince); rest <= limit {
			limit, windowEnd = max(rest, 0), false
		}
		if err := d.arm(d.Conn.SetReadDeadline, start.Add(limit)); err != nil {
			return 0, err
		}
		n, err := d.Conn.Read(p)
		if err != nil {
			err = d.explain(err)
		}
		if !d.metering {
			return n, err
		}
		endOfWindow := windowEnd && errors.Is(err, os.ErrDeadlineExceeded)
		if err != nil && !endOfWindow {
			// A stall of a whole timeout says more than the rate would.
			return n, err
		}
		if err := d.measure(n, time.Since(start)); err != nil {
			return n, err
		}
		if !endOfWindow {
			return n, nil
		}
		// The server was fast enough in the window that ended: wait on.
	}
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if err := d.arm(d.Conn.SetWriteDeadline, time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	n, err := d.Conn.Write(p)
	if err != nil {
		err = d.explain(err)
	}
	return n, err
}
