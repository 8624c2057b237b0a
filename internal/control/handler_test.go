package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// fakeBackend is a Backend with fixed accounts and fault fields.
type fakeBackend struct {
	status    Status
	accounts  []string
	PollErr   error // returned by Poll
	ResumeErr error // returned by Resume
	// Block makes a waiting Poll block until its context is done.
	Block bool

	mu      sync.Mutex
	polls   []PollRequest
	resumed []string
}

func newFakeBackend(statePath string) *fakeBackend {
	return &fakeBackend{
		accounts: []string{"home", "work"},
		status: Status{
			Version: "test", PID: 42, Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			Config: "/etc/fetchd.toml", State: statePath, Summary: "2 accounts, 2 ok",
			Accounts: []AccountStatus{
				{Name: "home", Server: "pop.example.org:995", State: "idle", LastResult: "ok", Delivered: 3},
				{Name: "work", Server: "pop.example.com:995", State: "paused", PausedReason: "authentication failed"},
			},
		},
	}
}

func (b *fakeBackend) Status() Status { return b.status }

func (b *fakeBackend) Poll(ctx context.Context, req PollRequest) (PollResponse, error) {
	b.mu.Lock()
	b.polls = append(b.polls, req)
	b.mu.Unlock()
	for _, a := range req.Accounts {
		if !slices.Contains(b.accounts, a) {
			return PollResponse{}, fmt.Errorf("poll: %w: %q", ErrUnknownAccount, a)
		}
	}
	if b.PollErr != nil {
		return PollResponse{}, b.PollErr
	}
	if !req.Wait {
		return PollResponse{}, nil
	}
	if b.Block {
		<-ctx.Done()
		return PollResponse{}, ctx.Err()
	}
	var resp PollResponse
	for _, a := range b.accounts {
		resp.Results = append(resp.Results, PollResult{Account: a, Line: a + ": 1 new, 1 delivered", OK: true})
	}
	return resp, nil
}

func (b *fakeBackend) Resume(ctx context.Context, account string) error {
	if !slices.Contains(b.accounts, account) {
		return fmt.Errorf("resume: %w: %q", ErrUnknownAccount, account)
	}
	if b.ResumeErr != nil {
		return b.ResumeErr
	}
	b.mu.Lock()
	b.resumed = append(b.resumed, account)
	b.mu.Unlock()
	return nil
}

var _ Backend = (*fakeBackend)(nil)

func testRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "fetchd_test_total", Help: "A test counter."})
	c.Add(7)
	reg.MustRegister(c)
	return reg
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name      string
		readOnly  bool
		backend   func(*fakeBackend)
		method    string
		path      string
		body      string
		wantCode  int
		wantBody  string // a substring of the body
		wantError bool   // the body is a JSON error
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantCode: 200, wantBody: "ok\n"},
		{name: "healthz head", method: "HEAD", path: "/healthz", wantCode: 200},
		{name: "healthz read-only", readOnly: true, method: "GET", path: "/healthz", wantCode: 200, wantBody: "ok\n"},
		{name: "healthz post", method: "POST", path: "/healthz", wantCode: 405, wantError: true},
		{name: "status", method: "GET", path: "/status", wantCode: 200, wantBody: `"paused_reason": "authentication failed"`},
		{name: "status read-only", readOnly: true, method: "GET", path: "/status", wantCode: 200, wantBody: `"summary": "2 accounts, 2 ok"`},
		{name: "status delete", method: "DELETE", path: "/status", wantCode: 405, wantError: true},
		{name: "metrics", method: "GET", path: "/metrics", wantCode: 200, wantBody: "fetchd_test_total 7"},
		{name: "metrics read-only", readOnly: true, method: "GET", path: "/metrics", wantCode: 200, wantBody: "fetchd_test_total 7"},
		{name: "metrics put", method: "PUT", path: "/metrics", wantCode: 405, wantError: true},
		{name: "poll all", method: "POST", path: "/poll", body: `{}`, wantCode: 200, wantBody: `"results": []`},
		{name: "poll empty body", method: "POST", path: "/poll", wantCode: 200, wantBody: `"results": []`},
		{name: "poll wait", method: "POST", path: "/poll", body: `{"accounts":["work"],"wait":true}`, wantCode: 200, wantBody: `"line": "work: 1 new, 1 delivered"`},
		{name: "poll unknown account", method: "POST", path: "/poll", body: `{"accounts":["nope"]}`, wantCode: 404, wantBody: `no such account: \"nope\"`, wantError: true},
		{name: "poll bad json", method: "POST", path: "/poll", body: `{"accounts":`, wantCode: 400, wantError: true},
		{name: "poll wrong type", method: "POST", path: "/poll", body: `{"accounts":"work"}`, wantCode: 400, wantError: true},
		{name: "poll unknown field", method: "POST", path: "/poll", body: `{"acounts":["work"]}`, wantCode: 400, wantBody: "acounts", wantError: true},
		{name: "poll trailing data", method: "POST", path: "/poll", body: `{} {}`, wantCode: 400, wantError: true},
		{name: "poll bad sync", method: "POST", path: "/poll", body: `{"sync":"everything"}`, wantCode: 400, wantBody: "everything", wantError: true},
		{name: "poll oversized", method: "POST", path: "/poll", body: `{"accounts":["` + strings.Repeat("a", maxBody) + `"]}`, wantCode: 413, wantError: true},
		{name: "poll backend error", backend: func(b *fakeBackend) { b.PollErr = fmt.Errorf("daemon is stopping") }, method: "POST", path: "/poll", body: `{}`, wantCode: 500, wantBody: "daemon is stopping", wantError: true},
		{name: "poll get", method: "GET", path: "/poll", wantCode: 405, wantError: true},
		{name: "poll read-only", readOnly: true, method: "POST", path: "/poll", body: `{}`, wantCode: 403, wantBody: "read-only", wantError: true},
		{name: "poll get read-only", readOnly: true, method: "GET", path: "/poll", wantCode: 405, wantError: true},
		{name: "resume", method: "POST", path: "/resume", body: `{"account":"work"}`, wantCode: 204},
		{name: "resume unknown", method: "POST", path: "/resume", body: `{"account":"nope"}`, wantCode: 404, wantError: true},
		{name: "resume no account", method: "POST", path: "/resume", body: `{}`, wantCode: 400, wantError: true},
		{name: "resume bad json", method: "POST", path: "/resume", body: `account=work`, wantCode: 400, wantError: true},
		{name: "resume backend error", backend: func(b *fakeBackend) { b.ResumeErr = fmt.Errorf("store closed") }, method: "POST", path: "/resume", body: `{"account":"work"}`, wantCode: 500, wantError: true},
		{name: "resume read-only", readOnly: true, method: "POST", path: "/resume", body: `{"account":"work"}`, wantCode: 403, wantError: true},
		{name: "unknown path", method: "GET", path: "/nope", wantCode: 404, wantError: true},
		{name: "root", method: "GET", path: "/", wantCode: 404, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend("/var/lib/fetchd/state.db")
			if tt.backend != nil {
				tt.backend(b)
			}
			h := NewHandler(b, testRegistry(), !tt.readOnly, zerolog.Nop())
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantCode {
				t.Errorf("code: got %d, want %d (body %q)", rec.Code, tt.wantCode, rec.Body.String())
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body: got %q, want it to contain %q", rec.Body.String(), tt.wantBody)
			}
			if tt.wantError {
				var e errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
					t.Errorf("body: got %q, want a JSON error (%v)", rec.Body.String(), err)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("content type: got %q, want %q", ct, "application/json")
				}
			}
			if tt.wantCode == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestHandler_PollAndResumeReachBackend(t *testing.T) {
	b := newFakeBackend("/state.db")
	h := NewHandler(b, nil, true, zerolog.Nop())
	for _, c := range []struct{ path, body string }{
		{"/poll", `{"accounts":["work"],"sync":"mark-seen","retry":true}`},
		{"/resume", `{"account":"home"}`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", c.path, strings.NewReader(c.body)))
		if rec.Code/100 != 2 {
			t.Fatalf("%s: got %d %q", c.path, rec.Code, rec.Body.String())
		}
	}
	want := PollRequest{Accounts: []string{"work"}, Sync: SyncMarkSeen, Retry: true}
	if len(b.polls) != 1 || !slices.Equal(b.polls[0].Accounts, want.Accounts) ||
		b.polls[0].Sync != want.Sync || b.polls[0].Retry != want.Retry || b.polls[0].Wait {
		t.Errorf("poll requests: got %+v, want [%+v]", b.polls, want)
	}
	if !slices.Equal(b.resumed, []string{"home"}) {
		t.Errorf("resumed: got %q, want [home]", b.resumed)
	}
}

func TestHandler_NoGathererNoMetrics(t *testing.T) {
	h := NewHandler(newFakeBackend("/s"), nil, true, zerolog.Nop())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("code: got %d, want 404", rec.Code)
	}
}

// TestHandler_ReadOnlyStatusRedacted checks that the read-only (TCP)
// handler's /status carries no error text and no path, but still the
// states and times that tell monitoring something is wrong, and that the
// unix socket's handler still carries everything.
func TestHandler_ReadOnlyStatusRedacted(t *testing.T) {
	errAt := time.Date(2025, 1, 2, 4, 0, 0, 0, time.UTC)
	secrets := []string{
		"/etc/fetchd.toml", "/var/lib/fetchd/state.db",
		"line 7: password_file /home/alice/.pop-secret: permission denied",
		"-ERR [AUTH] alice@example.org: invalid password",
		"authentication failed for alice@example.org",
	}
	newBackend := func() *fakeBackend {
		b := newFakeBackend(secrets[1])
		b.status.ReloadError = secrets[2]
		b.status.ReloadErrorAt = errAt
		b.status.Accounts[1].LastResult = "error"
		b.status.Accounts[1].LastError = secrets[3]
		b.status.Accounts[1].PausedReason = secrets[4]
		b.status.Accounts[1].ConsecutiveFailures = 3
		return b
	}
	get := func(t *testing.T, b *fakeBackend, allowControl bool) (string, Status) {
		t.Helper()
		rec := httptest.NewRecorder()
		NewHandler(b, nil, allowControl, zerolog.Nop()).ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		if rec.Code != 200 {
			t.Fatalf("code: got %d, want 200 (body %q)", rec.Code, rec.Body.String())
		}
		var st Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatalf("body %q: %v", rec.Body.String(), err)
		}
		return rec.Body.String(), st
	}

	t.Run("read-only", func(t *testing.T) {
		b := newBackend()
		body, st := get(t, b, false)
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("body contains %q:\n%s", s, body)
			}
		}
		for _, f := range []struct{ name, got string }{
			{"config", st.Config}, {"state", st.State}, {"reload_error", st.ReloadError},
			{"accounts[1].last_error", st.Accounts[1].LastError}, {"accounts[1].paused_reason", st.Accounts[1].PausedReason},
		} {
			if f.got != "" {
				t.Errorf("%s: got %q, want %q", f.name, f.got, "")
			}
		}
		if !st.ReloadErrorAt.Equal(errAt) {
			t.Errorf("reload_error_at: got %v, want %v", st.ReloadErrorAt, errAt)
		}
		a := st.Accounts[1]
		if a.State != "paused" || a.LastResult != "error" || a.ConsecutiveFailures != 3 {
			t.Errorf("accounts[1]: got state %q, result %q, failures %d; want paused, error, 3", a.State, a.LastResult, a.ConsecutiveFailures)
		}
		if st.Summary != b.status.Summary || st.Version != b.status.Version || st.PID != b.status.PID {
			t.Errorf("status: got %+v, want summary, version and pid of %+v", st, b.status)
		}
		// The backend's own status is left alone.
		if b.status.Accounts[1].LastError != secrets[3] || b.status.Accounts[1].PausedReason != secrets[4] {
			t.Errorf("backend status changed: %+v", b.status.Accounts[1])
		}
	})

	t.Run("unix socket", func(t *testing.T) {
		b := newBackend()
		_, st := get(t, b, true)
		for _, f := range []struct{ name, got, want string }{
			{"config", st.Config, secrets[0]}, {"state", st.State, secrets[1]}, {"reload_error", st.ReloadError, secrets[2]},
			{"accounts[1].last_error", st.Accounts[1].LastError, secrets[3]},
			{"accounts[1].paused_reason", st.Accounts[1].PausedReason, secrets[4]},
		} {
			if f.got != f.want {
				t.Errorf("%s: got %q, want %q", f.name, f.got, f.want)
			}
		}
	})
}
