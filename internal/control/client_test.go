package control

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClient(t *testing.T) {
	path := filepath.Join(socketDir(t), SocketName)
	b := newFakeBackend("/var/lib/fetchd/state.db")
	serve(t, path, b)
	c := Dial(path)
	ctx := context.Background()

	if c.Socket() != path {
		t.Errorf("Socket: got %q, want %q", c.Socket(), path)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != b.status.State || len(st.Accounts) != 2 || st.Accounts[1].PausedReason != "authentication failed" ||
		!st.Started.Equal(b.status.Started) {
		t.Errorf("Status: got %+v, want %+v", st, b.status)
	}

	resp, err := c.Poll(ctx, PollRequest{Accounts: []string{"home"}, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 2 || !resp.Results[0].OK {
		t.Errorf("Poll: got %+v", resp)
	}

	if err := c.Resume(ctx, "work"); err != nil {
		t.Errorf("Resume: %v", err)
	}

	body, err := c.Get(ctx, "/metrics")
	if err != nil || !strings.Contains(string(body), "fetchd_test_total 7") {
		t.Errorf("Get /metrics: got %q, %v", body, err)
	}
}

func TestClient_Errors(t *testing.T) {
	path := filepath.Join(socketDir(t), SocketName)
	serve(t, path, newFakeBackend("/s"))
	c := Dial(path)
	ctx := context.Background()

	tests := []struct {
		name        string
		call        func() error
		wantUnknown bool
		want        []string // substrings of the message
	}{
		{"resume unknown", func() error { return c.Resume(ctx, "nope") }, true, []string{"404", `no such account: "nope"`}},
		{"poll unknown", func() error { _, err := c.Poll(ctx, PollRequest{Accounts: []string{"x"}}); return err }, true, []string{"404", `"x"`}},
		{"poll bad sync", func() error { _, err := c.Poll(ctx, PollRequest{Sync: "bogus"}); return err }, false, []string{"400", "bogus"}},
		{"get unknown path", func() error { _, err := c.Get(ctx, "/nope"); return err }, false, []string{"404", "no such endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("got no error")
			}
			if got := errors.Is(err, ErrUnknownAccount); got != tt.wantUnknown {
				t.Errorf("errors.Is(%q, ErrUnknownAccount): got %v, want %v", err, got, tt.wantUnknown)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error: got %q, want it to contain %q", err, w)
				}
			}
		})
	}

	dead := Dial(filepath.Join(socketDir(t), "none.sock"))
	if _, err := dead.Status(ctx); err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("status of a missing socket: got %v, want an error naming it", err)
	}
}

func TestPointer(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	if err := WritePointer(state, "/run/fetchd/fetchd.sock"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(state + ".control")
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode: got %o, want 600", got)
	}
	data, _ := os.ReadFile(state + ".control")
	var p struct {
		Socket string `json:"socket"`
		PID    int    `json:"pid"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("pointer %q: %v", data, err)
	}
	if p.Socket != "/run/fetchd/fetchd.sock" || p.PID != os.Getpid() {
		t.Errorf("pointer: got %+v", p)
	}
	entries, _ := os.ReadDir(filepath.Dir(state))
	if len(entries) != 1 {
		t.Errorf("directory after WritePointer: got %d entries, want only the pointer", len(entries))
	}

	RemovePointer(state)
	if _, err := os.Stat(state + ".control"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after RemovePointer: got %v, want it gone", err)
	}

	// The pointer of another daemon (which took the store over) stays.
	other := `{"socket":"/run/other.sock","pid":1}`
	os.WriteFile(state+".control", []byte(other), 0o600)
	RemovePointer(state)
	if data, _ := os.ReadFile(state + ".control"); string(data) != other {
		t.Errorf("RemovePointer removed another process's pointer")
	}
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	envWith := func(runtime string) func(string) string {
		return func(k string) string {
			if k == "RUNTIME_DIRECTORY" {
				return runtime
			}
			return ""
		}
	}

	t.Run("via pointer", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		sock := filepath.Join(socketDir(t), SocketName)
		serve(t, sock, newFakeBackend(state))
		if err := WritePointer(state, sock); err != nil {
			t.Fatal(err)
		}
		// The CLI's environment names another runtime directory.
		c, err := Find(ctx, state, envWith(socketDir(t)))
		if err != nil || c == nil || c.Socket() != sock {
			t.Fatalf("got %v, %v; want the client of %s", c, err, sock)
		}
	})

	t.Run("via runtime dir", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		dir := socketDir(t)
		serve(t, filepath.Join(dir, SocketName), newFakeBackend(state+"/"))
		c, err := Find(ctx, state, envWith(dir))
		if err != nil || c == nil {
			t.Fatalf("got %v, %v; want a client", c, err)
		}
		if _, err := c.Status(ctx); err != nil {
			t.Error(err)
		}
	})

	t.Run("stale pointer, daemon in runtime dir", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		stale := filepath.Join(socketDir(t), SocketName)
		staleSocket(t, stale)
		WritePointer(state, stale)
		dir := socketDir(t)
		serve(t, filepath.Join(dir, SocketName), newFakeBackend(state))
		c, err := Find(ctx, state, envWith(dir))
		if err != nil || c == nil || c.Socket() != filepath.Join(dir, SocketName) {
			t.Fatalf("got %v, %v; want the runtime dir's daemon", c, err)
		}
	})

	t.Run("daemon of another store", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		dir := socketDir(t)
		sock := filepath.Join(dir, SocketName)
		serve(t, sock, newFakeBackend("/elsewhere/state.db"))
		WritePointer(state, sock) // even a pointer does not make it ours
		c, err := Find(ctx, state, envWith(dir))
		if err != nil || c != nil {
			t.Fatalf("got %v, %v; want nil, nil", c, err)
		}
	})

	t.Run("nothing listening", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		dir := socketDir(t)
		staleSocket(t, filepath.Join(dir, SocketName))
		WritePointer(state, filepath.Join(socketDir(t), "gone.sock"))
		c, err := Find(ctx, state, envWith(dir))
		if err != nil || c != nil {
			t.Fatalf("got %v, %v; want nil, nil", c, err)
		}
	})

	t.Run("no pointer, no runtime dir", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		c, err := Find(ctx, state, envWith(filepath.Join(t.TempDir(), "missing")))
		if err != nil || c != nil {
			t.Fatalf("got %v, %v; want nil, nil", c, err)
		}
	})

	t.Run("garbled pointer", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		os.WriteFile(state+".control", []byte("{\"sock"), 0o600)
		c, err := Find(ctx, state, envWith(socketDir(t)))
		if err != nil || c != nil {
			t.Fatalf("got %v, %v; want nil, nil", c, err)
		}
	})

	t.Run("daemon answers garbage", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.db")
		dir := socketDir(t)
		ln, err := net.Listen("unix", filepath.Join(dir, SocketName))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>not fetchd</html>"))
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		c, err := Find(ctx, state, envWith(dir))
		if err == nil || c != nil {
			t.Fatalf("got %v, %v; want an error", c, err)
		}
	})
}
