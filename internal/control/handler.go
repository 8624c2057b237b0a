package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// maxBody bounds a request body: a poll request naming every account of a
// large configuration is a few KiB.
const maxBody = 64 << 10

// NewHandler returns the control API over b, with /metrics served from g
// (nil: no /metrics). With allowControl false, for the TCP listener, the
// POST routes answer 403 and /status leaves out error texts and paths
// (see redact): anyone on the machine can reach a loopback port.
func NewHandler(b Backend, g prometheus.Gatherer, allowControl bool, log zerolog.Logger) http.Handler {
	h := &handler{backend: b, redact: !allowControl, log: log}
	mux := http.NewServeMux()
	// Each path also has a pattern without a method, so that a wrong method
	// gets a JSON 405 rather than ServeMux's plain-text one.
	route := func(method, path string, f http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, f)
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow(method))
			h.fail(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%s takes %s, not %s", path, method, r.Method))
		})
	}
	route(http.MethodGet, "/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	route(http.MethodGet, "/status", h.status)
	if g != nil {
		route(http.MethodGet, "/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
			ErrorLog:      promLogger{log},
			ErrorHandling: promhttp.ContinueOnError,
		}).ServeHTTP)
	}
	if allowControl {
		route(http.MethodPost, "/poll", h.poll)
		route(http.MethodPost, "/resume", h.resume)
		route(http.MethodPost, "/import-state", h.importState)
	} else {
		readOnly := func(w http.ResponseWriter, r *http.Request) {
			h.fail(w, r, http.StatusForbidden,
				errors.New("this listener is read-only; control requests are accepted only on the unix socket"))
		}
		route(http.MethodPost, "/poll", readOnly)
		route(http.MethodPost, "/resume", readOnly)
		route(http.MethodPost, "/import-state", readOnly)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, fmt.Errorf("no such endpoint: %s", r.URL.Path))
	})
	return mux
}

func allow(method string) string {
	if method == http.MethodGet {
		return "GET, HEAD" // ServeMux serves HEAD with the GET pattern
	}
	return method
}

type handler struct {
	backend Backend
	redact  bool // /status without error texts and paths
	log     zerolog.Logger
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st := h.backend.Status()
	if h.redact {
		st = redact(st)
	}
	h.reply(w, http.StatusOK, st)
}

// redact returns st without what only the daemon's own user should read:
// error texts (a server's answer, an MDA's stderr, a configuration line
// may carry an address, a path or worse) and the configuration and state
// paths. The states, results, counts and times stay, so that monitoring
// still sees that something is wrong; the unix socket gives the details.
func redact(st Status) Status {
	st.Config, st.State = "", ""
	st.ReloadError = ""
	// A copy: the backend's slice may be shared with its other callers.
	st.Accounts = slices.Clone(st.Accounts)
	for i := range st.Accounts {
		st.Accounts[i].LastError = ""
		st.Accounts[i].PausedReason = ""
	}
	return st
}

func (h *handler) poll(w http.ResponseWriter, r *http.Request) {
	var req PollRequest
	if !h.decode(w, r, &req) {
		return
	}
	switch req.Sync {
	case "", SyncMarkSeen, SyncInitialSync:
	default:
		h.fail(w, r, http.StatusBadRequest, fmt.Errorf("sync: %q is not %q, %q or empty", req.Sync, SyncMarkSeen, SyncInitialSync))
		return
	}
	if req.DryRun && (req.Sync == SyncMarkSeen || req.Retry || !req.Wait) {
		h.fail(w, r, http.StatusBadRequest, fmt.Errorf("dry_run: needs wait, and excludes sync %q and retry (they write)", SyncMarkSeen))
		return
	}
	resp, err := h.backend.Poll(r.Context(), req)
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	if resp.Results == nil {
		resp.Results = []PollResult{} // [] rather than null for a client in another language
	}
	h.reply(w, http.StatusOK, resp)
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request) {
	var req ResumeRequest
	if !h.decode(w, r, &req) {
		return
	}
	if req.Account == "" {
		h.fail(w, r, http.StatusBadRequest, errors.New(`account: missing; send {"account": "NAME"}`))
		return
	}
	if err := h.backend.Resume(r.Context(), req.Account); err != nil {
		h.backendError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) importState(w http.ResponseWriter, r *http.Request) {
	var req ImportRequest
	if !h.decode(w, r, &req) {
		return
	}
	if req.Account == "" {
		h.fail(w, r, http.StatusBadRequest, errors.New(`account: missing; send {"account": "NAME", "uidls": [...]}`))
		return
	}
	resp, err := h.backend.ImportState(r.Context(), req)
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	h.reply(w, http.StatusOK, resp)
}

// decode reads a JSON body into v, answering 400 (or 413) and returning
// false when it cannot. An empty body leaves v at its zero value, so that
// `curl -X POST …/poll` polls every account. Unknown fields are refused: a
// misspelt option must not be silently dropped.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// One JSON value and nothing after it.
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return true
	case errors.As(err, &tooBig):
		h.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is larger than %d bytes", tooBig.Limit))
	default:
		h.fail(w, r, http.StatusBadRequest, fmt.Errorf("bad request body: %w", err))
	}
	return false
}

func (h *handler) backendError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnknownAccount):
		h.fail(w, r, http.StatusNotFound, err)
	case errors.Is(err, ErrRefused):
		h.fail(w, r, http.StatusConflict, err)
	case r.Context().Err() != nil:
		// The client went away or the daemon is stopping; the answer may
		// still reach a client that is waiting for it.
		h.fail(w, r, http.StatusServiceUnavailable, fmt.Errorf("request cancelled: %w", err))
	default:
		h.fail(w, r, http.StatusInternalServerError, err)
	}
}

// fail answers with a JSON error. Server errors are logged here, once;
// client errors only at debug level.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	ev := h.log.Debug()
	if code >= 500 {
		ev = h.log.Warn()
	}
	ev.Err(err).Str("method", r.Method).Str("path", r.URL.Path).Int("code", code).Msg("control request failed")
	h.reply(w, code, errorBody{Error: err.Error()})
}

type errorBody struct {
	Error string `json:"error"`
}

func (h *handler) reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		h.log.Debug().Err(err).Msg("writing a control response")
	}
}

// promLogger passes promhttp's errors (a collector that failed) to zerolog.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn().Msg(strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
