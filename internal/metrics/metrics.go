package metrics

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"fetchd/internal/fetch"
	"fetchd/internal/oauth"
)

// Values of the result label of fetchd_polls_total.
const (
	ResultOK      = "ok"      // QUIT reached, every new message handled
	ResultPartial = "partial" // QUIT reached, some messages left on the server
	ResultError   = "error"   // the poll stopped before a clean QUIT
)

// Values of the state label of fetchd_account_state.
const (
	StateOK         = "ok"
	StateBackingOff = "backing_off"
	StatePaused     = "paused"
)

var states = []string{StateOK, StateBackingOff, StatePaused}

// Reasons a scheduled poll did not run, for SkippedPoll. They are created
// at 0 for each account; another reason still counts, from its first use.
var skipReasons = []string{"running", "backoff", "paused", "login_delay", "stopping"}

// pollBuckets span a quick empty poll to a large mailbox over a slow link.
var pollBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// Metrics is the daemon's set of metrics. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	polls        *prometheus.CounterVec // account, result
	delivered    *prometheus.CounterVec // account
	bytes        *prometheus.CounterVec // account
	deleted      *prometheus.CounterVec // account
	failures     *prometheus.CounterVec // account, kind
	skippedMsgs  *prometheus.CounterVec // account, reason
	duration     *prometheus.HistogramVec
	lastSuccess  *prometheus.GaugeVec   // account
	consent      *prometheus.GaugeVec   // account
	skippedPolls *prometheus.CounterVec // account, reason
	state        *prometheus.GaugeVec   // account, state
	consecFails  *prometheus.GaugeVec   // account
	backoffUntil *prometheus.GaugeVec   // account
	reloadOK     prometheus.Gauge
	reloadTime   prometheus.Gauge

	// perAccount holds the label vectors that carry an account label, for
	// Forget.
	perAccount []interface{ DeletePartialMatch(prometheus.Labels) int }

	mu   sync.Mutex
	seen map[string]bool // accounts whose series are initialised
}

// New returns the metrics of a daemon of the given version, registered in
// a registry of their own together with the Go runtime and process
// collectors.
func New(version string) *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		seen: make(map[string]bool),
	}
	account := []string{"account"}
	m.polls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fetchd_polls_total",
		Help: "Polls run, by result: ok, partial (some messages left on the server after a failure) or error (the poll stopped before QUIT).",
	}, []string{"account", "result"})
	m.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fetchd_messages_delivered_total",
		Help: "Messages delivered to every target and recorded in the state store.",
	}, account)
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fetchd_bytes_fetched_total",
		Help: "Message bytes received from the POP3 server.",
	}, account)
	m.deleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fetchd_messages_deleted_total",
		Help: "Messages deleted on the server (DELE committed by QUIT).",
	}, account)
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fetchd_delivery_failures_total",
		Help: "Messages left on the server after a delivery failure, by kind: temporary (retried next poll) or permanent (held).",
	}, []string{"account", "kind"})
	m.skippedMsgs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fetchd_messages_skipped_total",
		Help: "Messages left on the server on purpose, by reason.",
	}, []string{"account", "reason"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fetchd_poll_duration_seconds",
		Help:    "How long a poll took, from connecting to the end of the session.",
		Buckets: pollBuckets,
	}, account)
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fetchd_last_success_timestamp_seconds",
		Help: "When the last poll that reached QUIT ended, in seconds since the epoch; absent until one has.",
	}, account)
	m.consent = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fetchd_oauth_consent_needed",
		Help: "1 when the account's OAuth2 refresh token is missing, expired or revoked (run fetchd auth ACCOUNT), else 0.",
	}, account)
	m.skippedPolls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fetchd_polls_skipped_total",
		Help: "Scheduled polls that did not run, by reason.",
	}, []string{"account", "reason"})
	m.state = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fetchd_account_state",
		Help: "1 for the account's current state (ok, backing_off, paused), 0 for the others.",
	}, []string{"account", "state"})
	m.consecFails = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fetchd_consecutive_failures",
		Help: "Failed polls in a row; 0 after a poll that worked.",
	}, account)
	m.backoffUntil = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fetchd_backoff_until_timestamp_seconds",
		Help: "When the account may be polled again after failures, in seconds since the epoch; 0 when it is not backing off.",
	}, account)
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fetchd_config_last_reload_successful",
		Help: "1 if the last configuration load or reload worked, 0 if it was rejected.",
	})
	m.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fetchd_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration was last loaded or reloaded successfully, in seconds since the epoch.",
	})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "fetchd_build_info",
		Help:        "Always 1; the version label says which fetchd is running.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	buildInfo.Set(1)

	m.perAccount = []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.polls, m.delivered, m.bytes, m.deleted, m.failures, m.skippedMsgs,
		m.duration, m.lastSuccess, m.skippedPolls, m.state, m.consecFails, m.backoffUntil, m.consent,
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo, m.reloadOK, m.reloadTime,
		m.polls, m.delivered, m.bytes, m.deleted, m.failures, m.skippedMsgs,
		m.duration, m.lastSuccess, m.skippedPolls, m.state, m.consecFails, m.backoffUntil, m.consent,
	)
	return m
}

// Gatherer returns the registry, for the /metrics handler.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ObservePoll counts the outcome of one poll of account.
func (m *Metrics) ObservePoll(account string, r *fetch.Result) {
	m.init(account)
	result := ResultOK
	switch {
	case r.Err != nil:
		result = ResultError
	case r.Failed > 0:
		result = ResultPartial
	}
	m.polls.WithLabelValues(account, result).Inc()
	addInt(m.delivered.WithLabelValues(account), int64(r.Fetched))
	addInt(m.bytes.WithLabelValues(account), r.Bytes)
	addInt(m.deleted.WithLabelValues(account), int64(r.Deleted))
	addInt(m.failures.WithLabelValues(account, "temporary"), int64(r.Failed-r.FailedPermanent))
	addInt(m.failures.WithLabelValues(account, "permanent"), int64(r.FailedPermanent))
	addInt(m.skippedMsgs.WithLabelValues(account, "too_large"), int64(r.TooLarge))
	m.duration.WithLabelValues(account).Observe(r.Duration.Seconds())
	if r.Err == nil {
		m.lastSuccess.WithLabelValues(account).Set(unixSeconds(r.Start.Add(r.Duration)))
	}
	switch {
	case errors.Is(r.Err, oauth.ErrConsentNeeded):
		m.consent.WithLabelValues(account).Set(1)
	case r.Err == nil:
		m.consent.WithLabelValues(account).Set(0)
	}
}

// addInt adds n to c when it is positive: a counter only goes up, and
// Counter.Add panics on a negative value.
func addInt(c prometheus.Counter, n int64) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// SkippedPoll counts a scheduled poll of account that did not run, and
// why: "running", "backoff", "paused", "login_delay" or "stopping".
func (m *Metrics) SkippedPoll(account, reason string) {
	m.init(account)
	m.skippedPolls.WithLabelValues(account, reason).Inc()
}

// SetAccountState records the account's state ("ok", "backing_off" or
// "paused"; any other value sets all three to 0), its failed polls in a
// row, and when it may be polled again (zero: not backing off).
func (m *Metrics) SetAccountState(account, state string, consecutiveFailures int, nextAllowed time.Time) {
	m.init(account)
	for _, s := range states {
		v := 0.0
		if s == state {
			v = 1
		}
		m.state.WithLabelValues(account, s).Set(v)
	}
	m.consecFails.WithLabelValues(account).Set(float64(consecutiveFailures))
	m.backoffUntil.WithLabelValues(account).Set(unixSeconds(nextAllowed))
}

// ConfigReload records the outcome of a configuration load or reload made
// at the given time.
func (m *Metrics) ConfigReload(ok bool, at time.Time) {
	if !ok {
		m.reloadOK.Set(0)
		return
	}
	m.reloadOK.Set(1)
	m.reloadTime.Set(unixSeconds(at))
}

// Forget drops every series labelled with account, for an account a reload
// removed: it no longer shows in scrapes, and comes back at 0 if the
// account does.
func (m *Metrics) Forget(account string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seen, account)
	for _, v := range m.perAccount {
		v.DeletePartialMatch(prometheus.Labels{"account": account})
	}
}

// init creates the account's counters at 0 the first time it is seen, so
// they are exported before its first poll (a counter that appears only on
// its first increment hides that increment from rate()).
func (m *Metrics) init(account string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[account] {
		return
	}
	m.seen[account] = true
	for _, r := range []string{ResultOK, ResultPartial, ResultError} {
		m.polls.WithLabelValues(account, r)
	}
	m.delivered.WithLabelValues(account)
	m.bytes.WithLabelValues(account)
	m.deleted.WithLabelValues(account)
	m.failures.WithLabelValues(account, "temporary")
	m.failures.WithLabelValues(account, "permanent")
	m.skippedMsgs.WithLabelValues(account, "too_large")
	m.duration.WithLabelValues(account)
	for _, r := range skipReasons {
		m.skippedPolls.WithLabelValues(account, r)
	}
}

// unixSeconds is t in seconds since the epoch, with its fraction; 0 for
// the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
