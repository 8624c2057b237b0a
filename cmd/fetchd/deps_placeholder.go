package main

// Temporary: pins the daemon's new dependencies in go.mod while the code
// that uses them is written. Removed once they are imported for real.
import (
	_ "github.com/coreos/go-systemd/v22/daemon"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/collectors"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/robfig/cron/v3"
)
