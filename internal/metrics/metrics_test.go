package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"fetchd/internal/fetch"
)

func TestObservePoll_Counters(t *testing.T) {
	m := New("1.2.3")
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m.ObservePoll("work", &fetch.Result{
		Fetched: 3, Deleted: 2, Bytes: 4096, Failed: 3, FailedPermanent: 1, TooLarge: 2,
		Start: start, Duration: 1500 * time.Millisecond,
	})
	m.ObservePoll("work", &fetch.Result{Fetched: 1, Bytes: 100, Start: start, Duration: time.Second})

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"delivered", testutil.ToFloat64(m.delivered.WithLabelValues("work")), 4},
		{"bytes", testutil.ToFloat64(m.bytes.WithLabelValues("work")), 4196},
		{"deleted", testutil.ToFloat64(m.deleted.WithLabelValues("work")), 2},
		{"temporary failures", testutil.ToFloat64(m.failures.WithLabelValues("work", "temporary")), 2},
		{"permanent failures", testutil.ToFloat64(m.failures.WithLabelValues("work", "permanent")), 1},
		{"too large", testutil.ToFloat64(m.skippedMsgs.WithLabelValues("work", "too_large")), 2},
		{"polls partial", testutil.ToFloat64(m.polls.WithLabelValues("work", "partial")), 1},
		{"polls ok", testutil.ToFloat64(m.polls.WithLabelValues("work", "ok")), 1},
		{"polls error", testutil.ToFloat64(m.polls.WithLabelValues("work", "error")), 0},
		{"last success", testutil.ToFloat64(m.lastSuccess.WithLabelValues("work")), float64(start.Unix() + 1)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestObservePoll_Classification(t *testing.T) {
	tests := []struct {
		name string
		r    fetch.Result
		want string
	}{
		{"clean", fetch.Result{Fetched: 2}, ResultOK},
		{"empty mailbox", fetch.Result{}, ResultOK},
		{"some failed", fetch.Result{Fetched: 1, Failed: 1}, ResultPartial},
		{"only permanent failures", fetch.Result{Failed: 1, FailedPermanent: 1}, ResultPartial},
		{"error", fetch.Result{Err: errors.New("connection reset")}, ResultError},
		{"error after failures", fetch.Result{Failed: 2, Err: errors.New("timeout")}, ResultError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New("test")
			m.ObservePoll("a", &tt.r)
			for _, res := range []string{ResultOK, ResultPartial, ResultError} {
				want := 0.0
				if res == tt.want {
					want = 1
				}
				if got := testutil.ToFloat64(m.polls.WithLabelValues("a", res)); got != want {
					t.Errorf("polls_total{result=%q}: got %v, want %v", res, got, want)
				}
			}
		})
	}
}

func TestObservePoll_ErrorKeepsLastSuccess(t *testing.T) {
	m := New("test")
	start := time.Unix(1700000000, 0)
	m.ObservePoll("a", &fetch.Result{Start: start, Duration: 2 * time.Second})
	m.ObservePoll("a", &fetch.Result{Start: start.Add(time.Hour), Err: errors.New("auth")})
	if got, want := testutil.ToFloat64(m.lastSuccess.WithLabelValues("a")), float64(start.Unix()+2); got != want {
		t.Errorf("last_success: got %v, want %v", got, want)
	}
}

func TestObservePoll_Histogram(t *testing.T) {
	m := New("test")
	for _, d := range []time.Duration{30 * time.Millisecond, 2 * time.Second, 20 * time.Minute} {
		m.ObservePoll("a", &fetch.Result{Duration: d})
	}
	m.ObservePoll("b", &fetch.Result{Duration: time.Second})
	want := `
# HELP fetchd_poll_duration_seconds How long a poll took, from connecting to the end of the session.
# TYPE fetchd_poll_duration_seconds histogram
fetchd_poll_duration_seconds_bucket{account="a",le="0.05"} 1
fetchd_poll_duration_seconds_bucket{account="a",le="0.1"} 1
fetchd_poll_duration_seconds_bucket{account="a",le="0.25"} 1
fetchd_poll_duration_seconds_bucket{account="a",le="0.5"} 1
fetchd_poll_duration_seconds_bucket{account="a",le="1"} 1
fetchd_poll_duration_seconds_bucket{account="a",le="2.5"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="5"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="10"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="30"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="60"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="120"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="300"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="600"} 2
fetchd_poll_duration_seconds_bucket{account="a",le="+Inf"} 3
fetchd_poll_duration_seconds_sum{account="a"} 1202.03
fetchd_poll_duration_seconds_count{account="a"} 3
fetchd_poll_duration_seconds_bucket{account="b",le="0.05"} 0
fetchd_poll_duration_seconds_bucket{account="b",le="0.1"} 0
fetchd_poll_duration_seconds_bucket{account="b",le="0.25"} 0
fetchd_poll_duration_seconds_bucket{account="b",le="0.5"} 0
fetchd_poll_duration_seconds_bucket{account="b",le="1"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="2.5"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="5"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="10"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="30"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="60"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="120"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="300"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="600"} 1
fetchd_poll_duration_seconds_bucket{account="b",le="+Inf"} 1
fetchd_poll_duration_seconds_sum{account="b"} 1
fetchd_poll_duration_seconds_count{account="b"} 1
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), "fetchd_poll_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func TestSetAccountState_InitialisesCounters(t *testing.T) {
	m := New("test")
	next := time.Unix(1700000300, 0)
	m.SetAccountState("a", StateBackingOff, 3, next)

	// Counters exist at 0 before the first poll.
	tests := []struct {
		metric string
		want   int
	}{
		{"fetchd_polls_total", 3},
		{"fetchd_messages_delivered_total", 1},
		{"fetchd_delivery_failures_total", 2},
		{"fetchd_polls_skipped_total", len(skipReasons)},
		{"fetchd_poll_duration_seconds", 1},
		{"fetchd_account_state", 3},
		{"fetchd_last_success_timestamp_seconds", 0},
	}
	for _, tt := range tests {
		n, err := testutil.GatherAndCount(m.Gatherer(), tt.metric)
		if err != nil {
			t.Fatal(err)
		}
		if n != tt.want {
			t.Errorf("%s: got %d series, want %d", tt.metric, n, tt.want)
		}
	}

	want := `
# HELP fetchd_account_state 1 for the account's current state (ok, backing_off, paused), 0 for the others.
# TYPE fetchd_account_state gauge
fetchd_account_state{account="a",state="backing_off"} 1
fetchd_account_state{account="a",state="ok"} 0
fetchd_account_state{account="a",state="paused"} 0
# HELP fetchd_consecutive_failures Failed polls in a row; 0 after a poll that worked.
# TYPE fetchd_consecutive_failures gauge
fetchd_consecutive_failures{account="a"} 3
# HELP fetchd_backoff_until_timestamp_seconds When the account may be polled again after failures, in seconds since the epoch; 0 when it is not backing off.
# TYPE fetchd_backoff_until_timestamp_seconds gauge
fetchd_backoff_until_timestamp_seconds{account="a"} 1.7000003e+09
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"fetchd_account_state", "fetchd_consecutive_failures", "fetchd_backoff_until_timestamp_seconds"); err != nil {
		t.Error(err)
	}

	m.SetAccountState("a", StateOK, 0, time.Time{})
	if got := testutil.ToFloat64(m.state.WithLabelValues("a", StateOK)); got != 1 {
		t.Errorf("state ok: got %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.state.WithLabelValues("a", StateBackingOff)); got != 0 {
		t.Errorf("state backing_off: got %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.backoffUntil.WithLabelValues("a")); got != 0 {
		t.Errorf("backoff_until with zero time: got %v, want 0", got)
	}
}

func TestSkippedPoll(t *testing.T) {
	m := New("test")
	m.SkippedPoll("a", "login_delay")
	m.SkippedPoll("a", "login_delay")
	m.SkippedPoll("a", "running")
	if got := testutil.ToFloat64(m.skippedPolls.WithLabelValues("a", "login_delay")); got != 2 {
		t.Errorf("login_delay: got %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.skippedPolls.WithLabelValues("a", "paused")); got != 0 {
		t.Errorf("paused: got %v, want 0", got)
	}
}

func TestForget(t *testing.T) {
	m := New("test")
	m.SetAccountState("gone", StatePaused, 5, time.Now())
	m.ObservePoll("gone", &fetch.Result{Fetched: 1, Duration: time.Second})
	m.SkippedPoll("gone", "paused")
	m.ObservePoll("kept", &fetch.Result{Fetched: 2})

	m.Forget("gone")

	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() != "account" {
					continue
				}
				switch l.GetValue() {
				case "gone":
					t.Errorf("%s still has a series for the forgotten account", mf.GetName())
				case "kept":
					kept++
				}
			}
		}
	}
	if kept == 0 {
		t.Error("Forget dropped the series of another account")
	}

	// The account comes back at 0.
	m.ObservePoll("gone", &fetch.Result{Fetched: 1})
	if got := testutil.ToFloat64(m.delivered.WithLabelValues("gone")); got != 1 {
		t.Errorf("delivered after Forget and a new poll: got %v, want 1", got)
	}
	if n, _ := testutil.GatherAndCount(m.Gatherer(), "fetchd_polls_skipped_total"); n != 2*len(skipReasons) {
		t.Errorf("skipped-poll series after re-adding: got %d, want %d", n, 2*len(skipReasons))
	}
}

func TestConfigReloadAndBuildInfo(t *testing.T) {
	m := New("1.2.3")
	at := time.Unix(1700000000, 0)
	m.ConfigReload(true, at)
	m.ConfigReload(false, at.Add(time.Minute))
	want := `
# HELP fetchd_build_info Always 1; the version label says which fetchd is running.
# TYPE fetchd_build_info gauge
fetchd_build_info{version="1.2.3"} 1
# HELP fetchd_config_last_reload_successful 1 if the last configuration load or reload worked, 0 if it was rejected.
# TYPE fetchd_config_last_reload_successful gauge
fetchd_config_last_reload_successful 0
# HELP fetchd_config_last_reload_success_timestamp_seconds When the configuration was last loaded or reloaded successfully, in seconds since the epoch.
# TYPE fetchd_config_last_reload_success_timestamp_seconds gauge
fetchd_config_last_reload_success_timestamp_seconds 1.7e+09
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"fetchd_build_info", "fetchd_config_last_reload_successful", "fetchd_config_last_reload_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if n, err := testutil.GatherAndCount(m.Gatherer(), name); err != nil || n != 1 {
			t.Errorf("%s: got %d series (err %v), want 1", name, n, err)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	m := New("test")
	m.SetAccountState("a", StateOK, 0, time.Time{})
	problems, err := testutil.GatherAndLint(m.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
