package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// SocketName is the control socket's name in RuntimeDir.
const SocketName = "fetchd.sock"

// shutdownTimeout bounds how long Serve waits for requests in flight once
// its context is done.
const shutdownTimeout = 2 * time.Second

// Serve serves h on ln until ctx is done, then shuts down, waiting at most
// two seconds for requests in flight, and returns nil. Requests see ctx as
// their parent, so a client waiting on a poll is answered (503) when the
// daemon stops rather than holding up the shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// No WriteTimeout: POST /poll with wait holds the response for as
		// long as the polls take.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("control server on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
		err = fmt.Errorf("control server on %s: shutdown: %w", ln.Addr(), err)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("control server on %s: %w", ln.Addr(), serr)
	}
	return err
}

// RuntimeDir is the directory of the control socket: $RUNTIME_DIRECTORY
// (set by systemd's RuntimeDirectory=; the first of a colon-separated
// list), else $XDG_RUNTIME_DIR/fetchd, else /run/fetchd.
func RuntimeDir(getenv func(string) string) string {
	if v := getenv("RUNTIME_DIRECTORY"); v != "" {
		if first, _, _ := strings.Cut(v, ":"); first != "" {
			return first
		}
	}
	if v := getenv("XDG_RUNTIME_DIR"); v != "" {
		return filepath.Join(v, "fetchd")
	}
	return "/run/fetchd"
}

// maxSocketPath is the longest unix socket path Linux accepts: sun_path
// holds 108 bytes including the terminating NUL.
const maxSocketPath = 107

// staleProbeTimeout bounds the check for a live daemon on an existing
// socket.
const staleProbeTimeout = time.Second

// ListenUnix listens on the unix socket at path, mode 0600 so that only
// the daemon's user and root can control it. It creates the parent
// directory (0700) if missing, and replaces a stale socket left by a
// daemon that died, but refuses to take over one that a live daemon
// answers on.
func ListenUnix(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: the path is %d bytes, longer than the %d a unix socket allows; use a shorter runtime directory",
			path, len(path), maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// There is a moment between bind and chmod when the socket has the
	// umask's mode; the 0700 directory (ours, or systemd's) covers it.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// removeStale removes a socket at path that nothing listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("control socket %s: the file exists and is not a socket; remove it or choose another runtime directory", path)
	}
	conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		conn.Close()
		return fmt.Errorf("control socket %s: another fetchd daemon is listening on it; stop it first (or give this one another RUNTIME_DIRECTORY)", path)
	}
	// Only a refused connection proves nobody listens; a timeout may be a
	// busy daemon, so leave its socket alone.
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control socket %s: cannot tell whether another daemon listens on it: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control socket: removing a stale socket: %w", err)
	}
	return nil
}
