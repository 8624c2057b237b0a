package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// socketDir is a short directory for unix sockets: t.TempDir() can exceed
// the 107 bytes a socket path may have.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serve runs a control server for b on a socket at path until the test
// ends, and returns a function that stops it and returns Serve's error.
func serve(t *testing.T, path string, b Backend) (stop func() error) {
	t.Helper()
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, NewHandler(b, testRegistry(), true, zerolog.Nop())) }()
	var stopped bool
	var serr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			serr = <-done
		}
		return serr
	}
	t.Cleanup(func() { stop() })
	return stop
}

// staleSocket leaves a socket file at path that nothing listens on, as a
// daemon that was killed does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
}

func TestListenUnix_ModeAndParent(t *testing.T) {
	parent := filepath.Join(socketDir(t), "run")
	path := filepath.Join(parent, SocketName)
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode: got %o, want 600", got)
	}
	if fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket type: got %v, want a socket", fi.Mode().Type())
	}
	di, err := os.Stat(parent)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode: got %o, want 700", got)
	}
}

func TestListenUnix_RefusesLiveDaemon(t *testing.T) {
	path := filepath.Join(socketDir(t), SocketName)
	serve(t, path, newFakeBackend("/s"))

	ln, err := ListenUnix(path)
	if err == nil {
		ln.Close()
		t.Fatal("ListenUnix took over the socket of a live daemon")
	}
	if !strings.Contains(err.Error(), "another fetchd daemon is listening") || !strings.Contains(err.Error(), path) {
		t.Errorf("error: got %q, want it to say another daemon listens on %s", err, path)
	}
	// The live daemon still answers.
	if _, err := Dial(path).Status(context.Background()); err != nil {
		t.Errorf("the live daemon stopped answering: %v", err)
	}
}

func TestListenUnix_ReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(socketDir(t), SocketName)
	staleSocket(t, path)

	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	defer ln.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dialling the new socket: %v", err)
	}
	conn.Close()
}

func TestListenUnix_Refuses(t *testing.T) {
	dir := socketDir(t)
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, strings.Repeat("x", 120), SocketName)
	tests := []struct {
		name, path, want string
	}{
		{"not a socket", regular, "not a socket"},
		{"path too long", long, "longer than the 107"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := ListenUnix(tt.path)
			if err == nil {
				ln.Close()
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error: got %q, want it to contain %q and the path", err, tt.want)
			}
		})
	}
	if data, err := os.ReadFile(regular); err != nil || string(data) != "data" {
		t.Errorf("the regular file was touched: %q, %v", data, err)
	}
}

func TestRuntimeDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"systemd", map[string]string{"RUNTIME_DIRECTORY": "/run/fetchd-a", "XDG_RUNTIME_DIR": "/run/user/1000"}, "/run/fetchd-a"},
		{"systemd list", map[string]string{"RUNTIME_DIRECTORY": "/run/one:/run/two"}, "/run/one"},
		{"xdg", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, "/run/user/1000/fetchd"},
		{"nothing", nil, "/run/fetchd"},
		{"empty list head", map[string]string{"RUNTIME_DIRECTORY": ":/run/two", "XDG_RUNTIME_DIR": "/x"}, "/x/fetchd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := RuntimeDir(getenv); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestServe_StopsWhenCancelled(t *testing.T) {
	path := filepath.Join(socketDir(t), SocketName)
	stop := serve(t, path, newFakeBackend("/s"))
	if _, err := Dial(path).Get(context.Background(), "/healthz"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Serve: got %v, want nil", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Serve took %s to stop", d)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after stop: got %v, want it removed", err)
	}
}

// A client waiting on a poll is answered when the daemon stops, and does
// not hold the shutdown up.
func TestServe_WaitingPollEndsOnShutdown(t *testing.T) {
	path := filepath.Join(socketDir(t), SocketName)
	b := newFakeBackend("/s")
	b.Block = true
	stop := serve(t, path, b)

	errc := make(chan error, 1)
	go func() {
		_, err := Dial(path).Poll(context.Background(), PollRequest{Wait: true})
		errc <- err
	}()
	for i := 0; ; i++ { // until the poll is in the backend
		b.mu.Lock()
		n := len(b.polls)
		b.mu.Unlock()
		if n > 0 {
			break
		}
		if i > 500 {
			t.Fatal("the poll never reached the backend")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Serve: got %v, want nil", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Serve took %s to stop", d)
	}
	err := <-errc
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
		t.Errorf("waiting client: got %v, want a 503", err)
	}
}

func TestServe_ListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := Serve(context.Background(), ln, http.NotFoundHandler()); err == nil {
		t.Error("Serve on a closed listener: got nil, want an error")
	}
}
