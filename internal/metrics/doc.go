// Package metrics holds the daemon's Prometheus metrics: one private
// registry per daemon (no global state), fed by the scheduler after each
// poll, each skipped poll, each change of an account's state and each
// configuration reload, and read by the control API's /metrics route.
//
// Every series is prefixed fetchd_. The per-account counters start at 0 the
// first time an account is seen, so a rate over them is defined before the
// first poll; Forget drops them when a reload removes the account.
package metrics
