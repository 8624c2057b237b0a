package control

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A dry run reaches the backend only as a waited-for request that writes
// nothing: mark-seen and retry write, and without wait there would be no
// report to answer with.
func TestHandler_DryRun(t *testing.T) {
	tests := []struct {
		name, body string
		wantCode   int
	}{
		{"dry run", `{"dry_run":true,"wait":true}`, 200},
		{"with initial-sync", `{"dry_run":true,"wait":true,"sync":"initial-sync","accounts":["work"]}`, 200},
		{"with mark-seen", `{"dry_run":true,"wait":true,"sync":"mark-seen"}`, 400},
		{"with retry", `{"dry_run":true,"wait":true,"retry":true}`, 400},
		{"without wait", `{"dry_run":true}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend("/state.db")
			h := NewHandler(b, nil, true, zerolog.Nop())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/poll", strings.NewReader(tt.body)))
			if rec.Code != tt.wantCode {
				t.Fatalf("got %d %q, want %d", rec.Code, rec.Body.String(), tt.wantCode)
			}
			reached := len(b.polls) == 1 && b.polls[0].DryRun
			if reached != (tt.wantCode == 200) {
				t.Errorf("backend got %+v; want the dry run passed on only when accepted", b.polls)
			}
		})
	}
}
