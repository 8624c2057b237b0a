package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// probeTimeout bounds each attempt of Find to reach a daemon.
const probeTimeout = 2 * time.Second

// maxResponse bounds what the client reads of an answer.
const maxResponse = 32 << 20

// Client talks to a daemon's control socket.
type Client struct {
	socket string
	hc     *http.Client
}

// Dial returns a client of the daemon listening on socketPath. It does not
// connect: each request does. The socket is the only place it connects to,
// whatever the request's URL or the proxy environment.
func Dial(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		Proxy:           nil,
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socketPath, hc: &http.Client{Transport: tr}}
}

// Socket is the socket path the client talks to.
func (c *Client) Socket() string { return c.socket }

// StatusError is an answer other than 2xx from the daemon.
type StatusError struct {
	Method, Path string
	Code         int    // the HTTP status
	Message      string // the daemon's error text
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("fetchd daemon: %s %s: %d %s: %s", e.Method, e.Path, e.Code, http.StatusText(e.Code), e.Message)
}

// Unwrap makes a 404 from /poll, /resume or /import-state match ErrUnknownAccount.
func (e *StatusError) Unwrap() error {
	if e.Code == http.StatusNotFound && (e.Path == "/poll" || e.Path == "/resume" || e.Path == "/import-state") {
		return ErrUnknownAccount
	}
	return nil
}

// Status asks the daemon for its status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.call(ctx, http.MethodGet, "/status", nil, &st)
	return st, err
}

// Poll asks the daemon to poll; see PollRequest.
func (c *Client) Poll(ctx context.Context, req PollRequest) (PollResponse, error) {
	var resp PollResponse
	err := c.call(ctx, http.MethodPost, "/poll", req, &resp)
	return resp, err
}

// Resume asks the daemon to lift the pause of account. An account the
// daemon does not know gives an error matching ErrUnknownAccount.
func (c *Client) Resume(ctx context.Context, account string) error {
	return c.call(ctx, http.MethodPost, "/resume", ResumeRequest{Account: account}, nil)
}

// Get returns the body of a GET of path, such as "/metrics".
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, nil)
}

// call sends in (if not nil) as JSON and decodes the answer into out (if
// not nil).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("fetchd daemon: %s %s: %w", method, path, err)
		}
	}
	data, err := c.do(ctx, method, path, body)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("fetchd daemon at %s: %s %s: bad answer: %w", c.socket, method, path, err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	// The host is a placeholder: the transport always dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://fetchd"+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("fetchd daemon: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetchd daemon at %s: %s %s: %w", c.socket, method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("fetchd daemon at %s: %s %s: reading the answer: %w", c.socket, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e errorBody
		msg := string(bytes.TrimSpace(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, &StatusError{Method: method, Path: path, Code: resp.StatusCode, Message: msg}
	}
	return data, nil
}

// unwrapURLError drops url.Error's `Get "http://fetchd/status":`, which
// names a URL that exists only as a placeholder.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// Find returns a client of the daemon serving the state store at
// statePath, or nil and no error when none does. It tries the socket named
// by the store's pointer file, then the one in RuntimeDir(getenv), and
// accepts a daemon only if its status names the same store. A socket
// nobody listens on, a missing pointer or a daemon of another store is not
// an error; a daemon that answers but not with a status is.
func Find(ctx context.Context, statePath string, getenv func(string) string) (*Client, error) {
	type candidate struct {
		socket  string
		pointed bool // named by the store's pointer file
	}
	var cands []candidate
	if p, err := readPointer(statePath); err == nil {
		cands = append(cands, candidate{filepath.Clean(p.Socket), true})
	}
	// A pointer that cannot be read is ignored: it is a hint, and a daemon
	// that crashed while writing it must not lock the CLI out.
	def := filepath.Clean(filepath.Join(RuntimeDir(getenv), SocketName))
	if len(cands) == 0 || cands[0].socket != def {
		cands = append(cands, candidate{def, false})
	}
	for _, cand := range cands {
		c, err := probe(ctx, cand.socket, statePath)
		var unreachable *dialError
		if errors.As(err, &unreachable) && !cand.pointed {
			// The runtime directory is only a guess: a socket there we may
			// not use (another user's daemon) is not ours to report.
			continue
		}
		if err != nil || c != nil {
			return c, err
		}
	}
	return nil, nil
}

// dialError is a socket that exists but could not be connected to for
// another reason than nobody listening (permission, timeout).
type dialError struct {
	socket string
	err    error
}

func (e *dialError) Error() string { return fmt.Sprintf("fetchd daemon at %s: %v", e.socket, e.err) }
func (e *dialError) Unwrap() error { return e.err }

// probe returns a client of the daemon on socket if it serves statePath;
// nil, nil if nothing listens there or the daemon serves another store.
func probe(ctx context.Context, socket, statePath string) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil // a dead or missing socket
		}
		return nil, &dialError{socket, err}
	}
	conn.Close()
	c := Dial(socket)
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st.State == "" {
		return nil, fmt.Errorf("fetchd daemon at %s: its status names no state store", socket)
	}
	if !sameFile(st.State, statePath) {
		return nil, nil
	}
	return c, nil
}

// sameFile reports whether the daemon's state path and ours name the same
// store. A relative path of ours is taken from our working directory when
// the daemon's is absolute.
func sameFile(daemon, ours string) bool {
	if filepath.Clean(daemon) == filepath.Clean(ours) {
		return true
	}
	if filepath.IsAbs(daemon) && !filepath.IsAbs(ours) {
		if abs, err := filepath.Abs(ours); err == nil {
			return abs == filepath.Clean(daemon)
		}
	}
	return false
}
