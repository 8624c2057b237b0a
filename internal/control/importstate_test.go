package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// ImportState makes fakeBackend a Backend: every UIDL of a known account is
// new to it.
func (b *fakeBackend) ImportState(ctx context.Context, req ImportRequest) (ImportResponse, error) {
	if req.Account == "refused" {
		return ImportResponse{}, fmt.Errorf("import: %w: the account deletes what it fetches", ErrRefused)
	}
	if !slices.Contains(b.accounts, req.Account) {
		return ImportResponse{}, fmt.Errorf("import: %w: %q", ErrUnknownAccount, req.Account)
	}
	return ImportResponse{Account: req.Account, Added: len(req.UIDLs)}, nil
}

// importBackend is a fakeBackend with a store of UIDLs per account, that
// records the size of each request body it was sent.
type importBackend struct {
	*fakeBackend
	mu     sync.Mutex
	seen   map[string]map[string]time.Time
	calls  int
	dryRun []bool
}

func (b *importBackend) ImportState(ctx context.Context, req ImportRequest) (ImportResponse, error) {
	if _, err := b.fakeBackend.ImportState(ctx, req); err != nil {
		return ImportResponse{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	b.dryRun = append(b.dryRun, req.DryRun)
	resp := ImportResponse{Account: req.Account}
	for _, u := range req.UIDLs {
		if _, ok := b.seen[req.Account][string(u.UIDL)]; ok {
			resp.Known++
			continue
		}
		resp.Added++
		if !req.DryRun {
			if b.seen[req.Account] == nil {
				b.seen[req.Account] = map[string]time.Time{}
			}
			b.seen[req.Account][string(u.UIDL)] = u.At
		}
	}
	return resp, nil
}

// bodySizes is a handler in front of another that notes each body's size.
type bodySizes struct {
	h     http.Handler
	mu    sync.Mutex
	sizes []int
}

func (s *bodySizes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.sizes = append(s.sizes, len(data))
	s.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(data))
	s.h.ServeHTTP(w, r)
}

// take returns the sizes noted so far and forgets them.
func (s *bodySizes) take() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sizes
	s.sizes = nil
	return out
}

func TestHandler_ImportState(t *testing.T) {
	tests := []struct {
		name      string
		readOnly  bool
		method    string
		body      string
		wantCode  int
		wantBody  string
		wantError bool
	}{
		// "/w==" is the octet 0xff: base64 carries UIDLs that are not UTF-8.
		{name: "import", method: "POST", body: `{"account":"work","uidls":[{"uidl":"YWJj"},{"uidl":"/w==","at":"2025-01-02T03:04:05Z"}]}`,
			wantCode: 200, wantBody: `"added": 2`},
		{name: "dry run", method: "POST", body: `{"account":"work","uidls":[{"uidl":"YWJj"}],"dry_run":true}`, wantCode: 200, wantBody: `"added": 1`},
		{name: "nothing to import", method: "POST", body: `{"account":"home"}`, wantCode: 200, wantBody: `"account": "home"`},
		{name: "no account", method: "POST", body: `{"uidls":[]}`, wantCode: 400, wantBody: "account: missing", wantError: true},
		{name: "unknown account", method: "POST", body: `{"account":"nope"}`, wantCode: 404, wantError: true},
		{name: "refused by the backend", method: "POST", body: `{"account":"refused"}`, wantCode: 409, wantError: true},
		{name: "uidl not base64", method: "POST", body: `{"account":"work","uidls":[{"uidl":"a b"}]}`, wantCode: 400, wantError: true},
		{name: "unknown field", method: "POST", body: `{"account":"work","dryrun":true}`, wantCode: 400, wantBody: "dryrun", wantError: true},
		{name: "oversized", method: "POST", body: `{"account":"` + strings.Repeat("a", maxBody) + `"}`, wantCode: 413, wantError: true},
		{name: "get", method: "GET", wantCode: 405, wantError: true},
		{name: "read-only", readOnly: true, method: "POST", body: `{"account":"work"}`, wantCode: 403, wantBody: "read-only", wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &importBackend{fakeBackend: newFakeBackend("/s"), seen: map[string]map[string]time.Time{}}
			h := NewHandler(b, nil, !tt.readOnly, zerolog.Nop())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/import-state", strings.NewReader(tt.body)))
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %q, want %d with %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
			if tt.wantError {
				var e errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
					t.Errorf("body: got %q, want a JSON error", rec.Body.String())
				}
			}
			if tt.name == "import" {
				want := map[string]time.Time{"abc": {}, "\xff": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
				if got := b.seen["work"]; len(got) != 2 || !got["abc"].IsZero() || !got["\xff"].Equal(want["\xff"]) {
					t.Errorf("backend got %q, want %q", got, want)
				}
			}
			if tt.name == "dry run" && (len(b.seen["work"]) != 0 || !slices.Equal(b.dryRun, []bool{true})) {
				t.Errorf("dry run: backend holds %q, dry-run flags %v", b.seen["work"], b.dryRun)
			}
			if tt.wantCode != 200 && b.calls != 0 {
				t.Errorf("a refused request reached the backend")
			}
		})
	}
}

// A large import goes in requests under the daemon's body limit, each UIDL
// exactly once, and the answer is their sum.
func TestClient_ImportStateInChunks(t *testing.T) {
	sock := filepath.Join(socketDir(t), SocketName)
	b := &importBackend{fakeBackend: newFakeBackend("/s"), seen: map[string]map[string]time.Time{}}
	sizes := &bodySizes{h: NewHandler(b, nil, true, zerolog.Nop())}
	ln, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, sizes) }()
	t.Cleanup(func() { cancel(); <-done })

	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	var uidls []ImportedUIDL
	for i := range 2000 {
		// 512 octets, the longest UIDL the POP3 client takes, 8-bit and all.
		id := fmt.Sprintf("%04d", i) + strings.Repeat("\xe9", 508)
		uidls = append(uidls, ImportedUIDL{UIDL: []byte(id), At: at})
	}
	c := Dial(sock)
	for _, dry := range []bool{true, false} {
		resp, err := c.ImportState(context.Background(), ImportRequest{Account: "work", UIDLs: uidls[:1500], DryRun: dry})
		if err != nil || resp.Added != 1500 || resp.Known != 0 || resp.Account != "work" {
			t.Fatalf("dry run %v: got %+v, %v; want 1500 added", dry, resp, err)
		}
	}
	resp, err := c.ImportState(context.Background(), ImportRequest{Account: "work", UIDLs: uidls})
	if err != nil || resp.Added != 500 || resp.Known != 1500 {
		t.Fatalf("second import: got %+v, %v; want 500 added, 1500 known", resp, err)
	}
	if len(b.seen["work"]) != 2000 {
		t.Errorf("backend holds %d UIDLs, want 2000", len(b.seen["work"]))
	}
	for _, u := range uidls {
		if got, ok := b.seen["work"][string(u.UIDL)]; !ok || !got.Equal(at) {
			t.Fatalf("UIDL %.8q: got %v, %v; want it with its time", u.UIDL, got, ok)
		}
	}
	got := sizes.take()
	if len(got) < 3*3 {
		t.Errorf("%d requests for three imports of ~1 MB: not split", len(got))
	}
	for _, s := range got {
		if s > maxBody {
			t.Errorf("a request of %d octets, over the limit of %d", s, maxBody)
		}
	}
	if !slices.Contains(b.dryRun, true) || b.dryRun[len(b.dryRun)-1] {
		t.Errorf("dry-run flags seen: %v", b.dryRun)
	}

	// Short UIDLs without a time: many to a request, still under the limit.
	var short []ImportedUIDL
	for i := range 20000 {
		short = append(short, ImportedUIDL{UIDL: fmt.Appendf(nil, "%d", i)})
	}
	if resp, err := c.ImportState(context.Background(), ImportRequest{Account: "home", UIDLs: short}); err != nil || resp.Added != 20000 {
		t.Fatalf("short UIDLs: got %+v, %v", resp, err)
	}
	got = sizes.take()
	for i, s := range got {
		if s > maxBody || (s < maxBody/2 && i < len(got)-1) {
			t.Errorf("a request of %d octets: over the limit of %d, or half of it wasted", s, maxBody)
		}
	}

	_, err = c.ImportState(context.Background(), ImportRequest{Account: "nope"})
	if !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("unknown account: got %v, want ErrUnknownAccount", err)
	}
}
