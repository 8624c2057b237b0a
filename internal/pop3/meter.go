package pop3

import (
	"fmt"
	"strconv"
	"time"
)

// The throughput meter bounds what a slowloris server costs: one that sends
// a byte just before each read deadline would otherwise hold a session for
// ever. While a reply is read, the time spent blocked in Read is cut into
// windows of timeout; at the end of each window at least minRate octets per
// second of it must have arrived, or Read fails with ErrTooSlow. Time spent
// outside Read (the caller delivering a body slowly) is not counted, nor
// are octets that were already buffered. The windows follow one another,
// and start afresh with each reply and with each RETR body, so the latency
// of many short replies never adds up to a window.

// startMeter starts a fresh window; it is a no-op without a minimum rate.
func (d *deadlineConn) startMeter() {
	d.metering = d.minRate > 0
	d.waited, d.got = 0, 0
}

// stopMeter ends metering.
func (d *deadlineConn) stopMeter() {
	d.metering = false
}

// readLimit returns how long the next Read may block, and whether that is
// cut short by the end of the window rather than by the read timeout.
func (d *deadlineConn) readLimit() (time.Duration, bool) {
	if d.metering {
		if left := d.timeout - d.waited; left < d.timeout {
			return max(left, 0), true
		}
	}
	return d.timeout, false
}

// measure adds a Read of n octets that blocked for waited, and when that
// fills the window checks the rate and starts the next window.
func (d *deadlineConn) measure(n int, waited time.Duration) error {
	d.waited += waited
	d.got += int64(n)
	if d.waited < d.timeout {
		return nil
	}
	if need := float64(d.minRate) * d.timeout.Seconds(); float64(d.got) < need {
		return fmt.Errorf("%w: %d bytes in %s, minimum %d B/s", ErrTooSlow, d.got, seconds(d.timeout), d.minRate)
	}
	d.waited, d.got = 0, 0
	return nil
}

// seconds formats d as "60s" or "0.2s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
