// Package control is the daemon's HTTP API and its client.
//
// The daemon serves the API on a unix socket (SocketName in RuntimeDir,
// mode 0600, so only its own user and root may use it) and, if configured,
// read-only on a loopback TCP address for Prometheus, where /status leaves
// out error texts and paths since any local user can connect:
//
//	GET  /healthz  "ok"
//	GET  /status   Status as JSON
//	GET  /metrics  Prometheus text format
//	POST /poll     PollRequest → PollResponse (unix socket only)
//	POST /resume   {"account": "…"} → 204 (unix socket only)
//	POST /import-state  ImportRequest → ImportResponse (unix socket only)
//
// Errors are JSON {"error": "…"}. Next to the state store the daemon writes
// a pointer file (WritePointer) naming its socket, so that a CLI pointed at
// the same store finds the daemon whatever its environment (Find).
package control
